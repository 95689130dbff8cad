"""Go-live: a municipality adopts the product on an empty database, through the
command line and the pages only (no demo seed, no service calls), as its IT
department would. Runs on SQLite and, with MARKET_TEST_DB=postgresql, on a
fresh PostgreSQL database of its own.

The command line runs as a subprocess (exactly what an operator types); the
pages are driven over ASGI with the CSRF token every form carries; e-mail goes
through `market tick` to a real SMTP server (aiosmtpd); the second factor the
municipality requires is set up by every member of staff. The clock is moved
(time-machine) only to deliver the order and to let its month end."""

import asyncio
import email
import os
import re
import socket
import ssl
import sys
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from email import policy
from pathlib import Path

import httpx
import pyotp
import pytest
import time_machine
from aiosmtpd.controller import Controller

from market.app import create_app
from market.audit import keys
from market.clock import COPENHAGEN, first_of_month, last_of_month, today
from market.config import Settings
from tests.conftest import TEST_SECRET, _make_database, _pg_admin
from tests.smtp_servers import self_signed

MARKET = str(Path(sys.executable).parent / "market")
PLATFORM = "it@velfaerd.example"
FIRST_ADMIN = "anne.admin@skanderborg.example"
SECOND_ADMIN = "bo.admin@skanderborg.example"
CASE_WORKER = "sara.sagsbehandler@skanderborg.example"
KITCHEN = "kok@koekkenet.example"
PASSWORDS = {
    PLATFORM: "platform-password-1",
    FIRST_ADMIN: "anne-password-12",
    SECOND_ADMIN: "bo-password-1234",
    CASE_WORKER: "sara-password-123",
    KITCHEN: "kitchen-password-1",
}


class Inbox:
    def __init__(self) -> None:
        self.messages: list[email.message.EmailMessage] = []

    async def handle_DATA(self, server, session, envelope):
        self.messages.append(email.message_from_bytes(envelope.content, policy=policy.default))
        return "250 Message accepted for delivery"

    def link_for(self, address: str, kind: str) -> str:
        for message in reversed(self.messages):
            if address in str(message["To"]):
                body = message.get_body(preferencelist=("plain",)).get_content()
                match = re.search(rf"https://skanderborg\.example(/{kind}/[\w-]+)", body)
                if match:
                    return match.group(1)
        raise AssertionError(f"no {kind} e-mail to {address} in {len(self.messages)} messages")


