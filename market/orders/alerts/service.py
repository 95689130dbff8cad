"""Welfare alerts (a citizen did not open the door) and welfare notes (a driver's
observation): raised by the kitchen or the driver, acknowledged by the
municipality's staff with a sentence saying what was done."""

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TypeVar

from sqlalchemy.ext.asyncio import AsyncSession

from market import idempotency
from market.audit import service as audit
from market.auth.models import Role
from market.auth.permissions import Actor, Permission, municipality_scope
from market.config import Settings
from market.db import utcnow
from market.errors import N_, InvalidInput
from market.municipalities import service as municipalities
from market.orders import repository
from market.orders.exceptions import AlertNotFound, AlreadyAcknowledged
from market.orders.models import Order, WelfareAlert, WelfareNote
from market.outbox import service as outbox
from vouchers import service as vouchers
from vouchers.models import Citizen

# What staff acknowledge: a welfare alert or a welfare note.
Acknowledgeable = TypeVar("Acknowledgeable", WelfareAlert, WelfareNote)


async def raise_alert(
    session: AsyncSession,
    *,
    order: Order,
    actor: Actor,
    note: str,
    settings: Settings,
    now: datetime,
) -> None:
    assert order.id is not None
    alert_id = await repository.insert_alert(
        session,
        {
            "municipality_id": order.municipality_id,
            "citizen_id": order.citizen_id,
            "order_id": order.id,
            "raised_at": now,
            "raised_by_user_id": actor.user_id,
            "provider_note": note or None,
        },
    )
    municipality = await municipalities.get(session, municipality_id=order.municipality_id)
    if municipality.oncall_email:
        # Only what the on-call person needs to act: that there is an alert, how
        # urgent, and where to open it. Who and where stay behind a sign-in; an
        # e-mail is copied, forwarded and kept in mailboxes outside our control.
        link = f"{settings.mail_link_base}/alerts#alert-{alert_id}"
        await outbox.enqueue_email(
            session,
            settings=settings,
            idempotency_key=f"alert:{alert_id}:email",
            to=[municipality.oncall_email],
            subject=f"Velfærdsalarm (haster): alarm nr. {alert_id} i {municipality.name}",
            body=(
                "En borger åbnede ikke døren, da maden blev leveret "
                f"{order.delivery_on.isoformat()}, og kan have brug for hjælp.\n\n"
                "Det haster: ring til borgeren eller kontaktpersonen, og kvittér for alarmen "
                f"inden for {settings.alert_overdue_minutes} minutter.\n\n"
                f"Åbn alarmen i Velfærdsmarked (log ind): {link}\n\n"
                "Borgerens navn, adresse og telefon står kun i Velfærdsmarked, ikke i denne e-mail."
            ),
            municipality_id=order.municipality_id,
        )
    await audit.record(
        session,
        actor=actor,
        action="welfare_alert.raised",
        entity_type="welfare_alert",
        entity_id=alert_id,
        municipality_id=order.municipality_id,
        data={"order_id": order.id, "citizen_id": order.citizen_id},
    )


def _alert_staff_of(actor: Actor, municipality_id: int) -> None:
    """Only the municipality's staff who handle alerts (market.auth.permissions)
    see its alerts and notes; to anyone else they do not exist."""
    if municipality_scope(actor, Permission.ALERT_HANDLE, AlertNotFound) != municipality_id:
        raise AlertNotFound()


async def open_alerts(session: AsyncSession, *, actor: Actor) -> list[WelfareAlert]:
    if actor.municipality_id is None:
        return []
    return list(await repository.alerts(session, actor.municipality_id, open_only=True))


def _what_was_done(text: str) -> str:
    """A person writes what was done: an alert or a note is never acknowledged blank."""
    text = text.strip()
    if not text:
        raise InvalidInput(N_("Please write what was done, e.g. who was called."))
    return text


def _acknowledgement(actor: Actor, text: str) -> dict[str, object]:
    return {
        "acknowledged_at": utcnow(),
        "acknowledged_by_user_id": actor.user_id,
        "acknowledgement_note": text,
    }


async def _acknowledge(
    session: AsyncSession,
    actor: Actor,
    item: Acknowledgeable | None,
    text: str,
    kind: str,
    write: Callable[[int, dict[str, object]], Awaitable[bool]],
) -> Acknowledgeable:
    """The one acknowledgement of a welfare alert or note: only the
    municipality's alert staff, only once, with what was done in the audit."""
    if item is None:
        raise AlertNotFound()
    _alert_staff_of(actor, item.municipality_id)
    assert item.id is not None
    if not await write(item.id, _acknowledgement(actor, text)):
        raise AlreadyAcknowledged()
    await session.refresh(item)
    await audit.record(
        session,
        actor=actor,
        action=f"{kind}.acknowledged",
        entity_type=kind,
        entity_id=item.id,
        municipality_id=item.municipality_id,
        data={"note": text},
    )
    return item


