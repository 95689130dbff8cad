"""The voucher ledger: a grant's units are issued once into its *granted*
account; each ISO week the week's allotment moves to *available*; an order moves
units to *reserved*, a delivery to *redeemed*, and what is left at the end of a
week to *expired*. Every movement is a transfer with a unique idempotency key,
and every debit is one conditional UPDATE (``balance >= n``), so no balance goes
below zero even when many requests race for the last unit."""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta
from functools import partial
from typing import Any

from sqlalchemy import ColumnElement, ScalarSelect
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped

from market import idempotency
from market.auth.permissions import Actor
from market.clock import today as today_in_copenhagen
from market.db import utcnow
from market.errors import N_, AppError
from vouchers.exceptions import (
    BadInput,
    GrantNotFound,
    GrantNotUsable,
    LedgerBroken,
    NoGrantForDate,
    NotEnoughReserved,
    NoUnitsLeft,
    OutsideValidity,
)
from vouchers.grants import repository as grants_repository
from vouchers.ledger import repository
from vouchers.ledger.weeks import (
    grant_allotment,
    iso_week_of,
    total_units,
    week_monday,
    week_number,
    weeks_between,
)
from vouchers.models import (
    NO_WEEK,
    AccountKind,
    GrantStatus,
    LedgerTransfer,
    VoucherGrant,
)
from vouchers.schemas import LedgerReport, Move

# --- ledger core -----------------------------------------------------------


def _move_of(transfer: LedgerTransfer, *, replayed: bool) -> Move:
    assert transfer.id is not None
    return Move(
        transfer_id=transfer.id,
        idempotency_key=transfer.idempotency_key,
        grant_id=transfer.grant_id,
        units=transfer.units,
        reason=transfer.reason,
        order_ref=transfer.order_ref,
        delivery_on=transfer.delivery_on,
        replayed=replayed,
    )


async def _replay(session: AsyncSession, key: str) -> Move | None:
    existing = await repository.get_transfer_by_key(session, key)
    return None if existing is None else _move_of(existing, replayed=True)


async def _transfer(
    session: AsyncSession,
    *,
    grant_id: int,
    source: tuple[AccountKind, str] | None,
    target: tuple[AccountKind, str],
    units: int,
    key: str,
    reason: str,
    actor_user_id: int | None,
    short: Callable[[], AppError],
    order_ref: str | None = None,
    delivery_on: date | None = None,
    replay_checked: bool = False,
    accounts: dict[tuple[AccountKind, str], int] | None = None,
) -> Move:
    """Moves units between two accounts of a grant, once per key. The write is
    whole or nothing by itself (``repository.write_transfer``: the debit is one
    conditional UPDATE, the credit and the transfer's row follow it only when it
    took the units; a key another transfer holds leaves nothing behind), so no
    SAVEPOINT is needed when the accounts exist. Accounts created here are in a
    SAVEPOINT, so a refusal leaves none behind. ``replay_checked``: the caller
    has just looked the key up in this transaction and found nothing;
    ``accounts``: ids of accounts the caller knows exist."""
    if not replay_checked:
        replay = await _replay(session, key)
        if replay is not None:
            return replay
    if order_ref is not None:
        order_ref = idempotency.fit(order_ref, idempotency.ORDER_REF_CHARS)
    wanted = [target] if source is None else [source, target]
    known = accounts or {}
    write = partial(
        _write,
        session,
        issuing=source is None,
        grant_id=grant_id,
        units=units,
        key=key,
        reason=reason,
        actor_user_id=actor_user_id,
        short=short,
        order_ref=order_ref,
        delivery_on=delivery_on,
    )
    if all(w in known for w in wanted):
        return await write([known[w] for w in wanted])
    async with session.begin_nested():
        return await write(await repository.ensure_accounts(session, grant_id, wanted))


