"""Uploads are what they say, checked all the way before anything is stored:
an evidence image is decoded in full (its pixel count checked before it is
decoded), a PDF is parsed; a refused file leaves no row and no file; a
replaced or refused menu photo leaves no file behind; and the image work runs
in a worker thread, not on the event loop."""

import io
import struct
import threading
import zlib
from pathlib import Path

import pytest
from PIL import Image
from pypdf import PdfWriter
from sqlalchemy import select

from providers import service
from providers.models import Offer
from tests.factories import login, post_form
from tests.providers.applications.test_uploads import draft_url, save_with_files, upload_count  # noqa: F401
from tests.providers.offers.test_offers import MEAL, files_in, jpeg, offer_count


def real_pdf() -> bytes:
    writer = PdfWriter()
    writer.add_blank_page(width=595, height=842)
    buffer = io.BytesIO()
    writer.write(buffer)
    return buffer.getvalue()


def png_header_only(width: int, height: int) -> bytes:
    """A PNG that claims width × height pixels: a decompression bomb's header."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(b"\x00" * 64))
        + chunk(b"IEND", b"")
    )


def stored(directory: Path) -> set[str]:
    return {p.name for p in directory.rglob("*") if p.is_file()} if directory.exists() else set()


BAD_DOCUMENTS = {
    "truncated.jpg": jpeg(1200, 900)[:4000],
    "bomb.png": png_header_only(20_000, 20_000),
    "html.pdf": b"%PDF-1.7\n<html><script>alert(document.cookie)</script></html>\n",
}


@pytest.mark.parametrize("filename", sorted(BAD_DOCUMENTS))
async def test_evidence_that_does_not_decode_or_parse_is_refused_and_leaves_nothing(
    client,
    session,
    settings,
    aarhus_standard,
    draft_url,  # noqa: F811 (the fixture imported above)
    filename,
):
    before = stored(settings.upload_dir)
    response = await save_with_files(
        client,
        draft_url,
        aarhus_standard,
        {f"document_{aarhus_standard.allergens.id}": (filename, BAD_DOCUMENTS[filename], "")},
    )
    assert response.status_code in (413, 415, 422), response.text[:300]
    assert await upload_count(session) == 0
    assert stored(settings.upload_dir) == before


async def test_a_real_pdf_and_a_real_image_are_accepted(
    client,
    session,
    settings,
    aarhus_standard,
    draft_url,  # noqa: F811 (the fixture imported above)
):
    before = stored(settings.upload_dir)
    response = await save_with_files(
        client,
        draft_url,
        aarhus_standard,
        {f"document_{aarhus_standard.allergens.id}": ("smiley.pdf", real_pdf(), "")},
    )
    assert response.status_code == 303, response.text[:300]
    response = await save_with_files(
        client,
        draft_url,
        aarhus_standard,
        {f"document_{aarhus_standard.allergens.id}": ("smiley.jpg", jpeg(), "")},
    )
    assert response.status_code == 303, response.text[:300]
    assert await upload_count(session) == 2
    assert len(stored(settings.upload_dir) - before) == 2


async def test_a_replaced_menu_photo_leaves_no_file_behind(client, session, world, settings):
    await login(client, "chef@godekoekken.dk")
    before = files_in(settings)
    created = await post_form(
        client, "/provider/offers/new", MEAL, files={"photo": ("a.jpg", jpeg(), "image/jpeg")}
    )
    assert created.status_code == 303, created.text[:300]
    offer = (await session.execute(select(Offer))).scalar_one()
    first = files_in(settings) - before
    assert len(first) == 2
    replaced = await post_form(
        client,
        f"/provider/offers/{offer.id}",
        MEAL,
        files={"photo": ("b.jpg", jpeg(640, 480), "image/jpeg")},
    )
    assert replaced.status_code == 303, replaced.text[:300]
    now = files_in(settings) - before
    assert len(now) == 2 and not (now & first)


async def test_a_photo_for_an_offer_that_is_refused_stores_no_file(session, world, settings):
    from tests.providers.conftest import actor

    chef = actor(world, "provider_admin")
    before = files_in(settings)
    with pytest.raises(Exception) as refused:
        await service.save_offer(
            session,
            actor=chef,
            settings=settings,
            offer_id=10**6,  # no such offer
            name="Frikadeller",
            description="",
            diet_forms=["normal"],
            allergens=[],
            weekdays=[1],
            daily_capacity=None,
            photo=jpeg(),
        )
    assert getattr(refused.value, "status_code", None) == 404
    assert files_in(settings) == before
    assert await offer_count(session) == 0


async def test_photo_work_runs_off_the_event_loop(session, world, settings, monkeypatch):
    """The real decoder, observed: it must run in a worker thread."""
    from market import images
    from tests.providers.conftest import actor

    threads: list[int] = []
    real = images.process_photo

    def observed(data: bytes, *, max_bytes: int) -> images.Photo:
        threads.append(threading.get_ident())
        return real(data, max_bytes=max_bytes)

    monkeypatch.setattr(images, "process_photo", observed)
    loop_thread = threading.get_ident()
    await service.save_offer(
        session,
        actor=actor(world, "provider_admin"),
        settings=settings,
        offer_id=None,
        name="Frikadeller",
        description="",
        diet_forms=["normal"],
        allergens=[],
        weekdays=[1],
        daily_capacity=None,
        photo=jpeg(),
    )
    assert threads and loop_thread not in threads


async def test_an_evidence_image_is_checked_off_the_event_loop(settings, monkeypatch):
    from market import images

    threads: list[int] = []
    real = images.check_image

    def observed(data: bytes) -> None:
        threads.append(threading.get_ident())
        real(data)

    monkeypatch.setattr(images, "check_image", observed)
    await service.check_document(jpeg(), "image/jpeg")
    assert threads and threading.get_ident() not in threads
    with pytest.raises(Exception) as refused:
        await service.check_document(b"%PDF-1.4\nnot really\n", "application/pdf")
    assert getattr(refused.value, "status_code", None) == 415
    Image.open(io.BytesIO(jpeg())).verify()  # the fixture itself is a real JPEG
