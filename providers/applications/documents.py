"""Evidence documents: an upload is read up to the size limit, sniffed,
parsed in full (a PDF parses, an image decodes) and stored under a random
name; only the provider's own users and the municipality applied to read it."""

import asyncio
import hashlib
import io
import re
import secrets
from dataclasses import dataclass
from pathlib import Path, PurePosixPath, PureWindowsPath
from typing import Protocol

import filetype
import pypdf
from sqlalchemy.ext.asyncio import AsyncSession

from market import images
from market.auth.permissions import Actor
from market.config import Settings
from market.errors import (
    N_,
    InvalidInput,
    UnsupportedMediaType,
)
from providers import repository as rows
from providers.applications import repository
from providers.common import (
    PendingFile,
    may_see_application,
)
from providers.exceptions import (
    RequirementNotFound,
    UploadDamaged,
    UploadNotFound,
    UploadTooLarge,
    UploadTypeNotAllowed,
)
from providers.models import (
    Application,
    EvidenceUpload,
)

ALLOWED_UPLOAD_TYPES = {
    "application/pdf": "pdf",
    "image/png": "png",
    "image/jpeg": "jpg",
    "image/webp": "webp",
}


UPLOAD_CHUNK = 64 * 1024


class Readable(Protocol):
    async def read(self, size: int = -1) -> bytes: ...


@dataclass
class DocumentIn:
    """An uploaded file as the route received it; nothing about it is trusted."""

    requirement_id: int
    filename: str
    content: Readable


def _original_filename(filename: str) -> str:
    # Browsers on Windows used to send the full path; keep only the last part.
    name = PureWindowsPath(PurePosixPath(filename or "").name).name
    name = re.sub(r"[\x00-\x1f\x7f]", "", name).strip()
    return (name or "document")[:255]


async def _read_limited(content: Readable, limit: int) -> bytes:
    """Reads in chunks and stops as soon as the limit is passed."""
    chunks: list[bytes] = []
    size = 0
    while chunk := await content.read(UPLOAD_CHUNK):
        size += len(chunk)
        if size > limit:
            raise UploadTooLarge(f"{limit / (1024 * 1024):g}")
        chunks.append(chunk)
    return b"".join(chunks)


def _check_pdf(data: bytes) -> None:
    """Parses the whole document: a %PDF header in front of anything else
    (HTML, a script) is not a PDF."""
    try:
        reader = pypdf.PdfReader(io.BytesIO(data), strict=True)
        if len(reader.pages) < 1:
            raise UploadDamaged()
        for page in reader.pages:
            page.get_contents()
    except UploadDamaged:
        raise
    except Exception as exc:  # pypdf raises many kinds on a broken file
        raise UploadDamaged() from exc


async def check_document(data: bytes, mime: str) -> None:
    """An evidence document is what its first bytes claim, read in full: an
    image decodes (its pixels counted before they are decoded), a PDF parses.
    In a worker thread: decoding blocks."""
    if mime == "application/pdf":
        await asyncio.to_thread(_check_pdf, data)
    else:
        try:
            await asyncio.to_thread(images.check_image, data)
        except UnsupportedMediaType as exc:
            raise UploadDamaged() from exc


async def accept_document(
    session: AsyncSession,
    *,
    actor: Actor,
    settings: Settings,
    application: Application,
    requirement_ids: set[int],
    document: DocumentIn,
) -> tuple[EvidenceUpload, PendingFile]:
    if document.requirement_id not in requirement_ids:
        raise RequirementNotFound()
    data = await _read_limited(document.content, settings.max_upload_bytes)
    if not data:
        raise InvalidInput(N_("The file {filename} is empty."), filename=document.filename)
    kind = filetype.guess(data)
    if kind is None or kind.mime not in ALLOWED_UPLOAD_TYPES:
        raise UploadTypeNotAllowed()
    await check_document(data, kind.mime)
    storage_name = f"{secrets.token_urlsafe(24)}.{ALLOWED_UPLOAD_TYPES[kind.mime]}"
    assert application.id is not None
    upload = await rows.add(
        session,
        EvidenceUpload(
            provider_id=application.provider_id,
            application_id=application.id,
            requirement_id=document.requirement_id,
            original_filename=_original_filename(document.filename),
            content_type=kind.mime,
            size_bytes=len(data),
            sha256=hashlib.sha256(data).hexdigest(),
            storage_name=storage_name,
            uploaded_by_user_id=actor.user_id,
        ),
    )
    return upload, PendingFile(path=Path(settings.upload_dir) / storage_name, data=data)


@dataclass
class StoredDocument:
    upload: EvidenceUpload
    content: bytes


async def read_document(
    session: AsyncSession, *, actor: Actor, settings: Settings, upload_id: int
) -> StoredDocument:
    """The document, for the provider's own users and the staff of the
    municipality applied to; anybody else is told it does not exist."""
    upload = await repository.get_upload(session, upload_id)
    if upload is None:
        raise UploadNotFound()
    application = await repository.get_application(session, upload.application_id)
    if application is None or not may_see_application(actor, application):
        raise UploadNotFound()
    path = Path(settings.upload_dir) / upload.storage_name
    try:
        content = await asyncio.to_thread(path.read_bytes)
    except FileNotFoundError as exc:
        raise UploadNotFound() from exc
    return StoredDocument(upload=upload, content=content)