async def _write(
    session: AsyncSession,
    ids: list[int],
    issuing: bool,
    grant_id: int,
    units: int,
    key: str,
    reason: str,
    actor_user_id: int | None,
    short: Callable[[], AppError],
    order_ref: str | None,
    delivery_on: date | None,
) -> Move:
    source_id, target_id = (None, ids[0]) if issuing else (ids[0], ids[1])
    moved, transfer_id = await repository.write_transfer(
        session,
        {
            "idempotency_key": key,
            "grant_id": grant_id,
            "from_account_id": source_id,
            "to_account_id": target_id,
            "units": units,
            "reason": reason,
            "order_ref": order_ref,
            "delivery_on": delivery_on,
            "created_at": utcnow(),
            "actor_user_id": actor_user_id,
        },
        source=source_id,
        target=target_id,
        units=units,
    )
    if not moved:
        raise short()
    if transfer_id is None:
        replay = await _replay(session, key)  # a concurrent request used the key first
        if replay is None:
            raise RuntimeError(f"ledger transfer key {key!r} is taken but not found")
        return replay
    return Move(
        transfer_id=transfer_id,
        idempotency_key=key,
        grant_id=grant_id,
        units=units,
        reason=reason,
        order_ref=order_ref,
        delivery_on=delivery_on,
        replayed=False,
    )


def _positive_units(units: int) -> None:
    if units <= 0:
        raise BadInput(N_("The number of units must be at least 1."))


def _key(key: str) -> str:
    """A transfer's key: given by the caller (derived from a client's key the
    caller checked with ``market.idempotency.client_key``), made to fit its column."""
    key = key.strip()
    if not key:
        raise BadInput(N_("An idempotency key of 1 to 200 characters is required."))
    return idempotency.fit(key)


async def load_grant(session: AsyncSession, grant_id: int, *, lock: bool = False) -> VoucherGrant:
    if lock:
        grant = await grants_repository.get_grant_for_update(session, grant_id)
    else:
        grant = await grants_repository.get_grant(session, grant_id)
    if grant is None:
        raise GrantNotFound()
    return grant


async def issue_units(
    session: AsyncSession, *, grant: VoucherGrant, actor_user_id: int | None
) -> Move | None:
    """Puts all of a grant's units (every week of its validity) into its granted account."""
    assert grant.id is not None
    total = total_units(grant.units_per_week, grant.valid_from, grant.valid_to)
    if total <= 0:
        await repository.ensure_account(session, grant.id, AccountKind.GRANTED, NO_WEEK)
        return None
    return await _transfer(
        session,
        grant_id=grant.id,
        source=None,
        target=(AccountKind.GRANTED, NO_WEEK),
        units=total,
        key=f"issue:{grant.id}",
        reason="issue",
        actor_user_id=actor_user_id,
        short=lambda: LedgerBroken(N_("The voucher could not be issued.")),
    )


async def ensure_week_allotted(
    session: AsyncSession,
    *,
    grant_id: int,
    iso_week: str,
    actor_user_id: int | None = None,
    accounts: dict[tuple[AccountKind, str], int] | None = None,
    grant: VoucherGrant | None = None,
    replay_checked: bool = False,
) -> Move | None:
    """Makes the week's units available (once: key ``allot:<grant>:<week>``).
    Nothing happens for a week outside the grant's validity. ``grant``: the
    grant as the caller has just read it; ``replay_checked``: the caller has
    looked the key up in this transaction and found nothing."""
    if grant is None:
        grant = await load_grant(session, grant_id)
    units = grant_allotment(grant, iso_week)
    if units <= 0:
        return None
    return await _transfer(
        session,
        grant_id=grant_id,
        source=(AccountKind.GRANTED, NO_WEEK),
        target=(AccountKind.AVAILABLE, iso_week),
        units=units,
        key=_allot_key(grant_id, iso_week),
        reason="allot",
        actor_user_id=actor_user_id,
        short=lambda: LedgerBroken(
            N_("The voucher has too few units left to allot week {week}."),
            week=week_number(iso_week),
        ),
        replay_checked=replay_checked,
        accounts=accounts,
    )