@pytest.fixture
def smtp(tmp_path: Path) -> Iterator[tuple[int, Inbox, Path]]:
    """A mail server that insists on STARTTLS, as the product does by default."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    cert, key = self_signed(tmp_path)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    inbox = Inbox()
    controller = Controller(
        inbox, hostname="127.0.0.1", port=port, tls_context=context, require_starttls=True
    )
    controller.start()
    try:
        yield port, inbox, cert
    finally:
        controller.stop()


@pytest.fixture(autouse=True)
def same_audit_key_as_the_commands() -> Iterator[None]:
    """The commands run with MARKET_SECRET_KEY=TEST_SECRET and key the audit chain
    with it; the app in this process must hash with the same key (a process's
    audit key comes from its environment, as in production)."""
    with keys.using_keys(Settings(environment="test", secret_key=TEST_SECRET)):
        yield


@pytest.fixture
def empty_database(tmp_path: Path) -> Iterator[str]:
    url, pg_name = _make_database(tmp_path)
    yield url
    if pg_name:
        asyncio.run(_pg_admin(f'DROP DATABASE IF EXISTS "{pg_name}" WITH (FORCE)'))


async def market(env: dict[str, str], *args: str, expect: int = 0) -> str:
    process = await asyncio.create_subprocess_exec(
        MARKET,
        *args,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    out, _ = await process.communicate()
    text = out.decode()
    assert process.returncode == expect, f"market {' '.join(args)} → {process.returncode}\n{text}"
    return text


class Browser:
    """One person's browser: cookies, and the CSRF token every form carries."""

    def __init__(self, app) -> None:
        self.client = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://testserver"
        )
        self.totp: pyotp.TOTP | None = None

    async def get(self, url: str, expect: int = 200) -> httpx.Response:
        response = await self.client.get(url)
        assert response.status_code == expect, f"GET {url} → {response.status_code}"
        return response

    async def post(self, url: str, data: dict | None = None, expect: int = 303) -> httpx.Response:
        if "market_csrf" not in self.client.cookies:
            await self.client.get("/login")
        body = {**(data or {}), "csrf_token": self.client.cookies["market_csrf"]}
        response = await self.client.post(url, data=body)
        assert response.status_code == expect, (
            f"POST {url} → {response.status_code}: {_main(response.text)[:1500]}"
        )
        return response

    async def set_up_second_factor(self) -> None:
        page = await self.get("/account/second-factor")
        secret = re.search(r"<code>([A-Z2-7 ]+)</code>", page.text).group(1)  # type: ignore[union-attr]
        self.totp = pyotp.TOTP(secret.replace(" ", ""))
        await self.post("/account/second-factor", {"code": self.totp.now()})

    async def sign_in(self, address: str) -> None:
        done = await self.post(
            "/login", {"email": address, "password": PASSWORDS[address], "next": "/"}
        )
        if done.headers["location"] == "/login/second-factor":
            assert self.totp is not None, f"{address} has no second factor set up"
            await self.post("/login/second-factor", {"code": self.totp.now()})

    async def accept_invitation(self, path: str, name: str, address: str) -> None:
        form = await self.get(path)
        assert address in form.text
        accepted = await self.post(
            path,
            {
                "full_name": name,
                "password": PASSWORDS[address],
                "password_again": PASSWORDS[address],
            },
        )
        # The municipality requires a second factor: it is set up before anything else.
        assert accepted.headers["location"] == "/login/second-factor"
        blocked = await self.client.get("/citizens")
        assert blocked.status_code in (303, 401)
        await self.set_up_second_factor()


def _main(html: str) -> str:
    return html.split("<main", 1)[-1].split("</main>", 1)[0]


def _id(pattern: str, text: str) -> int:
    match = re.search(pattern, text)
    assert match, f"{pattern!r} not found"
    return int(match.group(1))


