"""The menu pages: a provider admin adds meals with a photo (only real images,
within the size limit, nothing stored when refused), the photo is served to
anyone signed in, and the ordering profile with the webhook's signing secret."""

import io

from PIL import Image
from sqlalchemy import func, select

from providers.models import Offer, OrderingProfile
from tests.factories import login, post_form

ADMIN = "chef@godekoekken.dk"


def jpeg(width: int = 800, height: int = 600) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), (200, 120, 40)).save(buffer, format="JPEG")
    return buffer.getvalue()


MEAL = {
    "name": "Boller i karry",
    "description": "Med ris",
    "diet_forms": ["normal", "soft"],
    "allergens": ["milk", "celery"],
    "weekdays": ["1", "2", "3"],
    "daily_capacity": "40",
    "active": "yes",
}


def photo_dir(settings):
    return settings.upload_dir / "offer-photos"


def files_in(settings) -> set[str]:
    folder = photo_dir(settings)
    return {p.name for p in folder.iterdir()} if folder.exists() else set()


async def offer_count(session) -> int:
    return (await session.execute(select(func.count()).select_from(Offer))).scalar_one()


async def test_admin_adds_a_meal_with_a_photo_and_anyone_signed_in_sees_it(
    client, session, world, settings
):
    await login(client, ADMIN)
    form = await client.get("/provider/offers/new")
    assert form.status_code == 200
    assert 'enctype="multipart/form-data"' in form.text and "Cereals containing gluten" in form.text
    before = files_in(settings)
    response = await post_form(
        client,
        "/provider/offers/new",
        MEAL,
        files={"photo": ("boller.jpg", jpeg(), "image/jpeg")},
    )
    assert response.status_code == 303, response.text
    offer = (await session.execute(select(Offer))).scalars().one()
    assert (offer.name, offer.diet_forms, offer.allergens) == (
        "Boller i karry",
        ["normal", "soft"],
        ["celery", "milk"],
    )
    assert (offer.weekdays, offer.daily_capacity, offer.active) == ("1,2,3", 40, True)
    assert len(files_in(settings) - before) == 2  # the photo and its thumbnail, as WebP
    listing = await client.get("/provider/offers")
    assert (
        "Boller i karry" in listing.text and f"/offers/{offer.id}/photo?thumbnail=1" in listing.text
    )

    client.cookies.clear()
    await login(client, "sagsbehandler@aarhus.dk")
    for url in (f"/offers/{offer.id}/photo", f"/offers/{offer.id}/photo?thumbnail=1"):
        photo = await client.get(url)
        assert photo.status_code == 200
        assert photo.headers["content-type"] == "image/webp"
        assert "max-age" in photo.headers["cache-control"]
        assert photo.content[:4] == b"RIFF" and photo.content[8:12] == b"WEBP"
        with Image.open(io.BytesIO(photo.content)) as image:
            assert max(image.size) <= (480 if "thumbnail" in url else 1600)
    client.cookies.clear()
    anonymous = await client.get(f"/offers/{offer.id}/photo")
    assert anonymous.status_code == 303 and anonymous.headers["location"].startswith("/login")


async def test_a_fake_image_is_415_and_nothing_is_stored(client, session, world, settings):
    await login(client, ADMIN)
    before, count = files_in(settings), await offer_count(session)
    response = await post_form(
        client,
        "/provider/offers/new",
        MEAL,
        files={"photo": ("menu.jpg", b"<script>alert(1)</script> not a picture", "image/jpeg")},
    )
    assert response.status_code == 415
    assert "Photos must be JPEG, PNG or WebP images." in response.text
    assert 'value="Boller i karry"' in response.text  # what was typed is kept
    assert files_in(settings) == before and await offer_count(session) == count


async def test_an_oversized_photo_is_413_and_nothing_is_stored(client, session, world, settings):
    await login(client, ADMIN)
    before, count = files_in(settings), await offer_count(session)
    too_big = jpeg() + b"\0" * settings.max_upload_bytes
    response = await post_form(
        client, "/provider/offers/new", MEAL, files={"photo": ("big.jpg", too_big, "image/jpeg")}
    )
    assert response.status_code == 413
    assert "The photo is too large. Photos may be at most 5 MB." in response.text
    assert files_in(settings) == before and await offer_count(session) == count


async def test_missing_diet_form_is_refused_and_editing_changes_the_meal(
    client, session, world, settings
):
    await login(client, ADMIN)
    refused = await post_form(client, "/provider/offers/new", {**MEAL, "diet_forms": []})
    assert refused.status_code == 422
    assert "Say which diet forms the meal is made in." in refused.text
    created = await post_form(client, "/provider/offers/new", MEAL)
    assert created.status_code == 303
    offer_id = (await session.execute(select(Offer.id))).scalar_one()
    page = await client.get(f"/provider/offers/{offer_id}")
    assert 'id="allergen-milk" name="allergens" value="milk" checked' in page.text
    changed = await post_form(
        client,
        f"/provider/offers/{offer_id}",
        {**MEAL, "name": "Boller i karry (ny)", "active": ""},
    )
    assert changed.status_code == 303
    offer = (await session.execute(select(Offer))).scalars().one()
    await session.refresh(offer)
    assert offer.name == "Boller i karry (ny)" and offer.active is False
    no_photo = await client.get(f"/offers/{offer_id}/photo")
    assert no_photo.status_code == 404 and "That meal is not on the menu." in no_photo.text


async def test_staff_cannot_change_the_menu(client, world):
    await login(client, "kok@godekoekken.dk")
    assert (await client.get("/provider/offers")).status_code == 403
    assert (await post_form(client, "/provider/offers/new", MEAL)).status_code == 403


async def test_ordering_profile_shows_the_signing_secret_once_there_is_a_webhook(
    client, session, world
):
    await login(client, ADMIN)
    page = await client.get("/provider/ordering")
    assert page.status_code == 200 and "Signing secret" not in page.text
    values = {
        "cutoff_days_before": "1",
        "cutoff_time": "14:00",
        "window_start": "11:00",
        "window_end": "13:00",
        "accept_within_hours": "4",
        "auto_accept": "yes",
        "webhook_url": "https://koekken.example/hooks/velfaerd",
    }
    bad = await post_form(client, "/provider/ordering", {**values, "window_end": "10:00"})
    assert bad.status_code == 422 and "The delivery window must end after it starts." in bad.text
    saved = await post_form(client, "/provider/ordering", values)
    assert saved.status_code == 303
    profile = (await session.execute(select(OrderingProfile))).scalars().one()
    assert profile.auto_accept is True and profile.webhook_secret
    page = await client.get("/provider/ordering")
    assert profile.webhook_secret in page.text and "X-Velfaerd-Signature" in page.text
