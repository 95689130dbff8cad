"""Backups: the database (SQLite's online backup API, or pg_dump's custom format)
and the upload folder in one tar archive, with a manifest of SHA-256 checksums.
The secret key is never in it: keep it apart, without it no CPR number can be read."""

import asyncio
import hashlib
import io
import json
import os
import shutil
import sqlite3
import subprocess
import tarfile
import tempfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from sqlalchemy import inspect
from sqlalchemy.engine import URL, Connection, make_url

from market.config import Settings
from market.db import create_engine, utcnow

FORMAT = "velfaerdsmarked-backup/1"
MANIFEST = "manifest.json"
SQLITE_MEMBER = "database.sqlite3"
PG_MEMBER = "database.pgdump"
UPLOADS = "uploads"


class BackupError(Exception):
    """A sentence for the operator: a bad archive, a database that is not empty, a tool missing."""


@dataclass
class BackupReport:
    path: Path
    database: str
    files: int
    bytes: int


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _libpq(url: URL) -> tuple[list[str], dict[str, str]]:
    """pg_dump/pg_restore connection arguments; the password goes in the environment."""
    args = ["--host", url.host or "localhost", "--port", str(url.port or 5432)]
    if url.username:
        args += ["--username", url.username]
    env = dict(os.environ)
    if url.password:
        env["PGPASSWORD"] = str(url.password)
    return args, env


def _run(command: list[str], env: dict[str, str]) -> None:
    try:
        done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    except FileNotFoundError as exc:
        raise BackupError(
            f"{command[0]} is not installed (Debian: apt-get install postgresql-client)."
        ) from exc
    if done.returncode != 0:
        raise BackupError(f"{command[0]} failed: {done.stderr.strip()[:500]}")


def _dump_database(settings: Settings, into: Path) -> tuple[str, str]:
    url = make_url(settings.database_url)
    if url.get_backend_name() == "sqlite":
        target = into / SQLITE_MEMBER
        source = sqlite3.connect(f"file:{url.database}?mode=ro", uri=True)
        try:
            destination = sqlite3.connect(target)
            with destination:
                source.backup(destination)
            destination.close()
        except sqlite3.OperationalError as exc:
            raise BackupError(f"cannot read the SQLite file {url.database}: {exc}") from exc
        finally:
            source.close()
        return "sqlite", SQLITE_MEMBER
    args, env = _libpq(url)
    target = into / PG_MEMBER
    _run(
        [
            "pg_dump",
            "--format=custom",
            "--no-owner",
            "--no-privileges",
            *args,
            "--file",
            str(target),
            url.database or "",
        ],
        env,
    )
    return "postgresql", PG_MEMBER


async def _inspect(settings: Settings) -> tuple[bool, str | None]:
    """(no tables at all, the migration revision)."""
    from alembic.migration import MigrationContext

    engine = create_engine(settings)

    def look(connection: Connection) -> tuple[bool, str | None]:
        empty = not inspect(connection).get_table_names()
        return empty, None if empty else MigrationContext.configure(
            connection
        ).get_current_revision()

    try:
        async with engine.connect() as connection:
            return await connection.run_sync(look)
    finally:
        await engine.dispose()


def backup(settings: Settings, archive: Path) -> BackupReport:
    if archive.exists():
        raise BackupError(f"{archive} exists already; choose a new file name.")
    with tempfile.TemporaryDirectory(prefix="market-backup-") as work:
        staging = Path(work)
        _, revision = asyncio.run(_inspect(settings))
        kind, member = _dump_database(settings, staging)
        files: list[dict[str, Any]] = [
            {
                "path": member,
                "sha256": _sha256(staging / member),
                "size": (staging / member).stat().st_size,
            }
        ]
        upload_dir = settings.upload_dir
        uploads = (
            sorted(p for p in upload_dir.rglob("*") if p.is_file()) if upload_dir.is_dir() else []
        )
        for path in uploads:
            relative = path.relative_to(upload_dir).as_posix()
            files.append(
                {
                    "path": f"{UPLOADS}/{relative}",
                    "sha256": _sha256(path),
                    "size": path.stat().st_size,
                }
            )
        manifest = {
            "format": FORMAT,
            "created_at": utcnow().isoformat(),
            "database": kind,
            "migration": revision,
            "files": files,
        }
        archive.parent.mkdir(parents=True, exist_ok=True)
        partial = archive.with_name(archive.name + ".partial")
        with tarfile.open(partial, "w:gz") as tar:
            data = json.dumps(manifest, indent=2).encode()
            info = tarfile.TarInfo(MANIFEST)
            info.size, info.mtime, info.mode = len(data), int(utcnow().timestamp()), 0o600
            tar.addfile(info, io.BytesIO(data))
            tar.add(staging / member, arcname=member)
            for path in uploads:
                tar.add(path, arcname=f"{UPLOADS}/{path.relative_to(upload_dir).as_posix()}")
        os.chmod(partial, 0o600)
        partial.rename(archive)
        return BackupReport(
            path=archive, database=kind, files=len(uploads), bytes=archive.stat().st_size
        )


