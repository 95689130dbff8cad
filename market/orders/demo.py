"""Demo data for ordering (called by market.demo.seed after providers and
vouchers): the approved provider's menu with photos and ordering profile, and
orders for today and the coming days in every state, with an open welfare alert."""

import io
from datetime import date, time, timedelta

from PIL import Image, ImageDraw
from sqlalchemy.ext.asyncio import AsyncSession

from market.auth import repository as auth_repository
from market.auth import service as auth_service
from market.auth.models import User
from market.auth.permissions import Actor
from market.clock import local_instant
from market.config import Settings
from market.db import utcnow
from market.errors import AppError
from market.municipalities.models import Municipality
from market.orders import service
from market.orders.fulfilment import pauses
from market.orders.models import FailureReason, Order
from providers import service as providers
from vouchers import service as vouchers
from vouchers.models import Citizen, VoucherGrant

MENU = [
    (
        "Frikadeller med kartofler og brun sovs",
        "Hjemmelavede frikadeller af svin og kalv.",
        ["normal", "soft", "energy_dense"],
        ["eggs", "milk", "gluten"],
        (190, 120, 70),
    ),
    (
        "Laksefrikadeller med dildsauce",
        "Med nye kartofler og agurkesalat.",
        ["normal", "soft", "minced"],
        ["fish", "eggs", "milk"],
        (235, 160, 120),
    ),
    (
        "Boller i karry med ris",
        "Klassisk karryret med kødboller og ris.",
        ["normal", "soft", "diabetic"],
        ["milk", "gluten", "celery"],
        (230, 200, 90),
    ),
    (
        "Kylling i tomat med ris",
        "Mild kyllingeret uden mælk, æg og gluten.",
        ["normal", "soft", "diabetic"],
        [],
        (200, 80, 60),
    ),
    (
        "Hønsekødssuppe, moset",
        "Glat suppe med høns og grønsager, blendet til purékost.",
        ["pureed", "energy_dense"],
        ["celery"],
        (240, 225, 170),
    ),
]


def _plate(color: tuple[int, int, int]) -> bytes:
    """A simple picture of a plate, so the demo shows photos without shipping any."""
    image = Image.new("RGB", (800, 600), (245, 241, 232))
    draw = ImageDraw.Draw(image)
    draw.ellipse((150, 50, 650, 550), fill=(255, 255, 255), outline=(210, 205, 195), width=8)
    draw.ellipse((240, 140, 560, 460), fill=color)
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=85)
    return buffer.getvalue()


PAUSED_CITIZEN = "Jørgen Mikkelsen"
DOOR_NOTES = {
    "Karen Margrethe Jensen": "Ring på to gange; hun hører dårligt.",
    "Poul Erik Andersen": "Nøgle i nøgleboks ved døren, kode fås hos kommunen.",
    "Inge Lise Pedersen": "Bagdøren ved carporten.",
}