async def test_a_municipality_goes_live_from_an_empty_database(
    empty_database: str, smtp: tuple[int, Inbox, Path], tmp_path: Path
) -> None:
    port, inbox, smtp_cert = smtp
    env = {
        **os.environ,
        "MARKET_ENVIRONMENT": "test",
        "MARKET_DATABASE_URL": empty_database,
        "MARKET_SECRET_KEY": TEST_SECRET,
        "MARKET_UPLOAD_DIR": str(tmp_path / "uploads"),
        "MARKET_SMTP_HOST": "127.0.0.1",
        "MARKET_SMTP_PORT": str(port),
        "MARKET_SMTP_CA_FILE": str(smtp_cert),
        "MARKET_PUBLIC_URL": "https://skanderborg.example",
    }
    await market(env, "db", "upgrade")
    this_year = today().year

    # 1. The platform admin sets up the municipality and signs in.
    await market(env, "municipalities", "list")
    await market(
        env,
        "municipalities",
        "create",
        "0746",
        "--name",
        "Skanderborg Kommune",
        "--postal-code",
        "8660 Skanderborg",
        "--postal-code",
        "8680 Ry",
        "--contact-phone",
        "+45 87 94 70 00",
        "--opening-hours",
        "Hverdage 8–15",
        "--oncall-email",
        "vagt@skanderborg.example",
        "--cap",
        f"{this_year}=61,00",
        "--cap",
        f"{this_year + 1}=63,00",
        "--iban",
        "DK5000400440116243",
        "--bic",
        "DABADKKK",
    )
    listed = await market(env, "municipalities", "list")
    assert "0746  Skanderborg Kommune" in listed and "+45 87 94 70 00" in listed
    # The same code twice is refused with a sentence, and nothing is half-written.
    again = await market(
        env, "municipalities", "create", "0746", "--name", "X", "--postal-code", "8660 X",
        "--contact-phone", "+45 11 22 33 44", "--opening-hours", "Altid", expect=2,
    )  # fmt: skip
    assert "0746" in again and "Traceback" not in again
    await market(
        env, "users", "create", PLATFORM, "--full-name", "Ida IT", "--role", "platform_admin",
        "--password", PASSWORDS[PLATFORM],
    )  # fmt: skip

    settings = Settings(
        environment="test",
        database_url=empty_database,
        secret_key=TEST_SECRET,
        upload_dir=tmp_path / "uploads",
        smtp_host="127.0.0.1",
        smtp_port=port,
        smtp_ca_file=smtp_cert,
        public_url="https://skanderborg.example",
    )
    app = create_app(settings)
    people = {who: Browser(app) for who in ("it", "anne", "bo", "sara", "kitchen")}
    it, anne, bo, sara, kitchen = people.values()
    try:
        await it.sign_in(PLATFORM)
        overview = await it.get("/municipalities")
        municipality_id = _id(r'href="/municipalities/(\d+)"', overview.text)
        await it.get(f"/municipalities/{municipality_id}")

        # 2. The platform admin invites the first admin, who accepts by e-mail.
        await it.post(
            "/people/invite",
            {"email": FIRST_ADMIN, "role": "municipal_admin", "municipality_id": municipality_id},
            expect=201,
        )
        await market(env, "tick")  # delivers the outbox: the invitation goes out by e-mail
        await anne.accept_invitation(
            inbox.link_for(FIRST_ADMIN, "invitation"), "Anne Admin", FIRST_ADMIN
        )
        # 3. She invites a case worker and a second admin (four eyes on settlements).
        for address, role in ((CASE_WORKER, "case_worker"), (SECOND_ADMIN, "municipal_admin")):
            await anne.post("/people/invite", {"email": address, "role": role}, expect=201)
        await market(env, "tick")
        await sara.accept_invitation(
            inbox.link_for(CASE_WORKER, "invitation"), "Sara Sagsbehandler", CASE_WORKER
        )
        await bo.accept_invitation(
            inbox.link_for(SECOND_ADMIN, "invitation"), "Bo Admin", SECOND_ADMIN
        )
        staff = await anne.get("/people")
        for name in ("Anne Admin", "Sara Sagsbehandler", "Bo Admin"):
            assert name in staff.text
        # The municipality's profile can be changed later, on a page.
        await anne.post(
            f"/municipalities/{municipality_id}",
            {
                "name": "Skanderborg Kommune",
                "postal_codes": "8660 Skanderborg\n8680 Ry",
                "contact_phone": "+45 87 94 70 00",
                "opening_hours": "Hverdage 8–15, torsdag til 17",
                "oncall_email": "vagt@skanderborg.example",
                "require_staff_totp": "yes",
            },
        )

        # 4. The admin publishes a quality standard.
        created = await anne.post(
            "/standards", {"service": "madservice", "title": "Madservice 2027"}
        )
        standard = created.headers["location"]
        await anne.post(
            f"{standard}/requirements",
            {
                "key": "food-safety",
                "title": "Fødevaregodkendelse",
                "description": "Køkkenet er godkendt af Fødevarestyrelsen.",
                "kind": "attestation",
                "mandatory": "yes",
            },
        )
        await anne.post(f"{standard}/publish")

        # 5. A provider registers and applies; the admin approves it.
        await kitchen.post(
            "/providers/register",
            {
                "name": "Køkkenet i Ry ApS",
                "cvr": "12345674",
                "address": "Søvej 1",
                "postal_code": "8680",
                "city": "Ry",
                "contact_name": "Karl Kok",
                "contact_email": "kontakt@koekkenet.example",
                "contact_phone": "+45 86 89 10 10",
                "admin_email": KITCHEN,
                "admin_full_name": "Karl Kok",
                "admin_password": PASSWORDS[KITCHEN],
            },
        )
        started = await kitchen.post("/provider/applications", {"municipality_id": municipality_id})
        application = started.headers["location"]
        form = await kitchen.get(application)
        requirement = _id(r'name="attested_(\d+)"', form.text)
        await kitchen.post(
            application,
            {
                f"attested_{requirement}": "yes",
                f"statement_{requirement}": "Godkendt, se kontrolrapporten.",
                "action": "submit",
            },
        )
        application_id = int(application.rsplit("/", 1)[1])
        await anne.post(
            f"/applications/{application_id}/decisions", {f"decision_{requirement}": "met"}
        )
        start = today()
        await anne.post(
            f"/applications/{application_id}/approve",
            {
                "valid_from": start.isoformat(),
                "valid_to": (start + timedelta(days=365)).isoformat(),
                "service_area": "8660 8680",
                "daily_capacity": "40",
                "unit_price": "85,00",
            },
        )
        await kitchen.post(
            "/provider/offers/new",
            {
                "name": "Frikadeller med kartofler",
                "description": "Hjemmelavede frikadeller, nye kartofler og brun sovs.",
                "diet_forms": "normal",
                "weekdays": [str(n) for n in range(1, 8)],
                "active": "yes",
            },
        )

        # 6. The case worker registers a citizen and grants a voucher.
        citizen = await sara.post(
            "/citizens/new",
            {
                "full_name": "Else Ry",
                "cpr": "010145-1234",
                "address": "Skovvej 3",
                "postal_code": "8680",
                "phone": "+45 20 30 40 50",
                "language": "da",
                "diet_form": "normal",
            },
        )
        citizen_path = citizen.headers["location"]
        await sara.post(
            f"{citizen_path}/grants/new",
            {
                "units_per_week": "7",
                "valid_from": start.isoformat(),
                "valid_to": (start + timedelta(days=180)).isoformat(),
                "copayment": "55,00",
                "diet_form": "normal",
                "reassess_on": (start + timedelta(days=170)).isoformat(),
            },
        )

        # 7. She orders by telephone for the citizen; the kitchen accepts.
        day = start + timedelta(days=3)
        catalogue = await sara.get(f"{citizen_path}/order/{day.isoformat()}")
        offer_id = _id(r'name="offer_id" value="(\d+)"', catalogue.text)
        placed = await sara.post(
            f"{citizen_path}/order/{day.isoformat()}",
            {"offer_id": offer_id, "idempotency_key": "go-live-first-order"},
        )
        order_id = int(placed.headers["location"].split("?")[0].rsplit("/", 1)[1])
        await kitchen.post("/kitchen/accept", {"day": day.isoformat(), "order_ids": [order_id]})

        # 8. On the day the kitchen delivers it.
        delivery_time = datetime.combine(day, datetime.min.time().replace(hour=11, minute=30))
        with time_machine.travel(delivery_time.replace(tzinfo=COPENHAGEN), tick=True):
            await kitchen.sign_in(KITCHEN)  # yesterday's session has ended
            await kitchen.post(
                "/kitchen/out-for-delivery", {"day": day.isoformat(), "order_ids": [order_id]}
            )
            await kitchen.post(f"/kitchen/orders/{order_id}/delivered", {"day": day.isoformat()})

        # 9. The month ends: one admin settles it, the other approves it.
        month = first_of_month(day)
        after = datetime.combine(last_of_month(month) + timedelta(days=2), datetime.min.time())
        key = month.strftime("%Y-%m")
        with time_machine.travel(after.replace(hour=9, tzinfo=UTC), tick=True):
            await anne.sign_in(FIRST_ADMIN)
            await anne.post("/settlement/run", {"month": key})
            # The one who prepared it cannot approve it.
            await anne.post(f"/settlement/months/{key}/approve", expect=403)
            await bo.sign_in(SECOND_ADMIN)
            await bo.post(f"/settlement/months/{key}/approve")
            # Nothing is left to approve: the statement is approved, once.
            await bo.post(f"/settlement/months/{key}/approve", expect=409)
            statement_page = await bo.get(f"/settlement/months/{key}")
            assert "Køkkenet i Ry ApS" in statement_page.text
            assert "85,00" in statement_page.text
    finally:
        for browser in people.values():
            await browser.client.aclose()
        if app.state.engine is not None:
            await app.state.engine.dispose()

    # 10. The operator's checks pass on what was built.
    assert "intact" in await market(env, "audit", "verify")
    assert "balances" in await market(env, "vouchers", "verify")
    assert date.today()  # the clock is back
