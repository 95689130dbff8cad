"""market backup → market restore into a fresh database → both verifies pass;
market keys rotate keeps every CPR number readable. On the suite's database kind."""

import asyncio
import json
import tarfile

from sqlalchemy import select
from typer.testing import CliRunner

from market import crypto
from market.admin_tasks import unit_of_work
from market.audit.models import AuditEvent
from market.cli import app
from market.migrations import upgrade
from market.operations import repository
from tests.conftest import TEST_SECRET
from tests.market.operations.conftest import CPRS, seed_citizens
from vouchers import service as vouchers

runner = CliRunner()
NEW_SECRET = "a-brand-new-secret-key-for-rotation-0123456789"


def test_backup_then_restore_into_a_fresh_database_passes_both_verifies(
    new_database, use_database, tmp_path
):
    source = new_database()
    upgrade(source)
    settings = use_database(source)
    asyncio.run(seed_citizens(settings))
    (settings.upload_dir / "evidence").mkdir(parents=True)
    (settings.upload_dir / "evidence" / "abc.pdf").write_bytes(b"%PDF-1.4 evidence")
    archive = tmp_path / "backup.tar.gz"

    made = runner.invoke(app, ["backup", str(archive)])
    assert made.exit_code == 0, made.output
    with tarfile.open(archive) as tar:
        names = tar.getnames()
        manifest = json.load(tar.extractfile("manifest.json"))
    assert "uploads/evidence/abc.pdf" in names
    assert manifest["migration"] is not None
    assert all(len(f["sha256"]) == 64 for f in manifest["files"])
    assert TEST_SECRET not in archive.read_bytes().decode("latin-1")

    target = new_database()
    use_database(target, uploads="restored-uploads")
    restored = runner.invoke(app, ["restore", str(archive)])
    assert restored.exit_code == 0, restored.output
    assert "The voucher ledger balances." in restored.output
    assert "The audit chain is intact." in restored.output
    assert (tmp_path / "restored-uploads" / "evidence" / "abc.pdf").read_bytes() == (
        b"%PDF-1.4 evidence"
    )

    again = runner.invoke(app, ["restore", str(archive)])
    assert again.exit_code == 2 and "not empty" in again.output


def test_restore_refuses_a_damaged_archive(new_database, use_database, tmp_path):
    source = new_database()
    upgrade(source)
    use_database(source)
    archive = tmp_path / "backup.tar.gz"
    assert runner.invoke(app, ["backup", str(archive)]).exit_code == 0
    damaged = tmp_path / "damaged.tar.gz"
    with tarfile.open(archive) as tar, tarfile.open(damaged, "w:gz") as out:
        for member in tar.getmembers():
            data = tar.extractfile(member).read()
            if member.name.startswith("database"):
                data = data[:-10] + b"0123456789"
            import io

            out.addfile(member, io.BytesIO(data))
    use_database(new_database())
    result = runner.invoke(app, ["restore", str(damaged)])
    assert result.exit_code == 2 and "checksum" in result.output


def test_keys_rotate_keeps_every_cpr_readable(new_database, use_database):
    url = new_database()
    upgrade(url)
    settings = use_database(url)
    totp_secret = asyncio.run(seed_citizens(settings))

    refused = runner.invoke(app, ["keys", "rotate"])
    assert refused.exit_code == 2 and "MARKET_OLD_SECRET_KEYS" in refused.output

    use_database(url, secret=NEW_SECRET, MARKET_OLD_SECRET_KEYS=TEST_SECRET)
    rotated = runner.invoke(app, ["keys", "rotate"])
    assert rotated.exit_code == 0, rotated.output
    assert "3 CPR numbers" in rotated.output and "1 second-factor" in rotated.output

    async def read_back() -> tuple[list[str], list[str], str]:
        async with unit_of_work(settings) as session:
            citizens = await repository.all_citizens(session)
            plain = [crypto.decrypt(NEW_SECRET, c.cpr_encrypted) for c in citizens]
            hashes = [c.cpr_hash for c in citizens]
            (user,) = await repository.users_with_second_factor(session)
            return plain, hashes, crypto.decrypt(NEW_SECRET, user.totp_secret_encrypted)

    async def rotations() -> int:
        async with unit_of_work(settings) as session:
            found = await session.execute(
                select(AuditEvent).where(AuditEvent.action == "secret_key.rotated")
            )
            return len(found.scalars().all())

    plain, hashes, totp = asyncio.run(read_back())
    assert sorted(plain) == sorted(c.replace("-", "") for c in CPRS)
    assert sorted(hashes) == sorted(vouchers.cpr_hash(NEW_SECRET, p) for p in plain)
    assert totp == totp_secret
    assert runner.invoke(app, ["audit", "verify"]).exit_code == 0
    assert asyncio.run(rotations()) == 1  # the rotation is in the audit chain

    # Run twice (e.g. after an interruption): everything is already under the new key.
    assert runner.invoke(app, ["keys", "rotate"]).exit_code == 0
    # A wrong old key changes nothing and says so.
    use_database(
        url, secret="yet-another-secret-key-0123456789-abcdef", MARKET_OLD_SECRET_KEYS="x" * 40
    )
    wrong = runner.invoke(app, ["keys", "rotate"])
    assert wrong.exit_code == 1 and "nothing was changed" in wrong.output
    assert asyncio.run(read_back())[0] == plain
