"""Evidence documents: sniffed type, size limit, stored outside the database,
served only to those allowed to see the application."""

import hashlib
from pathlib import Path

import pytest
from sqlalchemy import func, select

from market.auth.models import Role
from providers.models import EvidenceUpload
from tests.factories import login, make_provider, make_user, post_form
from tests.providers.conftest import PDF, PNG, submitted_application

EXE = b"MZ\x90\x00\x03\x00\x00\x00\x04\x00" + b"\x00" * 200


def files_in(directory: Path) -> set[str]:
    return {p.name for p in Path(directory).iterdir()} if Path(directory).exists() else set()


async def upload_count(session) -> int:
    return (await session.execute(select(func.count()).select_from(EvidenceUpload))).scalar_one()


@pytest.fixture
async def draft_url(client, world, aarhus_standard) -> str:
    await login(client, "chef@godekoekken.dk")
    started = await post_form(
        client, "/provider/applications", {"municipality_id": str(world.municipality.id)}
    )
    assert started.status_code == 303
    return started.headers["location"]


async def save_with_files(client, url: str, std, files: dict) -> object:
    return await post_form(
        client, url, {f"statement_{std.allergens.id}": "", "action": "save"}, files=files
    )


async def test_pdf_is_stored_with_metadata_outside_the_database(
    client, session, settings, aarhus_standard, draft_url
):
    before = files_in(settings.upload_dir)
    response = await save_with_files(
        client,
        draft_url,
        aarhus_standard,
        {
            f"document_{aarhus_standard.allergens.id}": (
                "C:\\Docs\\Allergener.pdf",
                PDF,
                "text/plain",
            )
        },
    )
    assert response.status_code == 303
    upload = (await session.execute(select(EvidenceUpload))).scalar_one()
    assert upload.content_type == "application/pdf"  # sniffed, not the browser's text/plain
    assert upload.original_filename == "Allergener.pdf"
    assert upload.size_bytes == len(PDF)
    assert upload.sha256 == hashlib.sha256(PDF).hexdigest()
    new = files_in(settings.upload_dir) - before
    assert new == {upload.storage_name}
    assert "Allergener" not in upload.storage_name
    assert (Path(settings.upload_dir) / upload.storage_name).read_bytes() == PDF


@pytest.mark.parametrize(
    ("filename", "content"),
    [("smiley.pdf", b"just some plain text pretending to be a PDF"), ("manual.pdf", EXE)],
)
async def test_wrong_type_is_415_and_leaves_nothing(
    client, session, settings, aarhus_standard, draft_url, filename, content
):
    before = files_in(settings.upload_dir)
    response = await save_with_files(
        client,
        draft_url,
        aarhus_standard,
        {f"document_{aarhus_standard.allergens.id}": (filename, content, "application/pdf")},
    )
    assert response.status_code == 415
    assert "Please upload a PDF, PNG, JPEG or WebP file." in response.text
    assert await upload_count(session) == 0
    assert files_in(settings.upload_dir) == before


async def test_one_bad_file_among_good_ones_stores_none(
    client, session, settings, aarhus_standard, draft_url
):
    before = files_in(settings.upload_dir)
    std = aarhus_standard
    response = await post_form(
        client,
        draft_url,
        {f"statement_{std.allergens.id}": "", "action": "save"},
        files=[
            (f"document_{std.allergens.id}", ("ok.pdf", PDF, "application/pdf")),
            (f"document_{std.attestation.id}", ("virus.png", EXE, "image/png")),
        ],
    )
    assert response.status_code == 415
    assert await upload_count(session) == 0
    assert files_in(settings.upload_dir) == before


async def test_oversized_upload_is_413_and_leaves_nothing(
    app, client, session, settings, aarhus_standard, draft_url
):
    app.state.settings = settings.model_copy(update={"max_upload_bytes": 1024})
    before = files_in(settings.upload_dir)
    field = f"document_{aarhus_standard.allergens.id}"
    big = PDF + b"0" * 2048
    response = await save_with_files(
        client, draft_url, aarhus_standard, {field: ("big.pdf", big, "application/pdf")}
    )
    assert response.status_code == 413
    assert "The file is too large" in response.text
    assert await upload_count(session) == 0
    assert files_in(settings.upload_dir) == before
    small = await post_form(
        client, draft_url, {"action": "save"}, files={field: ("small.png", PNG, "image/png")}
    )
    assert small.status_code == 303


async def test_download_only_for_those_allowed(client, session, world, settings, aarhus_standard):
    await submitted_application(session, world, aarhus_standard, settings)
    other = await make_provider(session, name="Konkurrenten ApS", cvr="12345674")
    await make_user(session, "chef@konkurrenten.dk", Role.PROVIDER_ADMIN, provider_id=other.id)
    upload = (await session.execute(select(EvidenceUpload))).scalar_one()
    upload_id = upload.id
    await session.commit()

    for email in (
        "chef@godekoekken.dk",
        "kok@godekoekken.dk",
        "admin@aarhus.dk",
        "revisor@aarhus.dk",
    ):
        await login(client, email)
        response = await client.get(f"/uploads/{upload_id}")
        assert response.status_code == 200, email
        assert response.content == PDF
        assert response.headers["content-type"] == "application/pdf"
        assert response.headers["x-content-type-options"] == "nosniff"
        assert response.headers["content-disposition"].startswith("attachment;")
        assert "allergener.pdf" in response.headers["content-disposition"]

    for email in ("chef@konkurrenten.dk", "admin@odense.dk"):
        await login(client, email)
        response = await client.get(f"/uploads/{upload_id}")
        assert response.status_code == 404, email
        assert PDF not in response.content
    assert (await client.get("/uploads/999999")).status_code == 404

    await login(client, "sagsbehandler@aarhus.dk")  # no evidence.view permission at all
    assert (await client.get(f"/uploads/{upload_id}")).status_code == 403
