"""A Stripe API for tests: localstripe (test-only, GPL) in a child process on
127.0.0.1, with what it lacks added here:

- Stripe Connect: ``POST/GET /v1/accounts``, ``POST/GET /v1/transfers`` (list
  filters by ``transfer_group`` and ``destination``);
- Idempotency-Key on every POST, as Stripe does it: the same key returns the
  first answer (errors included), the same key with other parameters is a 400
  ``idempotency_error``. localstripe itself ignores keys, so without this a
  test could not tell a retried call from a second payment;
- ``POST /_config/faults`` (``count``, ``status``, optional ``path``): the
  next ``count`` matching requests answer ``status`` without doing anything,
  for testing retries.

Each run gets its own server process and memory; nothing is written to
/tmp/localstripe.pickle. Use the fixtures from any test (they are imported by
tests/conftest.py):

    @pytest.mark.stripe
    async def test_x(stripe_settings, stripe_client): ...

``stripe_server`` (session) is the base address; ``stripe_reset`` (function)
empties localstripe's memory and the fault queue, and is used by
``stripe_settings`` (Settings with payment_gateway="stripe" pointing at the
server) and ``stripe_client`` (a real ``stripe.StripeClient``)."""

import hashlib
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

__all__ = [
    "STRIPE_TEST_API_KEY",
    "STRIPE_TEST_WEBHOOK_SECRET",
    "stripe_client",
    "stripe_reset",
    "stripe_server",
    "stripe_settings",
]

STRIPE_TEST_API_KEY = "sk_test_velfaerdsmarked"
STRIPE_TEST_WEBHOOK_SECRET = "whsec_test_velfaerdsmarked"
_ROOT = Path(__file__).resolve().parent.parent


# --------------------------------------------------------------------------
# The server (runs in the child process: `python -m tests.stripe_server`)
# --------------------------------------------------------------------------


def build_app():
    import random
    import string

    from aiohttp import web
    from localstripe import resources
    from localstripe.errors import UserError
    from localstripe.server import app, get_post_data, json_response, unflatten_data

    store = resources.store
    # One process per run, state in memory only: never share the pickle file.
    resources.Store.dump_to_disk = lambda self: None

    def new_id(prefix: str) -> str:
        return prefix + "".join(
            random.choice(string.ascii_letters + string.digits) for _ in range(16)
        )

    def stripe_error(status: int, message: str, type_: str = "invalid_request_error", **extra):
        return json_response({"error": {"type": type_, "message": message, **extra}}, status=status)

    def empty_list(url: str, data: list) -> dict:
        return {"object": "list", "url": url, "has_more": False, "data": data}

    @web.middleware
    async def faults(request, handler):
        queue = store.get("_faults") or []
        for fault in queue:
            if fault["count"] > 0 and request.path.startswith(fault.get("path") or "/v1/"):
                fault["count"] -= 1
                return stripe_error(fault["status"], "Injected fault.", type_="api_error")
        return await handler(request)

    @web.middleware
    async def idempotency(request, handler):
        key = request.headers.get("Idempotency-Key")
        if request.method != "POST" or not key or not request.path.startswith("/v1/"):
            return await handler(request)
        body = await request.read()
        fingerprint = hashlib.sha256(request.path.encode() + b"\n" + body).hexdigest()
        seen = store.get("idempotency:" + key)
        if seen is not None:
            if seen["fingerprint"] != fingerprint:
                return stripe_error(
                    400,
                    "Keys for idempotent requests can only be used with the same parameters "
                    "they were first used with.",
                    type_="idempotency_error",
                )
            response = web.Response(
                body=seen["body"], status=seen["status"], content_type="application/json"
            )
            response.headers["Idempotent-Replayed"] = "true"
            return response
        try:
            response = await handler(request)
        except UserError as exc:
            response = exc.to_response()
        if response.status < 500:
            dict.__setitem__(
                store,
                "idempotency:" + key,
                {"fingerprint": fingerprint, "status": response.status, "body": response.body},
            )
        return response

    async def configure_faults(request):
        data = await get_post_data(request) or {}
        queue = store.get("_faults") or []
        queue.append(
            {
                "count": int(data.get("count", 1)),
                "status": int(data.get("status", 500)),
                "path": data.get("path"),
            }
        )
        dict.__setitem__(store, "_faults", queue)
        return web.Response()

    # Connect accounts --------------------------------------------------------
    async def create_account(request):
        data = await get_post_data(request) or {}
        account = {
            "id": new_id("acct_"),
            "object": "account",
            "type": data.get("type", "custom"),
            "country": data.get("country", "DK"),
            "email": data.get("email"),
            "business_type": data.get("business_type"),
            "default_currency": data.get("default_currency", "dkk"),
            "charges_enabled": True,
            "payouts_enabled": True,
            "details_submitted": True,
            "capabilities": {"transfers": "active"},
            "metadata": data.get("metadata") or {},
            "created": int(time.time()),
            "livemode": False,
        }
        dict.__setitem__(store, "account:" + account["id"], account)
        return json_response(account)

    async def get_account(request):
        account = store.get("account:" + request.match_info["id"])
        if account is None:
            return stripe_error(404, f"No such account: '{request.match_info['id']}'")
        return json_response(account)

    # Connect transfers -------------------------------------------------------
    async def create_transfer(request):
        data = await get_post_data(request) or {}
        allowed = {"amount", "currency", "destination", "transfer_group", "metadata", "description"}
        unknown = set(data) - allowed
        if unknown:
            return stripe_error(400, "Received unknown parameter: " + ", ".join(sorted(unknown)))
        try:
            amount = int(data.get("amount"))
        except (TypeError, ValueError):
            return stripe_error(400, "Missing required param: amount.", param="amount")
        if amount <= 0:
            return stripe_error(400, "Amount must be at least 1 øre.", param="amount")
        if not data.get("currency"):
            return stripe_error(400, "Missing required param: currency.", param="currency")
        destination = data.get("destination")
        if not destination or store.get("account:" + destination) is None:
            return stripe_error(400, f"No such destination: '{destination}'", param="destination")
        transfer = {
            "id": new_id("tr_"),
            "object": "transfer",
            "amount": amount,
            "amount_reversed": 0,
            "balance_transaction": new_id("txn_"),
            "created": int(time.time()),
            "currency": data["currency"].lower(),
            "description": data.get("description"),
            "destination": destination,
            "destination_payment": new_id("py_"),
            "livemode": False,
            "metadata": data.get("metadata") or {},
            "reversals": empty_list("/v1/transfers/reversals", []),
            "reversed": False,
            "source_transaction": None,
            "source_type": "card",
            "transfer_group": data.get("transfer_group"),
        }
        dict.__setitem__(store, "transfer:" + transfer["id"], transfer)
        return json_response(transfer)

    async def get_transfer(request):
        transfer = store.get("transfer:" + request.match_info["id"])
        if transfer is None:
            return stripe_error(404, f"No such transfer: '{request.match_info['id']}'")
        return json_response(transfer)

    async def list_transfers(request):
        query = unflatten_data(request.query)
        transfers = [v for k, v in store.items() if k.startswith("transfer:")]
        for field in ("transfer_group", "destination"):
            if query.get(field):
                transfers = [t for t in transfers if t[field] == query[field]]
        transfers.sort(key=lambda t: t["created"], reverse=True)  # newest first, like Stripe
        limit = int(query.get("limit", 10))
        body = empty_list("/v1/transfers", transfers[:limit])
        body["has_more"] = len(transfers) > limit
        return json_response(body)

    # Added before the app is frozen by run_app; the idempotency middleware is
    # innermost (after authentication), faults just outside it.
    app.middlewares.append(faults)
    app.middlewares.append(idempotency)
    app.router.add_post("/_config/faults", configure_faults)
    app.router.add_post("/v1/accounts", create_account)
    app.router.add_get("/v1/accounts/{id}", get_account)
    app.router.add_post("/v1/transfers", create_transfer)
    app.router.add_get("/v1/transfers", list_transfers)
    app.router.add_get("/v1/transfers/{id}", get_transfer)
    return app