def _allot_key(grant_id: int, iso_week: str) -> str:
    return f"allot:{grant_id}:{iso_week}"


@dataclass(frozen=True)
class LedgerLookups:
    """What ``reservation_lookups`` found, read by the caller in its own statement
    (in the same transaction, after the grant's row was locked)."""

    replayed_transfer_id: int | None
    allotted: int | None
    granted_account_id: int | None
    available_account_id: int | None
    reserved_account_id: int | None


def reservation_lookups(grant_id: ColumnElement[Any] | Mapped[Any]) -> dict[str, ScalarSelect[Any]]:
    """The ledger's part of a caller's one read before ``reserve`` (the order
    path): scalar subqueries on the grant's id column, named as the fields of
    ``LedgerLookups``, with the parameters ``reservation_lookup_params`` gives.
    Give ``reserve`` what they found as ``known``."""
    return repository.reservation_lookups(grant_id)


def reservation_lookup_params(*, delivery_on: date, idempotency_key: str) -> dict[str, str]:
    """The parameters of ``reservation_lookups`` for a reservation of
    ``delivery_on`` under ``idempotency_key``."""
    return repository.reservation_lookup_params(iso_week_of(delivery_on), _key(idempotency_key))


async def reserve(
    session: AsyncSession,
    *,
    delivery_on: date,
    units: int,
    idempotency_key: str,
    actor: Actor,
    grant_id: int | None = None,
    citizen_id: int | None = None,
    order_ref: str | None = None,
    today: date | None = None,
    grant_locked: VoucherGrant | None = None,
    known: LedgerLookups | None = None,
) -> Move:
    """Reserves units of the week of ``delivery_on`` for an order. Give the grant,
    or the citizen (then the active grant covering that day is used). Scoping
    (may this actor order for this citizen) is the caller's check.
    ``grant_locked``: the grant as the caller read it with its row locked (FOR
    UPDATE) in this transaction, so it is not read again; ``known``: what
    ``reservation_lookups`` found in that same read, so the ledger need not look."""
    key = _key(idempotency_key)
    week = iso_week_of(delivery_on)
    allot_checked = True  # whether ``allotted`` was looked up, not assumed
    if grant_locked is not None:
        grant_id = grant_locked.id
    if known is not None and known.replayed_transfer_id is None:
        allotted = known.allotted is not None
        found = {
            (AccountKind.GRANTED, NO_WEEK): known.granted_account_id,
            (AccountKind.AVAILABLE, week): known.available_account_id,
            (AccountKind.RESERVED, week): known.reserved_account_id,
        }
        accounts = {name: id_ for name, id_ in found.items() if id_ is not None}
    else:
        # The replay check and, when the grant is known, whether the week is
        # already allotted: one look-up.
        allot_key = _allot_key(grant_id, week) if grant_id is not None else None
        done = await repository.get_transfers_by_keys(
            session, [key] if allot_key is None else [key, allot_key]
        )
        if key in done:
            return _move_of(done[key], replayed=True)
        allotted = allot_key is not None and allot_key in done
        accounts = {}
    _positive_units(units)
    if grant_id is None:
        if citizen_id is None:
            raise BadInput(N_("Say which voucher or which citizen to reserve for."))
        found_grant = await grants_repository.active_grant_on(session, citizen_id, delivery_on)
        if found_grant is None:
            raise NoGrantForDate(delivery_on)
        assert found_grant.id is not None
        grant_id = found_grant.id
        allot_checked = False
    grant = grant_locked or await load_grant(session, grant_id, lock=True)
    assert grant.id is not None
    if grant.status != GrantStatus.ACTIVE:
        raise GrantNotUsable(grant.status.value)
    if not grant.valid_from <= delivery_on <= grant.valid_to:
        raise OutsideValidity(delivery_on, grant.valid_from, grant.valid_to)
    if delivery_on < (today or today_in_copenhagen()):
        raise BadInput(
            N_("{day} has passed; units can only be reserved for today or later."),
            day=delivery_on.isoformat(),
        )

    async def reservation() -> Move:
        assert grant.id is not None
        return await _transfer(
            session,
            grant_id=grant.id,
            source=(AccountKind.AVAILABLE, week),
            target=(AccountKind.RESERVED, week),
            units=units,
            key=key,
            reason="reserve",
            actor_user_id=actor.user_id,
            short=lambda: NoUnitsLeft(week_number(week)),
            order_ref=order_ref,
            delivery_on=delivery_on,
            replay_checked=True,
            accounts=accounts,
        )

    if allotted:
        # The week is allotted already (transfers are never undone once
        # committed): the reservation's own write is whole or nothing.
        return await reservation()
    wanted = [
        (AccountKind.GRANTED, NO_WEEK),
        (AccountKind.AVAILABLE, week),
        (AccountKind.RESERVED, week),
    ]

    async def allot_then_reserve() -> Move:
        # The accounts both moves touch, in one go.
        assert grant.id is not None
        ids = await repository.ensure_accounts(session, grant.id, wanted, known=accounts)
        accounts.update(zip(wanted, ids, strict=True))
        await ensure_week_allotted(
            session,
            grant_id=grant.id,
            iso_week=week,
            actor_user_id=actor.user_id,
            accounts=accounts,
            grant=grant,
            replay_checked=allot_checked,
        )
        return await reservation()

    if grant_allotment(grant, week) >= units:
        # The fresh allotment covers the reservation, and this transaction
        # holds the available account's row from the allotment on: the
        # reservation cannot be refused after it, so no savepoint is needed.
        return await allot_then_reserve()
    # The reservation may be refused after the allotment: one savepoint around
    # both, so a refusal leaves the ledger exactly as it was.
    async with session.begin_nested():
        return await allot_then_reserve()


