"""Demo data for ordering (called by market.demo.seed after providers and
vouchers): the approved provider's menu with photos and ordering profile, and
orders for today and the coming days in every state, with an open welfare alert."""

import io
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta

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
    staff = auth_service.actor_for(kitchen_staff)
    case_worker = auth_service.actor_for(users["sagsbehandler@aarhus.example"])
    await _kitchen_and_menu(session, auth_service.actor_for(kitchen_admin), settings)
    today = vouchers.today_in_copenhagen()
    demo = _DemoOrders(
        session=session,
        case_worker=case_worker,
        today=today,
        yesterday_morning=local_instant(today - timedelta(days=1), time(9, 0)),
    )
    await demo.find_diners(aarhus, settings)
    if not demo.diners:
        return []
    await _past_months(
        session, diners=demo.diners, case_worker=case_worker, staff=staff, settings=settings
    )
    await _today(demo, staff, settings)
    await _coming_days(demo, staff)
    await _help_door_notes_and_pause(demo, aarhus)
    return [
        ("orders: kitchen board (provider staff)", "kok@smagfuldt.example  /kitchen"),
        ("orders: today's route on a phone (provider staff)", "kok@smagfuldt.example  /driver"),
        (
            f"orders: {PAUSED_CITIZEN} is in hospital, meals paused (case worker)",
            "sagsbehandler@aarhus.example",
        ),
    ]


async def _kitchen_and_menu(session: AsyncSession, admin: Actor, settings: Settings) -> None:
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


@dataclass
class _DemoOrders:
    """The case worker ordering by phone for the demo's diners."""

    session: AsyncSession
    case_worker: Actor
    today: date
    yesterday_morning: datetime
    diners: list[tuple[Citizen, VoucherGrant]] = field(default_factory=list)

    async def find_diners(self, aarhus: Municipality, settings: Settings) -> None:
        """Aarhus citizens with a grant whom the demo kitchen delivers to and
        whose diet it fits."""
        citizens = await vouchers.search_citizens(
            self.session,
            actor=self.case_worker,
            secret_key=settings.secret_key.get_secret_value(),
            query="",
        )
        for citizen in citizens:
            assert citizen.id is not None
            grant = await vouchers.active_grant_on(
                self.session, citizen_id=citizen.id, day=self.today
            )
            if grant is None or citizen.municipality_id != aarhus.id:
                continue
            found = await service.catalogue(
                self.session,
                actor=self.case_worker,
                citizen_id=citizen.id,
                delivery_on=self.today,
                now=self.yesterday_morning,
            )
            if found.entries:  # delivers to their postal code and fits their diet
                self.diners.append((citizen, grant))

    async def order(self, diner: int, day_offset: int, key: str, pick: int = 0) -> Order | None:
        citizen, _ = self.diners[diner % len(self.diners)]
        day = self.today + timedelta(days=day_offset)
        now = self.yesterday_morning if day_offset == 0 else utcnow()
        catalogue = await service.catalogue(
            self.session, actor=self.case_worker, citizen_id=citizen.id, delivery_on=day, now=now
        )
        if not catalogue.entries:
            return None
        entry = catalogue.entries[pick % len(catalogue.entries)]
        assert entry.offer.id is not None
        try:
            async with self.session.begin_nested():
                return await service.place_order(
                    self.session,
                    actor=self.case_worker,
                    citizen_id=citizen.id,
                    offer_id=entry.offer.id,
                    delivery_on=day,
                    idempotency_key=f"demo:{key}",
                    now=now,
                )
        except AppError:  # e.g. that week's units are taken: the demo simply skips it
            return None