def main() -> None:
    from aiohttp import web

    app = build_app()
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    # The parent reads the port from our first line; no race for a free port.
    print(sock.getsockname()[1], flush=True)
    web.run_app(app, sock=sock, print=None, access_log=None)


# --------------------------------------------------------------------------
# The fixtures (run in pytest)
# --------------------------------------------------------------------------


def _request(base: str, method: str, path: str, data: dict | None = None) -> None:
    body = None if data is None else urllib.parse.urlencode(data).encode()
    req = urllib.request.Request(base + path, data=body, method=method)
    with urllib.request.urlopen(req, timeout=10) as response:
        response.read()


def inject_faults(base: str, *, count: int, status: int = 500, path: str = "/v1/") -> None:
    """The next ``count`` requests under ``path`` answer ``status``."""
    _request(
        base, "POST", "/_config/faults", {"count": str(count), "status": str(status), "path": path}
    )


@pytest.fixture(scope="session")
def stripe_server() -> Iterator[str]:
    """The base address of a localstripe of our own, for the whole run."""
    try:
        import localstripe  # noqa: F401
        import stripe  # noqa: F401
    except ImportError as exc:
        pytest.skip(f"localstripe and stripe are dev dependencies: {exc}")
    process = subprocess.Popen(
        [sys.executable, "-m", "tests.stripe_server"],
        cwd=_ROOT,
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(_ROOT)},
    )
    try:
        line = process.stdout.readline()
        if not line.strip().isdigit():
            raise RuntimeError(f"localstripe did not start (exit {process.poll()})")
        base = f"http://127.0.0.1:{int(line)}"
        deadline = time.monotonic() + 20
        while True:
            try:
                _request(base, "DELETE", "/_config/data")
                break
            except (urllib.error.URLError, ConnectionError):
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)
        yield base
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()


@pytest.fixture
def stripe_reset(stripe_server: str) -> str:
    """Empties localstripe (customers, intents, accounts, transfers, keys, faults)."""
    _request(stripe_server, "DELETE", "/_config/data")
    return stripe_server


@pytest.fixture
def stripe_settings(settings, stripe_reset: str):
    """The test Settings, with the Stripe gateway pointed at a fresh localstripe."""
    from pydantic import SecretStr

    return settings.model_copy(
        update={
            "payment_gateway": "stripe",
            "stripe_api_key": SecretStr(STRIPE_TEST_API_KEY),
            "stripe_api_base": stripe_reset,
            "stripe_webhook_secret": SecretStr(STRIPE_TEST_WEBHOOK_SECRET),
            "stripe_max_network_retries": 0,
        }
    )


@pytest.fixture
def stripe_client(stripe_reset: str):
    """The real SDK's client against the fresh localstripe."""
    import stripe

    return stripe.StripeClient(
        STRIPE_TEST_API_KEY, base_addresses={"api": stripe_reset}, max_network_retries=0
    )


if __name__ == "__main__":
    main()