async def _out_of_reserved(
    session: AsyncSession,
    *,
    grant_id: int,
    delivery_on: date,
    units: int,
    idempotency_key: str,
    actor: Actor | None,
    order_ref: str | None,
    reason: str,
    target: Callable[[str], AccountKind],
) -> Move:
    """The one way reserved units leave: back (release) or used (redeem)."""
    key = _key(idempotency_key)
    replay = await _replay(session, key)
    if replay is not None:
        return replay
    _positive_units(units)
    await load_grant(session, grant_id)
    week = iso_week_of(delivery_on)
    return await _transfer(
        session,
        grant_id=grant_id,
        source=(AccountKind.RESERVED, week),
        target=(target(week), week),
        units=units,
        key=key,
        reason=reason,
        actor_user_id=actor.user_id if actor else None,
        short=lambda: NotEnoughReserved(week_number(week)),
        order_ref=order_ref,
        delivery_on=delivery_on,
    )


async def release(
    session: AsyncSession,
    *,
    grant_id: int,
    delivery_on: date,
    units: int,
    idempotency_key: str,
    actor: Actor | None,
    order_ref: str | None = None,
    today: date | None = None,
) -> Move:
    """Gives reserved units back (an order cancelled, rejected or expired).
    Units of a week that has already ended go straight to expired."""
    day = today or today_in_copenhagen()

    def back_to(week: str) -> AccountKind:
        ended = week_monday(week) + timedelta(days=6) < day
        return AccountKind.EXPIRED if ended else AccountKind.AVAILABLE

    return await _out_of_reserved(
        session,
        grant_id=grant_id,
        delivery_on=delivery_on,
        units=units,
        idempotency_key=idempotency_key,
        actor=actor,
        order_ref=order_ref,
        reason="release",
        target=back_to,
    )