async def seed(
    session: AsyncSession,
    *,
    municipalities: list[Municipality],
    users: dict[str, User],
    password: str,
    settings: Settings,
) -> list[tuple[str, str]]:
    aarhus = municipalities[0]
    kitchen_admin = await auth_repository.get_user_by_email(session, "admin@smagfuldt.example")
    kitchen_staff = await auth_repository.get_user_by_email(session, "kok@smagfuldt.example")
    if kitchen_admin is None or kitchen_staff is None:
        return []
    admin = auth_service.actor_for(kitchen_admin)
    staff = auth_service.actor_for(kitchen_staff)
    case_worker = auth_service.actor_for(users["sagsbehandler@aarhus.example"])

    await providers.save_ordering_profile(
        session,
        actor=admin,
        cutoff_days_before=1,
        cutoff_time=time(14, 0),
        window_start=time(11, 0),
        window_end=time(13, 0),
        accept_within_hours=6,
        auto_accept=False,
        webhook_url=None,
    )
    for name, description, forms, allergens, color in MENU:
        await providers.save_offer(
            session,
            actor=admin,
            settings=settings,
            offer_id=None,
            name=name,
            description=description,
            diet_forms=forms,
            allergens=allergens,
            weekdays=[1, 2, 3, 4, 5, 6, 7],
            daily_capacity=None,
            photo=_plate(color),
        )

    today = vouchers.today_in_copenhagen()
    yesterday_morning = local_instant(today - timedelta(days=1), time(9, 0))
    citizens = await vouchers.search_citizens(
        session, actor=case_worker, secret_key=settings.secret_key.get_secret_value(), query=""
    )
    diners = []
    for citizen in citizens:
        assert citizen.id is not None
        grant = await vouchers.active_grant_on(session, citizen_id=citizen.id, day=today)
        if grant is None or citizen.municipality_id != aarhus.id:
            continue
        found = await service.catalogue(
            session,
            actor=case_worker,
            citizen_id=citizen.id,
            delivery_on=today,
            now=yesterday_morning,
        )
        if found.entries:  # delivers to their postal code and fits their diet
            diners.append((citizen, grant))

    async def order(diner: int, day_offset: int, key: str, pick: int = 0) -> Order | None:
        citizen, _ = diners[diner % len(diners)]
        day = today + timedelta(days=day_offset)
        now = yesterday_morning if day_offset == 0 else utcnow()
        catalogue = await service.catalogue(
            session, actor=case_worker, citizen_id=citizen.id, delivery_on=day, now=now
        )
        if not catalogue.entries:
            return None
        entry = catalogue.entries[pick % len(catalogue.entries)]
        assert entry.offer.id is not None
        try:
            async with session.begin_nested():
                return await service.place_order(
                    session,
                    actor=case_worker,
                    citizen_id=citizen.id,
                    offer_id=entry.offer.id,
                    delivery_on=day,
                    idempotency_key=f"demo:{key}",
                    now=now,
                )
        except AppError:  # e.g. that week's units are taken: the demo simply skips it
            return None

    if not diners:
        return []
    await _past_months(
        session, diners=diners, case_worker=case_worker, staff=staff, settings=settings
    )
    # Today: delivered and rated, out for delivery, failed with the citizen absent
    # (an open welfare alert), and one accepted, still in the kitchen.
    delivered = await order(0, 0, "today-delivered")
    out = await order(1, 0, "today-out")
    absent = await order(2, 0, "today-absent")
    waiting = await order(0, 0, "today-accepted", pick=1)
    today_ids = [o.id for o in (delivered, out, absent, waiting) if o and o.id]
    await service.accept_orders(session, actor=staff, order_ids=today_ids)
    moving = [o.id for o in (delivered, out, absent) if o and o.id]
    await service.mark_out_for_delivery(session, actor=staff, order_ids=moving)
    if delivered and delivered.id:
        await service.mark_delivered(session, actor=staff, order_id=delivered.id)
        await service.rate_order(
            session,
            actor=case_worker,
            order_id=delivered.id,
            stars=5,
            comment="Dejlig mad, og chaufføren var meget venlig.",
        )
    if absent and absent.id:
        await service.mark_failed(
            session,
            actor=staff,
            order_id=absent.id,
            reason=FailureReason.CITIZEN_ABSENT,
            note="Ingen åbnede ved 3 forsøg; lys i vinduet.",
            settings=settings,
        )
    # Coming days: new orders for the kitchen to accept, one rejected, one cancelled.
    for offset in (1, 2, 3):
        for diner in range(len(diners)):
            await order(diner, offset, f"ahead-{offset}-{diner}", pick=offset)
    rejected = await order(1, 4, "ahead-rejected")
    if rejected and rejected.id:
        await service.reject_order(
            session,
            actor=staff,
            order_id=rejected.id,
            reason="Vi kan desværre ikke levere den dag.",
        )
    cancelled = await order(2, 4, "ahead-cancelled")
    if cancelled and cancelled.id:
        await service.cancel_order(session, actor=case_worker, order_id=cancelled.id)
    # Help on every citizen page (the municipality's own settings).
    aarhus.contact_phone = aarhus.contact_phone or "+45 89 40 20 00"
    aarhus.opening_hours = aarhus.opening_hours or "mandag til fredag kl. 8–15"
    # Door notes for the driver, and a citizen in hospital: the case worker
    # paused the meals from tomorrow, with no end date yet.
    for citizen, _ in diners:
        citizen.door_notes = DOOR_NOTES.get(citizen.full_name, "")
    await session.flush()
    paused = next((c for c, _ in diners if c.full_name == PAUSED_CITIZEN), None)
    if paused is not None:
        await pauses.register_pause(
            session,
            actor=case_worker,
            citizen_id=paused.id,
            reason="hospital",
            starts_on=today + timedelta(days=1),
            resumes_on=None,
        )
    return [
        ("orders: kitchen board (provider staff)", "kok@smagfuldt.example  /kitchen"),
        ("orders: today's route on a phone (provider staff)", "kok@smagfuldt.example  /driver"),
        (
            f"orders: {PAUSED_CITIZEN} is in hospital, meals paused (case worker)",
            "sagsbehandler@aarhus.example",
        ),
    ]