def _safe_member(name: str) -> PurePosixPath:
    path = PurePosixPath(name)
    if path.is_absolute() or ".." in path.parts or not path.parts:
        raise BackupError(f"the archive holds an unsafe path: {name!r}")
    return path


def _is_empty(settings: Settings) -> bool:
    url = make_url(settings.database_url)
    if url.get_backend_name() == "sqlite" and (not url.database or not Path(url.database).exists()):
        return True
    return asyncio.run(_inspect(settings))[0]


def restore(settings: Settings, archive: Path) -> dict[str, Any]:
    """Into an empty database only; every checksum is checked before anything is written."""
    if not archive.is_file():
        raise BackupError(f"no backup file at {archive}")
    try:
        tar = tarfile.open(archive, "r:gz")
    except (tarfile.TarError, OSError) as exc:
        raise BackupError(f"{archive} is not a backup made by market backup ({exc}).") from exc
    with tar, tempfile.TemporaryDirectory(prefix="market-restore-") as work:
        staging = Path(work)
        manifest = _read_manifest(tar, archive)
        _unpack_checked(tar, manifest, staging)
        kind = _check_target(settings, manifest)
        uploads = [e for e in manifest["files"] if PurePosixPath(e["path"]).parts[0] == UPLOADS]
        _check_upload_folder(settings, uploads)
        _restore_database(settings, kind, staging)
        for entry in uploads:
            target = _upload_target(settings, entry)
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(staging / entry["path"], target)
        return {"database": kind, "files": len(uploads), "created_at": manifest["created_at"]}


def _read_manifest(tar: tarfile.TarFile, archive: Path) -> dict[str, Any]:
    try:
        manifest_file = tar.extractfile(MANIFEST)
        if manifest_file is None:
            raise KeyError(MANIFEST)
        manifest: dict[str, Any] = json.load(manifest_file)
    except (KeyError, json.JSONDecodeError) as exc:
        raise BackupError(f"{archive} has no readable manifest.") from exc
    if manifest.get("format") != FORMAT:
        raise BackupError(f"{archive} is in an unknown format {manifest.get('format')!r}.")
    return manifest


def _unpack_checked(tar: tarfile.TarFile, manifest: dict[str, Any], staging: Path) -> None:
    """Every file the manifest lists, into ``staging``, each checked against its checksum."""
    for entry in manifest["files"]:
        relative = _safe_member(entry["path"])
        member = tar.extractfile(str(relative))
        if member is None:
            raise BackupError(f"{relative} is listed in the manifest but missing.")
        target = staging / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        with target.open("wb") as out:
            shutil.copyfileobj(member, out)
        if _sha256(target) != entry["sha256"]:
            raise BackupError(f"{relative} does not match its checksum: the archive is damaged.")


def _check_target(settings: Settings, manifest: dict[str, Any]) -> str:
    """The kind of database ("sqlite" or "postgresql"), when it matches the
    backup's and is empty."""
    kind = (
        "sqlite" if make_url(settings.database_url).get_backend_name() == "sqlite" else "postgresql"
    )
    if manifest["database"] != kind:
        raise BackupError(
            f"the backup holds a {manifest['database']} database, "
            f"MARKET_DATABASE_URL names a {kind} one."
        )
    if not _is_empty(settings):
        raise BackupError("the database is not empty; restore only into a new, empty database.")
    return kind


def _upload_target(settings: Settings, entry: dict[str, Any]) -> Path:
    return settings.upload_dir / PurePosixPath(*PurePosixPath(entry["path"]).parts[1:])


def _check_upload_folder(settings: Settings, uploads: list[dict[str, Any]]) -> None:
    for entry in uploads:
        target = _upload_target(settings, entry)
        if target.exists() and _sha256(target) != entry["sha256"]:
            raise BackupError(f"{target} exists with other content; use an empty upload folder.")


def _restore_database(settings: Settings, kind: str, staging: Path) -> None:
    url = make_url(settings.database_url)
    if kind == "sqlite":
        assert url.database
        Path(url.database).parent.mkdir(parents=True, exist_ok=True)
        source = sqlite3.connect(staging / SQLITE_MEMBER)
        destination = sqlite3.connect(url.database)
        try:
            with destination:
                source.backup(destination)
        finally:
            source.close()
            destination.close()
        return
    args, env = _libpq(url)
    _run(
        [
            "pg_restore",
            "--no-owner",
            "--no-privileges",
            "--exit-on-error",
            *args,
            "--dbname",
            url.database or "",
            str(staging / PG_MEMBER),
        ],
        env,
    )