async def redeem(
    session: AsyncSession,
    *,
    grant_id: int,
    delivery_on: date,
    units: int,
    idempotency_key: str,
    actor: Actor | None,
    order_ref: str | None = None,
) -> Move:
    """Reserved units become used: the service was delivered."""
    return await _out_of_reserved(
        session,
        grant_id=grant_id,
        delivery_on=delivery_on,
        units=units,
        idempotency_key=idempotency_key,
        actor=actor,
        order_ref=order_ref,
        reason="redeem",
        target=lambda _week: AccountKind.REDEEMED,
    )


async def expire_week(
    session: AsyncSession,
    *,
    grant_id: int,
    iso_week: str,
    actor: Actor | None = None,
    idempotency_key: str | None = None,
) -> Move | None:
    """Ends a week: what is still available expires (or, with rollover, moves to
    the next week of the grant). The week is allotted first, so a week nobody
    ordered in does not leave its units behind in the granted account."""
    grant = await load_grant(session, grant_id)
    actor_user_id = actor.user_id if actor else None
    key = _key(idempotency_key or f"expire:{grant_id}:{iso_week}")
    replay = await _replay(session, key)
    if replay is not None:
        return replay
    await ensure_week_allotted(
        session, grant_id=grant_id, iso_week=iso_week, actor_user_id=actor_user_id
    )
    left = await repository.balance(session, grant_id, AccountKind.AVAILABLE, iso_week)
    if left <= 0:
        return None
    next_week = iso_week_of(week_monday(iso_week) + timedelta(days=7))
    if (
        grant.rollover
        and grant.status == GrantStatus.ACTIVE
        and grant_allotment(grant, next_week) > 0
    ):
        target = (AccountKind.AVAILABLE, next_week)
        reason = "rollover"
    else:
        target = (AccountKind.EXPIRED, iso_week)
        reason = "expire"
    return await _transfer(
        session,
        grant_id=grant_id,
        source=(AccountKind.AVAILABLE, iso_week),
        target=target,
        units=left,
        key=key,
        reason=reason,
        actor_user_id=actor_user_id,
        short=lambda: LedgerBroken(N_("The week's balance changed while it was being closed.")),
    )


async def close_after_end(
    session: AsyncSession, *, grant: VoucherGrant, actor: Actor | None
) -> None:
    """After a grant's end moved earlier (superseded, revoked) or passed (expired):
    units reserved for days after the end are released, and units of days after
    the end (available or never allotted) expire."""
    assert grant.id is not None
    actor_user_id = actor.user_id if actor else None
    weeks = sorted(
        {a.iso_week for a in await repository.list_accounts(session, grant.id) if a.iso_week}
    )
    for week in weeks:
        if week_monday(week) + timedelta(days=6) <= grant.valid_to:
            continue  # a week wholly within the validity keeps everything
        await _release_after_end(session, grant=grant, week=week, actor_user_id=actor_user_id)
        await _trim_after_end(session, grant=grant, week=week, actor_user_id=actor_user_id)
    await _expire_unneeded_granted(session, grant=grant, actor_user_id=actor_user_id)


async def _release_after_end(
    session: AsyncSession, *, grant: VoucherGrant, week: str, actor_user_id: int | None
) -> None:
    """Units reserved in ``week`` for days after the grant's end go back to available."""
    assert grant.id is not None
    end = grant.valid_to
    reserved_id = await repository.account_id(session, grant.id, AccountKind.RESERVED, week)
    if week_monday(week) > end:
        to_release = await repository.balance(session, grant.id, AccountKind.RESERVED, week)
    else:
        to_release = (
            await repository.net_reserved_after(session, reserved_id, end) if reserved_id else 0
        )
    if to_release > 0:
        await _transfer(
            session,
            grant_id=grant.id,
            source=(AccountKind.RESERVED, week),
            target=(AccountKind.AVAILABLE, week),
            units=to_release,
            key=f"end-release:{grant.id}:{week}",
            reason="release_after_end",
            actor_user_id=actor_user_id,
            short=lambda: LedgerBroken(N_("Reserved units changed while the voucher ended.")),
        )