async def acknowledge_alert(
    session: AsyncSession, *, actor: Actor, alert_id: int, note: str
) -> WelfareAlert:
    note = _what_was_done(note)
    alert = await repository.get_alert(session, alert_id)

    async def write(item_id: int, values: dict[str, object]) -> bool:
        return await repository.acknowledge_alert(session, alert_id=item_id, values=values)

    return await _acknowledge(session, actor, alert, note, "welfare_alert", write)


# --- the welfare alert queue ---------------------------------------------------------


@dataclass(frozen=True)
class AlertEntry:
    alert: WelfareAlert
    citizen: Citizen
    order: Order | None
    overdue: bool


@dataclass(frozen=True)
class AlertQueue:
    open: list[AlertEntry]
    history: list[AlertEntry]
    overdue_minutes: int


async def _alert_entries(
    session: AsyncSession, alerts: list[WelfareAlert], overdue_before: datetime | None
) -> list[AlertEntry]:
    citizens = await vouchers.citizens_by_ids(
        session, citizen_ids=sorted({a.citizen_id for a in alerts})
    )
    orders = await repository.orders_by_ids(session, sorted({a.order_id for a in alerts}))
    return [
        AlertEntry(
            alert=alert,
            citizen=citizens[alert.citizen_id],
            order=orders.get(alert.order_id),
            overdue=overdue_before is not None and alert.raised_at <= overdue_before,
        )
        for alert in alerts
    ]


async def alert_queue(
    session: AsyncSession, *, actor: Actor, settings: Settings, now: datetime | None = None
) -> AlertQueue:
    """Open alerts of the actor's municipality, oldest first; those nobody
    acknowledged within settings.alert_overdue_minutes are overdue. Then the
    most recently acknowledged ones."""
    now = now or utcnow()
    minutes = settings.alert_overdue_minutes
    if actor.municipality_id is None:
        return AlertQueue(open=[], history=[], overdue_minutes=minutes)
    open_ = list(await repository.alerts(session, actor.municipality_id, open_only=True))
    done = list(await repository.acknowledged_alerts(session, actor.municipality_id))
    return AlertQueue(
        open=await _alert_entries(session, open_, now - timedelta(minutes=minutes)),
        history=await _alert_entries(session, done, None),
        overdue_minutes=minutes,
    )


async def acknowledge_alert_entry(
    session: AsyncSession, *, actor: Actor, alert_id: int, note: str
) -> AlertEntry:
    """Acknowledges the alert and returns it with its citizen, for the API."""
    alert = await acknowledge_alert(session, actor=actor, alert_id=alert_id, note=note)
    [entry] = await _alert_entries(session, [alert], None)
    return entry


async def open_alert_count(session: AsyncSession, *, actor: Actor) -> int:
    """For the badge in the menu: one COUNT, only for staff who handle alerts."""
    if actor.municipality_id is None or not actor.can(Permission.ALERT_HANDLE):
        return 0
    return await repository.count_open_alerts(session, actor.municipality_id)


# --- welfare notes (a driver's observation) ------------------------------------------


async def raise_note(
    session: AsyncSession, *, actor: Actor, order: Order, seen: list[str], text: str, key: str
) -> int:
    note_id = await repository.insert_note(
        session,
        {
            "municipality_id": order.municipality_id,
            "citizen_id": order.citizen_id,
            "order_id": order.id,
            "observations": ",".join(seen),
            "text": text,
            "raised_at": utcnow(),
            "raised_by_user_id": actor.user_id,
            "idempotency_key": idempotency.fit(f"tap:{key}:note"),
        },
    )
    await audit.record(
        session,
        actor=actor,
        action="welfare_note.raised",
        entity_type="welfare_note",
        entity_id=note_id,
        municipality_id=order.municipality_id,
        data={"order_id": order.id, "citizen_id": order.citizen_id, "observations": seen},
    )
    return note_id


@dataclass(frozen=True)
class NoteEntry:
    note: WelfareNote
    citizen: Citizen
    # Who was at the door: "driver" (the kitchen's staff) or "volunteer" (a
    # community visit), so the case worker knows whom to ask.
    seen_by: str = "driver"


async def open_notes(session: AsyncSession, *, actor: Actor) -> list[NoteEntry]:
    if actor.municipality_id is None:
        return []
    found = list(await repository.notes(session, actor.municipality_id, open_only=True))
    citizens = await vouchers.citizens_by_ids(
        session, citizen_ids=sorted({n.citizen_id for n in found})
    )
    roles = await repository.roles_of_users(
        session, sorted({n.raised_by_user_id for n in found if n.raised_by_user_id is not None})
    )
    return [
        NoteEntry(
            note=n,
            citizen=citizens[n.citizen_id],
            seen_by="volunteer"
            if roles.get(n.raised_by_user_id or 0) == Role.VOLUNTEER
            else "driver",
        )
        for n in found
    ]


async def acknowledge_note(
    session: AsyncSession, *, actor: Actor, note_id: int, reply: str
) -> WelfareNote:
    """As a welfare alert: a person writes what was done."""
    reply = _what_was_done(reply)
    note = await repository.get_note(session, note_id)

    async def write(item_id: int, values: dict[str, object]) -> bool:
        return await repository.acknowledge_note(session, note_id=item_id, values=values)

    return await _acknowledge(session, actor, note, reply, "welfare_note", write)
