"""create_app(settings): the one place that sees every package."""

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import Depends, FastAPI
from fastapi.staticfiles import StaticFiles

from market import api_docs, errors, openapi, pages, privacy, tick
from market.audit import pages as audit_pages
from market.audit import router as audit_router
from market.auth import pages as auth_pages
from market.auth.middleware import CsrfCookieMiddleware
from market.community import pages as community_pages
from market.community import router as community_router
from market.config import Settings, get_settings
from market.copayments import pages as copayment_pages
from market.copayments import router as copayment_router
from market.dashboard import pages as dashboard_pages
from market.db import (
    SessionProvider,
    UnitOfWorkMiddleware,
    create_engine,
    create_sessionmaker,
    sessions_from,
)
from market.finance import pages as finance_pages
from market.finance import router as finance_router
from market.headers import SecurityHeadersMiddleware
from market.i18n import LanguageMiddleware
from market.identity import pages as identity_pages
from market.identity.oidc import OidcClient
from market.onboarding import pages as onboarding_pages
from market.operations import pages as operations_pages
from market.operations.logs import RequestContextMiddleware
from market.orders import pages as order_pages
from market.orders import router as order_router
from market.orders.citizen import pages as order_citizen_pages
from market.payments import pages as payment_pages
from market.payments import router as payment_router
from market.payouts import pages as payout_pages
from market.payouts import router as payout_router
from market.people import pages as people_pages
from market.settlement import pages as settlement_pages
from market.settlement import router as settlement_router
from market.supervision import pages as supervision_pages
from market.text_input import refuse_unstorable_text
from providers import pages as provider_pages
from providers import router as provider_router
from vouchers import pages as voucher_pages
from vouchers import router as voucher_router

STATIC_DIR = Path(__file__).resolve().parent.parent / "static"


def create_app(
    settings: Settings | None = None, session_provider: SessionProvider | None = None
) -> FastAPI:
    """``session_provider`` lets tests run every request inside one rolled-back
    transaction; normally sessions come from the app's own engine."""
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        periodic = None
        if settings.run_periodic and app.state.sessionmaker is not None:
            periodic = asyncio.create_task(tick.run_forever(settings, app.state.sessionmaker))
        yield
        if periodic is not None:
            periodic.cancel()
        if app.state.engine is not None:
            await app.state.engine.dispose()

    app = FastAPI(
        title="Velfærdsmarked",
        version="0.1.0",
        description="Voucher marketplace for municipal welfare services. JSON API under /api/v1.",
        lifespan=lifespan,
        # /docs is served by market.api_docs (no CDN); ReDoc has no local bundle.
        docs_url=None,
        redoc_url=None,
        dependencies=[
            # First: text no database can store is refused before anything reads it.
            Depends(refuse_unstorable_text),
            # A CPR number in a query string is refused before anything else runs.
            Depends(privacy.refuse_cpr_in_url),
            # The open welfare alerts badge in the menu (one COUNT, for alert staff only).
            Depends(order_pages.alert_badge),
        ],
    )
    _attach_state(app, settings, session_provider)
    errors.install_handlers(app)
    _add_middleware(app, settings)
    _include_routes(app)
    openapi.install(app)
    return app


def _attach_state(
    app: FastAPI, settings: Settings, session_provider: SessionProvider | None
) -> None:
    """The settings, the OpenID Connect client and where sessions come from."""
    app.state.settings = settings
    # One OpenID Connect client per app: it caches providers' metadata and keys.
    app.state.oidc = OidcClient(
        allow_loopback=settings.oidc_loopback_allowed,
        clock_skew_seconds=settings.oidc_clock_skew_seconds,
    )
    app.state.engine = app.state.sessionmaker = None
    if session_provider is None:
        engine = create_engine(settings)
        app.state.engine = engine
        app.state.sessionmaker = create_sessionmaker(engine)
        session_provider = sessions_from(app.state.sessionmaker)
    app.state.session_provider = session_provider


def _add_middleware(app: FastAPI, settings: Settings) -> None:
    # Added innermost first: the unit of work runs inside the language and CSRF layers.
    app.add_middleware(UnitOfWorkMiddleware, provider=lambda: app.state.session_provider)
    app.add_middleware(CsrfCookieMiddleware, secure=settings.cookie_secure)
    app.add_middleware(LanguageMiddleware, default=settings.default_language)
    app.add_middleware(
        SecurityHeadersMiddleware,
        hsts_seconds=0 if settings.tls_terminated_by_proxy else settings.hsts_seconds,
    )
    # Its timing and request id cover every layer inside it.
    app.add_middleware(RequestContextMiddleware)
    # Outermost: a CPR number is taken out of the query string before anything,
    # the request log included, sees it.
    app.add_middleware(privacy.CprInUrlMiddleware)


def _include_routes(app: FastAPI) -> None:
    app.mount(api_docs.ASSETS, api_docs.assets(), name="swagger-ui")
    app.mount("/static", StaticFiles(directory=str(STATIC_DIR)), name="static")
    for router in (
        pages.router,
        api_docs.router,
        auth_pages.router,
        identity_pages.router,
        audit_pages.router,
        audit_router.router,
        provider_pages.router,
        provider_router.router,
        voucher_pages.router,
        voucher_router.router,
        order_pages.router,
        order_router.router,
        supervision_pages.router,
        settlement_pages.router,
        settlement_router.router,
        payment_pages.router,
        payment_router.router,
        payout_pages.router,
        payout_router.router,
        copayment_pages.router,
        copayment_router.router,
        dashboard_pages.router,
        onboarding_pages.router,
        people_pages.router,
        finance_pages.router,
        finance_router.router,
        operations_pages.router,
        community_pages.router,
        community_router.router,
    ):
        app.include_router(router)
    # "My orders" shows planned visits and booked seats (orders import no community).
    order_citizen_pages.MY_ORDERS_SECTIONS["community"] = community_pages.my_orders_section