async def _trim_after_end(
    session: AsyncSession, *, grant: VoucherGrant, week: str, actor_user_id: int | None
) -> None:
    """A week wholly after the end keeps nothing (rolled-over units included);
    the end's own week keeps its days' share."""
    assert grant.id is not None
    allotted = await repository.get_transfer_by_key(session, f"allot:{grant.id}:{week}")
    excess = (allotted.units if allotted else 0) - grant_allotment(grant, week)
    available = await repository.balance(session, grant.id, AccountKind.AVAILABLE, week)
    trim = available if week_monday(week) > grant.valid_to else min(available, max(0, excess))
    if trim > 0:
        await _transfer(
            session,
            grant_id=grant.id,
            source=(AccountKind.AVAILABLE, week),
            target=(AccountKind.EXPIRED, week),
            units=trim,
            key=f"end-trim:{grant.id}:{week}",
            reason="expire_after_end",
            actor_user_id=actor_user_id,
            short=lambda: LedgerBroken(N_("Available units changed while the voucher ended.")),
        )


async def _expire_unneeded_granted(
    session: AsyncSession, *, grant: VoucherGrant, actor_user_id: int | None
) -> None:
    """Granted units no week of the (shortened) validity still needs expire."""
    assert grant.id is not None
    end = grant.valid_to
    in_validity = weeks_between(grant.valid_from, end) if end >= grant.valid_from else []
    done = await repository.existing_keys(session, [f"allot:{grant.id}:{w}" for w in in_validity])
    still_needed = sum(
        grant_allotment(grant, w) for w in in_validity if f"allot:{grant.id}:{w}" not in done
    )
    surplus = await repository.granted_balance(session, grant.id) - still_needed
    if surplus > 0:
        await _transfer(
            session,
            grant_id=grant.id,
            source=(AccountKind.GRANTED, NO_WEEK),
            target=(AccountKind.EXPIRED, NO_WEEK),
            units=surplus,
            key=f"end-granted:{grant.id}",
            reason="expire_after_end",
            actor_user_id=actor_user_id,
            short=lambda: LedgerBroken(N_("Granted units changed while the voucher ended.")),
        )


async def verify_ledger(session: AsyncSession) -> LedgerReport:
    """Checks every ledger invariant over the whole ledger and names what is wrong."""
    report = LedgerReport()
    flows = await repository.account_flows(session)
    issued = await repository.issued_per_grant(session)
    report.accounts = len(flows)
    report.transfers = await repository.count_transfers(session)
    held: dict[int, int] = {}
    for flow in flows:
        week = flow.iso_week or "-"
        name = f"account {flow.account_id} ({flow.kind} {week}) of grant {flow.grant_id}"
        if flow.balance < 0:
            report.problems.append(f"{name} has a negative balance {flow.balance}.")
        if flow.balance != flow.incoming - flow.outgoing:
            report.problems.append(
                f"{name} has balance {flow.balance}, but its transfers add up to "
                f"{flow.incoming - flow.outgoing} ({flow.incoming} in, {flow.outgoing} out)."
            )
        held[flow.grant_id] = held.get(flow.grant_id, 0) + flow.balance
    grant_ids = sorted(set(held) | set(issued))
    report.grants = len(grant_ids)
    for grant_id in grant_ids:
        if held.get(grant_id, 0) != issued.get(grant_id, 0):
            report.problems.append(
                f"grant {grant_id}: {issued.get(grant_id, 0)} units were issued, but its "
                f"accounts (granted + available + reserved + redeemed + expired) hold "
                f"{held.get(grant_id, 0)}."
            )
    for transfer_id, key in await repository.misdirected_transfers(session):
        report.problems.append(
            f"transfer {transfer_id} ({key}) touches an account of another grant "
            "or issues units into an account that is not a granted account."
        )
    return report
