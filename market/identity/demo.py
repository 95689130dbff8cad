"""`market demo --identity-provider`: a mock OpenID Connect provider
(oidc-provider-mock, a development dependency) on a free loopback port, serving
as Aarhus's MitID broker and staff login, with one-click demo people: Karen
(whose CPR claim matches the demo citizen) and the case worker Susanne (her
subject already bound). Nothing here runs unless the demo asks for it."""

import asyncio
import threading
import warnings

from market.admin_tasks import unit_of_work
from market.auth import repository as auth_repository
from market.config import Settings
from market.identity import repository, service
from market.identity.models import Audience
from market.municipalities import repository as municipality_repository

SUBSTANTIAL = "https://data.gov.dk/concept/core/nsis/loa/Substantial"
CITIZEN_SUBJECT = "karen-mitid"
STAFF_SUBJECT = "susanne-entra"
STAFF_EMAIL = "sagsbehandler@aarhus.example"


def start_provider(citizen_cpr: str) -> str | None:
    """Starts the provider in a daemon thread; returns its issuer, or None when
    the package is not installed (``make install-dev`` installs it)."""
    try:
        with warnings.catch_warnings():
            # It imports authlib's older JOSE module, which warns on import.
            warnings.simplefilter("ignore", DeprecationWarning)
            import oidc_provider_mock
            import werkzeug.serving
    except ImportError:
        return None
    people = [
        oidc_provider_mock.User(
            sub=CITIZEN_SUBJECT,
            claims={service.CITIZEN_CPR_CLAIM: citizen_cpr, "acr": SUBSTANTIAL},
        ),
        oidc_provider_mock.User(sub=STAFF_SUBJECT, claims={"amr": ["pwd", "mfa"]}),
    ]
    app = oidc_provider_mock.app(require_nonce=True, user_claims=people)
    # The package wraps itself in werkzeug's interactive debugger: never in a demo.
    app.wsgi_app = app.wsgi_app.app
    app.debug = False
    server = werkzeug.serving.make_server("127.0.0.1", 0, app, threaded=True)
    threading.Thread(target=server.serve_forever, name="demo-oidc", daemon=True).start()
    return f"http://127.0.0.1:{server.server_port}"


async def configure(settings: Settings, issuer: str) -> None:
    async with unit_of_work(settings) as session:
        aarhus = await municipality_repository.get_by_code(session, "0751")
        assert aarhus is not None and aarhus.id is not None
        for audience in Audience:
            await service.configure_provider(
                session,
                settings=settings,
                actor=None,
                municipality_id=aarhus.id,
                data=service.ProviderSettings(
                    audience=audience,
                    issuer=issuer,
                    client_id=f"velfaerdsmarked-demo-{audience}",
                    client_secret="demo-client-secret",
                    mfa_acr_values=SUBSTANTIAL if audience == Audience.CITIZEN else "",
                    mfa_amr_values="mfa" if audience == Audience.STAFF else "",
                ),
            )
        provider = await repository.provider_for(session, aarhus.id, Audience.STAFF)
        worker = await auth_repository.get_user_by_email(session, STAFF_EMAIL)
        assert provider is not None and worker is not None
        await service.bind_subject(
            session, user=worker, provider=provider, subject=STAFF_SUBJECT, via="demo"
        )


def start(settings: Settings) -> list[str]:
    """Starts and configures the demo provider; returns lines for the visitor."""
    from vouchers.demo import AARHUS_PEOPLE

    issuer = start_provider(AARHUS_PEOPLE[0].cpr)
    if issuer is None:
        return [
            "The demo identity provider needs the development tools: run `make install-dev`,",
            "then `market demo --identity-provider` (see docs/identity.md).",
        ]
    asyncio.run(configure(settings, issuer))
    return [
        f"Demo identity provider (MitID broker and staff login for Aarhus): {issuer}",
        f"  On /login choose “Log ind med MitID” and pick {CITIZEN_SUBJECT} (Karen),",
        f"  or “Log ind som medarbejder” and pick {STAFF_SUBJECT} (the case worker).",
    ]