def past_month_days(today: date, months: int) -> list[date]:
    """Every day of the ``months`` whole months before today's month."""
    first_of_this_month = today.replace(day=1)
    start = first_of_this_month
    for _ in range(months):
        start = (start - timedelta(days=1)).replace(day=1)
    days = []
    day = start
    while day < first_of_this_month:
        days.append(day)
        day += timedelta(days=1)
    return days


async def _past_months(
    session: AsyncSession,
    *,
    diners: list[tuple[Citizen, VoucherGrant]],
    case_worker: Actor,
    staff: Actor,
    settings: Settings,
) -> None:
    """The last two months' meals for the citizens whose voucher covered them,
    placed and fulfilled through the order flow at the times they would have
    happened, with every outcome the settlement knows: on time, late, the
    provider's failure, the citizen absent (an alert, acknowledged), a late and
    a timely cancellation. The demo settles the earlier month and leaves the
    last one for the admin to run."""
    today = vouchers.today_in_copenhagen()
    # Only weeks that have ended: this week's voucher units are left for the
    # orders of today and the coming days (and for whoever tries the demo).
    this_monday = today - timedelta(days=today.weekday())
    days = [day for day in past_month_days(today, months=2) if day < this_monday]
    for index, day in enumerate(days):
        for number, (citizen, grant) in enumerate(diners):
            if not grant.valid_from <= day <= grant.valid_to:
                continue
            placed_at = local_instant(day - timedelta(days=2), time(9, 0))
            catalogue = await service.catalogue(
                session, actor=case_worker, citizen_id=citizen.id, delivery_on=day, now=placed_at
            )
            if not catalogue.entries:
                continue
            entry = catalogue.entries[(index + number) % len(catalogue.entries)]
            assert entry.offer.id is not None
            try:
                async with session.begin_nested():
                    order = await service.place_order(
                        session,
                        actor=case_worker,
                        citizen_id=citizen.id,
                        offer_id=entry.offer.id,
                        delivery_on=day,
                        idempotency_key=f"demo:last-month:{citizen.id}:{day.isoformat()}",
                        now=placed_at,
                    )
            except AppError:
                continue
            assert order.id is not None
            # A stable mix of outcomes over the month, different per citizen.
            outcome = (index * 3 + number * 5) % 29
            if outcome == 7:
                await service.cancel_order(
                    session,
                    actor=case_worker,
                    order_id=order.id,
                    now=local_instant(day - timedelta(days=2), time(10, 0)),
                )
                continue
            if outcome == 11:
                await service.cancel_order(
                    session,
                    actor=case_worker,
                    order_id=order.id,
                    now=local_instant(day, time(8, 0)),
                )
                continue
            await service.accept_orders(session, actor=staff, order_ids=[order.id])
            await service.mark_out_for_delivery(session, actor=staff, order_ids=[order.id])
            if outcome == 3:
                await service.mark_failed(
                    session,
                    actor=staff,
                    order_id=order.id,
                    reason=FailureReason.NOT_DELIVERED,
                    note="Bilen brød sammen.",
                    settings=settings,
                )
            elif outcome == 19:
                await service.mark_failed(
                    session,
                    actor=staff,
                    order_id=order.id,
                    reason=FailureReason.CITIZEN_ABSENT,
                    note="Ingen lukkede op.",
                    settings=settings,
                    now=local_instant(day, time(12, 10)),
                )
                for alert in await service.open_alerts(session, actor=case_worker):
                    if alert.order_id == order.id and alert.id is not None:
                        await service.acknowledge_alert(
                            session,
                            actor=case_worker,
                            alert_id=alert.id,
                            note="Ringede til datteren: borgeren var hos lægen.",
                        )
            else:
                late = outcome in (5, 13, 23)
                await service.mark_delivered(
                    session,
                    actor=staff,
                    order_id=order.id,
                    now=local_instant(day, time(13, 40) if late else time(12, 5)),
                )