async def _today(demo: _DemoOrders, staff: Actor, settings: Settings) -> None:
    """Today: delivered and rated, out for delivery, failed with the citizen absent
    (an open welfare alert), and one accepted, still in the kitchen."""
    session = demo.session
    delivered = await demo.order(0, 0, "today-delivered")
    out = await demo.order(1, 0, "today-out")
    absent = await demo.order(2, 0, "today-absent")
    waiting = await demo.order(0, 0, "today-accepted", pick=1)
    today_ids = [o.id for o in (delivered, out, absent, waiting) if o and o.id]
    await service.accept_orders(session, actor=staff, order_ids=today_ids)
    moving = [o.id for o in (delivered, out, absent) if o and o.id]
    await service.mark_out_for_delivery(session, actor=staff, order_ids=moving)
    if delivered and delivered.id:
        await service.mark_delivered(session, actor=staff, order_id=delivered.id)
        await service.rate_order(
            session,
            actor=demo.case_worker,
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


async def _coming_days(demo: _DemoOrders, staff: Actor) -> None:
    """New orders for the kitchen to accept, one rejected, one cancelled."""
    for offset in (1, 2, 3):
        for diner in range(len(demo.diners)):
            await demo.order(diner, offset, f"ahead-{offset}-{diner}", pick=offset)
    rejected = await demo.order(1, 4, "ahead-rejected")
    if rejected and rejected.id:
        await service.reject_order(
            demo.session,
            actor=staff,
            order_id=rejected.id,
            reason="Vi kan desværre ikke levere den dag.",
        )
    cancelled = await demo.order(2, 4, "ahead-cancelled")
    if cancelled and cancelled.id:
        await service.cancel_order(demo.session, actor=demo.case_worker, order_id=cancelled.id)


async def _help_door_notes_and_pause(demo: _DemoOrders, aarhus: Municipality) -> None:
    """Help on every citizen page (the municipality's own settings), door notes
    for the driver, and a citizen in hospital: the case worker paused the meals
    from tomorrow, with no end date yet."""
    aarhus.contact_phone = aarhus.contact_phone or "+45 89 40 20 00"
    aarhus.opening_hours = aarhus.opening_hours or "mandag til fredag kl. 8–15"
    for citizen, _ in demo.diners:
        citizen.door_notes = DOOR_NOTES.get(citizen.full_name, "")
    await demo.session.flush()
    paused = next((c for c, _ in demo.diners if c.full_name == PAUSED_CITIZEN), None)
    if paused is not None:
        await pauses.register_pause(
            demo.session,
            actor=demo.case_worker,
            citizen_id=paused.id,
            reason="hospital",
            starts_on=demo.today + timedelta(days=1),
            resumes_on=None,
        )


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
            order = await _place_past(session, case_worker, citizen, day, pick=index + number)
            if order is None:
                continue
            # A stable mix of outcomes over the month, different per citizen.
            outcome = (index * 3 + number * 5) % 29
            await _past_outcome(
                session, order, outcome, case_worker=case_worker, staff=staff, settings=settings
            )


async def _place_past(
    session: AsyncSession, case_worker: Actor, citizen: Citizen, day: date, *, pick: int
) -> Order | None:
    """One past day's order, placed two days ahead (None when it could not be)."""
    placed_at = local_instant(day - timedelta(days=2), time(9, 0))
    catalogue = await service.catalogue(
        session, actor=case_worker, citizen_id=citizen.id, delivery_on=day, now=placed_at
    )
    if not catalogue.entries:
        return None
    entry = catalogue.entries[pick % len(catalogue.entries)]
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
        return None
    assert order.id is not None
    return order


async def _past_outcome(
    session: AsyncSession,
    order: Order,
    outcome: int,
    *,
    case_worker: Actor,
    staff: Actor,
    settings: Settings,
) -> None:
    """How a past order ended: cancelled in time or late, failed (the
    provider's fault, or the citizen absent with the alert acknowledged), or
    delivered on time or late."""
    assert order.id is not None
    day = order.delivery_on
    if outcome in (7, 11):
        # 7: cancelled two days ahead (in time); 11: on the morning itself (late).
        if outcome == 7:
            when = local_instant(day - timedelta(days=2), time(10, 0))
        else:
            when = local_instant(day, time(8, 0))
        await service.cancel_order(session, actor=case_worker, order_id=order.id, now=when)
        return
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
