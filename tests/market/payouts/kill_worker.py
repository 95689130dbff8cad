"""The payout worker as its own process, for the killed-process test:

    python -m tests.market.payouts.kill_worker DATABASE_URL LEDGER [--kill] [--later MINUTES]
        [--stripe BASE]

Its gateway keeps its transfers in a JSON file (the "bank" outlives the
process) and does NOT deduplicate by key, so a second transfer under the same
key would show as a second entry; with --stripe it is the real StripeGateway
against the test Stripe at BASE instead. With --kill the process SIGKILLs
itself right after the gateway made the transfer, before anything is recorded."""

import asyncio
import json
import os
import signal
import sys
from datetime import timedelta
from pathlib import Path

from market.config import Settings
from market.db import create_engine, create_sessionmaker, utcnow
from market.payouts import service


class FileGateway:
    name = "file"

    def __init__(self, ledger: Path, kill: bool) -> None:
        self.ledger = ledger
        self.kill = kill

    def _read(self) -> list[dict]:
        return json.loads(self.ledger.read_text()) if self.ledger.exists() else []

    async def find_transfer(self, *, idempotency_key: str) -> str | None:
        for entry in self._read():
            if entry["idempotency_key"] == idempotency_key:
                return entry["id"]
        return None

    async def transfer(
        self, *, amount_ore: int, destination: str, idempotency_key: str, metadata: dict
    ) -> str:
        entries = self._read()
        transfer_id = f"tr_file_{len(entries) + 1}"
        entries.append(
            {
                "id": transfer_id,
                "amount_ore": amount_ore,
                "destination": destination,
                "idempotency_key": idempotency_key,
                "metadata": metadata,
            }
        )
        with self.ledger.open("w") as fh:
            json.dump(entries, fh)
            fh.flush()
            os.fsync(fh.fileno())
        if self.kill:
            os.kill(os.getpid(), signal.SIGKILL)
        return transfer_id


class KillAfterStripe:
    """The real StripeGateway, killed right after Stripe made the transfer."""

    name = "stripe"

    def __init__(self, settings: Settings, kill: bool) -> None:
        from market.payments.stripe_gateway import StripeGateway

        self.inner = StripeGateway(settings)
        self.kill = kill

    async def find_transfer(self, *, idempotency_key: str) -> str | None:
        return await self.inner.find_transfer(idempotency_key=idempotency_key)

    async def transfer(self, **kwargs: object) -> str:
        reference = await self.inner.transfer(**kwargs)  # type: ignore[arg-type]
        if self.kill:
            os.kill(os.getpid(), signal.SIGKILL)
        return reference


async def main(
    url: str, ledger: str, kill: bool, later_minutes: int, stripe_base: str | None
) -> None:
    settings = Settings(environment="test", database_url=url, secret_key="x" * 48)
    gateway: object = FileGateway(Path(ledger), kill)
    if stripe_base:
        from pydantic import SecretStr

        from tests.stripe_server import STRIPE_TEST_API_KEY

        settings = settings.model_copy(
            update={
                "payment_gateway": "stripe",
                "stripe_api_key": SecretStr(STRIPE_TEST_API_KEY),
                "stripe_api_base": stripe_base,
                "stripe_max_network_retries": 0,
            }
        )
        gateway = KillAfterStripe(settings, kill)
    engine = create_engine(settings)
    try:
        report = await service.send_transfers(
            create_sessionmaker(engine),
            settings=settings,
            gateway=gateway,  # type: ignore[arg-type]
            now=utcnow() + timedelta(minutes=later_minutes),
        )
    finally:
        await engine.dispose()
    print(json.dumps({"paid": report.paid, "retrying": report.retrying, "failed": report.failed}))


if __name__ == "__main__":
    args = sys.argv[1:]
    later = int(args[args.index("--later") + 1]) if "--later" in args else 0
    base = args[args.index("--stripe") + 1] if "--stripe" in args else None
    asyncio.run(main(args[0], args[1], "--kill" in args, later, base))
