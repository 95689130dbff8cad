"""The rules of vouchers: citizens and their CPR numbers, assessments (grants),
co-payment caps, proxies, one-time letter codes, and the voucher ledger.

The ledger: a grant's units are issued once into its *granted* account; each
ISO week the week's allotment moves to *available*; an order moves units to
*reserved*, a delivery to *redeemed*, and what is left at the end of a week to
*expired*. Every movement is a transfer with a unique idempotency key, and
every debit is one conditional UPDATE (``balance >= n``), so no balance goes
below zero even when many requests race for the last unit."""

import dataclasses
import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from market import crypto
from market.audit import service as audit
from market.auth import service as auth_service
from market.auth import throttle
from market.auth.exceptions import WeakPassword
from market.auth.models import Role, User
from market.auth.permissions import Actor
from market.auth.security import hash_password_off_loop
from market.clock import today as today_in_copenhagen
from market.config import Settings
from market.db import utcnow
from market.dietary import Allergen, DietForm
from market.errors import N_, AppError, InvalidInput
from market.money import format_kroner
from market.municipalities import service as municipalities
from vouchers import repository
from vouchers.exceptions import (
    BadInput,
    CapMissing,
    CitizenExists,
    CitizenNotFound,
    CopaymentOverCap,
    GrantNotFound,
    GrantNotUsable,
    GrantTransitionRefused,
    InvalidCpr,
    LedgerBroken,
    LetterCodeBackedOff,
    LetterCodeExpired,
    LetterCodeInvalid,
    NoGrantForDate,
    NotEnoughReserved,
    NotYourCitizen,
    NoUnitsLeft,
    OutsideValidity,
    ProxyNotFound,
    SearchTooLong,
)
from vouchers.models import (
    NO_WEEK,
    AccountKind,
    Citizen,
    CopaymentCap,
    GrantStatus,
    LedgerTransfer,
    LetterCode,
    ProxyIdentity,
    ProxyLink,
    VoucherGrant,
)
from vouchers.schemas import CitizenDetails, GrantTerms, LedgerReport, Move

MAX_UNITS_PER_WEEK = 50
LETTER_CODE_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I/L
LETTER_CODE_LENGTH = 8
LETTER_CODE_DAYS = 30
CITIZEN_LOGIN_DOMAIN = "borger.velfaerd.invalid"


# --- weeks -------------------------------------------------------------------


def iso_week_of(day: date) -> str:
    year, week, _ = day.isocalendar()
    return f"{year}-W{week:02d}"


def week_monday(iso_week: str) -> date:
    year, week = iso_week.split("-W")
    return date.fromisocalendar(int(year), int(week), 1)


def week_number(iso_week: str) -> int:
    return int(iso_week.split("-W")[1])


def weeks_between(start: date, end: date) -> list[str]:
    weeks: list[str] = []
    monday = start - timedelta(days=start.weekday())
    while monday <= end:
        weeks.append(iso_week_of(monday))
        monday += timedelta(days=7)
    return weeks


def allotment(units_per_week: int, valid_from: date, valid_to: date, iso_week: str) -> int:
    """Units a week gets: the full weekly number for a whole week inside the
    validity, pro rata by days (rounded down) for a week cut by its start or end."""
    monday = week_monday(iso_week)
    first = max(monday, valid_from)
    last = min(monday + timedelta(days=6), valid_to)
    days = (last - first).days + 1
    if days <= 0:
        return 0
    return units_per_week if days >= 7 else units_per_week * days // 7


def _grant_allotment(grant: VoucherGrant, iso_week: str) -> int:
    return allotment(grant.units_per_week, grant.valid_from, grant.valid_to, iso_week)


def total_units(units_per_week: int, valid_from: date, valid_to: date) -> int:
    return sum(
        allotment(units_per_week, valid_from, valid_to, w)
        for w in weeks_between(valid_from, valid_to)
    )


# --- CPR ---------------------------------------------------------------------

_CPR_RE = re.compile(r"^(\d{6})-?(\d{4})$")


def parse_cpr(raw: str) -> tuple[str, date]:
    """Returns (10 digits, date of birth). The century comes from the 7th digit
    (CPR rules); modulus 11 is not checked (it was dropped in 2007)."""
    match = _CPR_RE.match(raw.strip().replace(" ", ""))
    if not match:
        raise InvalidCpr()
    digits = match.group(1) + match.group(2)
    day, month, yy, seventh = int(digits[0:2]), int(digits[2:4]), int(digits[4:6]), int(digits[6])
    if seventh <= 3:
        century = 1900
    elif seventh in (4, 9):
        century = 2000 if yy <= 36 else 1900
    else:  # 5–8
        century = 2000 if yy <= 57 else 1800
    try:
        born = date(century + yy, month, day)
    except ValueError as exc:
        raise InvalidCpr() from exc
    if born > today_in_copenhagen():
        raise InvalidCpr()
    return digits, born


def looks_like_cpr(text: str) -> bool:
    return bool(_CPR_RE.match(text.strip().replace(" ", "")))


def mask_cpr(birth_date: date) -> str:
    return birth_date.strftime("%d%m%y") + "-****"


def cpr_hash(secret_key: str, digits: str) -> str:
    return crypto.keyed_hash(secret_key, digits, purpose="cpr")


# --- money -------------------------------------------------------------------


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
) -> Move:
    """Moves units between two accounts of a grant, once per key. The key is
    claimed first (its unique index makes a concurrent duplicate wait, then
    fail); the debit is one conditional UPDATE. All of it sits in a SAVEPOINT,
    so a refusal or a lost race undoes only this move."""
    replay = await _replay(session, key)
    if replay is not None:
        return replay
    created_at = utcnow()
    try:
        async with session.begin_nested():
            source_id = (
                await repository.ensure_account(session, grant_id, *source)
                if source is not None
                else None
            )
            target_id = await repository.ensure_account(session, grant_id, *target)
            transfer_id = await repository.insert_transfer(
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
                    "created_at": created_at,
                    "actor_user_id": actor_user_id,
                },
            )
            if source_id is not None and await repository.debit(session, source_id, units) is None:
                raise short()
            await repository.credit(session, target_id, units)
    except IntegrityError:
        replay = await _replay(session, key)  # a concurrent request used the key first
        if replay is None:
            raise
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
    key = key.strip()
    if not key or len(key) > 200:
        raise BadInput(N_("An idempotency key of 1 to 200 characters is required."))
    return key


async def _get_grant(session: AsyncSession, grant_id: int, *, lock: bool = False) -> VoucherGrant:
    if lock:
        grant = await repository.get_grant_for_update(session, grant_id)
    else:
        grant = await repository.get_grant(session, grant_id)
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
) -> Move | None:
    """Makes the week's units available (once: key ``allot:<grant>:<week>``).
    Nothing happens for a week outside the grant's validity."""
    grant = await _get_grant(session, grant_id)
    units = _grant_allotment(grant, iso_week)
    if units <= 0:
        return None
    return await _transfer(
        session,
        grant_id=grant_id,
        source=(AccountKind.GRANTED, NO_WEEK),
        target=(AccountKind.AVAILABLE, iso_week),
        units=units,
        key=f"allot:{grant_id}:{iso_week}",
        reason="allot",
        actor_user_id=actor_user_id,
        short=lambda: LedgerBroken(
            N_("The voucher has too few units left to allot week {week}."),
            week=week_number(iso_week),
        ),
    )


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
) -> Move:
    """Reserves units of the week of ``delivery_on`` for an order. Give the grant,
    or the citizen (then the active grant covering that day is used). Scoping
    (may this actor order for this citizen) is the caller's check."""
    key = _key(idempotency_key)
    replay = await _replay(session, key)
    if replay is not None:
        return replay
    _positive_units(units)
    if grant_id is None:
        if citizen_id is None:
            raise BadInput(N_("Say which voucher or which citizen to reserve for."))
        found = await repository.active_grant_on(session, citizen_id, delivery_on)
        if found is None:
            raise NoGrantForDate(delivery_on)
        assert found.id is not None
        grant_id = found.id
    grant = await _get_grant(session, grant_id, lock=True)
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
    week = iso_week_of(delivery_on)
    # One savepoint around the lazy allotment and the reservation: a refusal
    # leaves the ledger exactly as it was.
    async with session.begin_nested():
        await ensure_week_allotted(
            session, grant_id=grant.id, iso_week=week, actor_user_id=actor.user_id
        )
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
        )


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
    await _get_grant(session, grant_id)
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
    grant = await _get_grant(session, grant_id)
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
        and _grant_allotment(grant, next_week) > 0
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


async def _close_after_end(
    session: AsyncSession, *, grant: VoucherGrant, actor: Actor | None
) -> None:
    """After a grant's end moved earlier (superseded, revoked) or passed (expired):
    units reserved for days after the end are released, and units of days after
    the end (available or never allotted) expire."""
    assert grant.id is not None
    end = grant.valid_to
    actor_user_id = actor.user_id if actor else None
    weeks = sorted(
        {a.iso_week for a in await repository.list_accounts(session, grant.id) if a.iso_week}
    )
    for week in weeks:
        monday = week_monday(week)
        if monday + timedelta(days=6) <= end:
            continue
        reserved_id = await repository.account_id(session, grant.id, AccountKind.RESERVED, week)
        if monday > end:
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
        allotted = await repository.get_transfer_by_key(session, f"allot:{grant.id}:{week}")
        excess = (allotted.units if allotted else 0) - _grant_allotment(grant, week)
        available = await repository.balance(session, grant.id, AccountKind.AVAILABLE, week)
        # A week wholly after the end keeps nothing (rolled-over units included);
        # the end's own week keeps its days' share.
        trim = available if monday > end else min(available, max(0, excess))
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
    in_validity = weeks_between(grant.valid_from, end) if end >= grant.valid_from else []
    done = await repository.existing_keys(session, [f"allot:{grant.id}:{w}" for w in in_validity])
    still_needed = sum(
        _grant_allotment(grant, w) for w in in_validity if f"allot:{grant.id}:{w}" not in done
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


# --- caps ----------------------------------------------------------------------


async def set_copayment_cap(
    session: AsyncSession, *, actor: Actor | None, municipality_id: int, year: int, cap_ore: int
) -> CopaymentCap:
    if actor is not None and actor.municipality_id not in (None, municipality_id):
        raise CitizenNotFound()
    if cap_ore < 0 or not 2000 <= year <= 2100:
        raise BadInput(N_("A cap needs a year and an amount of 0 kr. or more."))
    cap = await repository.put_cap(session, municipality_id, year, cap_ore)
    await audit.record(
        session,
        actor=actor,
        action="copayment_cap.set",
        entity_type="copayment_cap",
        entity_id=f"{municipality_id}:{year}",
        municipality_id=municipality_id,
        data={"year": year, "cap_ore": cap_ore},
    )
    return cap


async def copayment_caps(session: AsyncSession, *, actor: Actor) -> list[CopaymentCap]:
    if actor.municipality_id is None:
        return []
    return list(await repository.list_caps(session, actor.municipality_id))


async def set_own_copayment_cap(
    session: AsyncSession, *, actor: Actor, year: int, cap_ore: int
) -> CopaymentCap:
    """A municipal admin sets the cap of their own municipality for a year."""
    if actor.municipality_id is None:
        raise CitizenNotFound()
    return await set_copayment_cap(
        session, actor=actor, municipality_id=actor.municipality_id, year=year, cap_ore=cap_ore
    )


async def _check_cap(
    session: AsyncSession, *, municipality_id: int, copayment_ore: int, year: int
) -> None:
    cap = await repository.get_cap(session, municipality_id, year)
    if cap is None:
        raise CapMissing(year)
    if copayment_ore > cap.cap_ore:
        raise CopaymentOverCap(format_kroner(copayment_ore), format_kroner(cap.cap_ore), year)


# --- citizens ------------------------------------------------------------------


def _staff_scope(actor: Actor, municipality_id: int) -> None:
    if actor.municipality_id is None or actor.municipality_id != municipality_id:
        raise CitizenNotFound()


async def _citizen_for_staff(session: AsyncSession, actor: Actor, citizen_id: int) -> Citizen:
    citizen = await repository.get_citizen(session, citizen_id)
    if citizen is None:
        raise CitizenNotFound()
    _staff_scope(actor, citizen.municipality_id)
    return citizen


async def citizen_in_scope(session: AsyncSession, *, actor: Actor, citizen_id: int) -> int:
    """For a form about a citizen: the citizen exists and is the actor's
    municipality's (else 404), without reading the record itself."""
    citizen = await _citizen_for_staff(session, actor, citizen_id)
    assert citizen.id is not None
    return citizen.id


async def grant_in_scope(session: AsyncSession, *, actor: Actor, grant_id: int) -> VoucherGrant:
    """For a form about a grant: the actor's municipality's grant, else 404."""
    grant = await repository.get_grant(session, grant_id)
    if grant is None or actor.municipality_id != grant.municipality_id:
        raise GrantNotFound()
    return grant


def _allergens(values: tuple[Allergen, ...] | list[str]) -> list[str]:
    try:
        return sorted({Allergen(v).value for v in values})
    except ValueError as exc:
        raise BadInput(N_("Allergies must be among the 14 EU allergens.")) from exc


def _login_for(municipality_id: int) -> str:
    return f"borger-{municipality_id}-{secrets.randbelow(10**8):08d}@{CITIZEN_LOGIN_DOMAIN}"


async def create_citizen(
    session: AsyncSession, *, actor: Actor, secret_key: str, details: CitizenDetails
) -> Citizen:
    if actor.municipality_id is None:
        raise CitizenNotFound()
    municipality_id = actor.municipality_id
    if not details.full_name.strip():
        raise BadInput(N_("Please give the citizen's full name."))
    if not details.address.strip():
        raise BadInput(N_("Please give the citizen's address."))
    digits, born = parse_cpr(details.cpr)
    postal = await municipalities.check_postal_codes(
        session, municipality_id=municipality_id, codes=[details.postal_code]
    )
    if len(postal) != 1:
        raise BadInput(N_("Please give the citizen's postal code."))
    if details.language not in ("da", "en"):
        raise BadInput(N_("The language must be Danish or English."))
    hashed = cpr_hash(secret_key, digits)
    if await repository.find_citizen_by_cpr_hash(session, municipality_id, hashed) is not None:
        raise CitizenExists()
    allergies = _allergens(details.allergies)
    user = await auth_service.create_user(
        session,
        actor=actor,
        email=details.email.strip()
        if details.email and details.email.strip()
        else _login_for(municipality_id),
        full_name=details.full_name,
        password=None,
        role=Role.CITIZEN,
        municipality_id=municipality_id,
    )
    assert user.id is not None
    citizen = await repository.add(
        session,
        Citizen(
            municipality_id=municipality_id,
            user_id=user.id,
            full_name=details.full_name.strip(),
            cpr_encrypted=crypto.encrypt(secret_key, digits),
            cpr_hash=hashed,
            birth_date=born,
            address=details.address.strip(),
            postal_code=postal[0],
            phone=(details.phone or "").strip() or None,
            language=details.language,
            diet_form=DietForm(details.diet_form),
            diet_notes=details.diet_notes.strip(),
            allergies=allergies,
            contact_name=(details.contact_name or "").strip() or None,
            contact_phone=(details.contact_phone or "").strip() or None,
        ),
    )
    assert citizen.id is not None
    await audit.record(
        session,
        actor=actor,
        action="citizen.created",
        entity_type="citizen",
        entity_id=citizen.id,
        municipality_id=municipality_id,
        data={"user_id": user.id, "postal_code": citizen.postal_code},
    )
    return citizen


# Names and addresses are far shorter; a longer text is a mistake (or an attack
# on the LIKE pattern), not a search.
SEARCH_MAX_CHARS = 100


async def search_citizens(
    session: AsyncSession, *, actor: Actor, secret_key: str, query: str
) -> list[Citizen]:
    """By name, address or postal code; a CPR number finds exactly that person."""
    if actor.municipality_id is None:
        return []
    text = query.strip()
    if len(text) > SEARCH_MAX_CHARS:
        raise SearchTooLong(SEARCH_MAX_CHARS)
    if looks_like_cpr(text):
        digits, _ = parse_cpr(text)
        found = await repository.find_citizen_by_cpr_hash(
            session, actor.municipality_id, cpr_hash(secret_key, digits)
        )
        return [found] if found else []
    return list(await repository.search_citizens(session, actor.municipality_id, text))


@dataclass
class CitizenRecord:
    citizen: Citizen
    user: User
    grants: list[VoucherGrant]
    proxies: list[tuple[ProxyLink, User]]
    letter_code_expires_at: datetime | None
    cpr_masked: str
    this_week: dict[int, dict[str, int]] = field(default_factory=dict)


async def open_citizen_record(
    session: AsyncSession, *, actor: Actor, citizen_id: int
) -> CitizenRecord:
    """A staff member opens a citizen's record: always an audit event."""
    citizen = await _citizen_for_staff(session, actor, citizen_id)
    record = await _record(session, citizen)
    await audit.record(
        session,
        actor=actor,
        action="citizen.viewed",
        entity_type="citizen",
        entity_id=citizen_id,
        municipality_id=citizen.municipality_id,
    )
    return record


async def _record(session: AsyncSession, citizen: Citizen) -> CitizenRecord:
    assert citizen.id is not None
    user = await repository.get_user(session, citizen.user_id)
    assert user is not None
    grants = list(await repository.grants_of_citizen(session, citizen.id))
    week = iso_week_of(today_in_copenhagen())
    balances = await repository.week_balances(session, [g.id for g in grants if g.id], [week])
    this_week = {
        g.id: {
            kind.value: balances.get((g.id, kind.value, week), 0)
            for kind in (AccountKind.AVAILABLE, AccountKind.RESERVED, AccountKind.REDEEMED)
        }
        for g in grants
        if g.id is not None
    }
    code = await repository.open_letter_code(session, citizen.user_id, utcnow())
    return CitizenRecord(
        citizen=citizen,
        user=user,
        grants=grants,
        proxies=await repository.proxies_of(session, citizen.id),
        letter_code_expires_at=code.expires_at if code else None,
        cpr_masked=mask_cpr(citizen.birth_date),
        this_week=this_week,
    )


# --- grants ------------------------------------------------------------------

GRANT_TRANSITIONS: dict[GrantStatus, frozenset[GrantStatus]] = {
    GrantStatus.ACTIVE: frozenset(
        {GrantStatus.SUPERSEDED, GrantStatus.REVOKED, GrantStatus.EXPIRED}
    ),
    GrantStatus.SUPERSEDED: frozenset(),
    GrantStatus.REVOKED: frozenset(),
    GrantStatus.EXPIRED: frozenset(),
}


def check_grant_transition(current: GrantStatus, wanted: GrantStatus) -> None:
    if wanted not in GRANT_TRANSITIONS[current]:
        raise GrantTransitionRefused(current.value, wanted.value)


async def _validate_terms(
    session: AsyncSession, *, municipality_id: int, terms: GrantTerms
) -> list[str]:
    if terms.units_per_week <= 0:
        raise BadInput(N_("Units per week must be at least 1."))
    if terms.units_per_week > MAX_UNITS_PER_WEEK:
        raise BadInput(N_("Units per week can be at most {most}."), most=MAX_UNITS_PER_WEEK)
    if terms.valid_to < terms.valid_from:
        raise BadInput(N_("The voucher must end on or after the day it starts."))
    if terms.reassess_on is not None and terms.reassess_on < terms.valid_from:
        raise BadInput(N_("The reassessment date must be on or after the day the voucher starts."))
    if terms.copayment_ore < 0:
        raise BadInput(N_("The co-payment cannot be negative."))
    await _check_cap(
        session,
        municipality_id=municipality_id,
        copayment_ore=terms.copayment_ore,
        year=terms.valid_from.year,
    )
    return _allergens(terms.allergies)


async def _add_grant(
    session: AsyncSession,
    *,
    actor: Actor,
    citizen: Citizen,
    terms: GrantTerms,
    allergies: list[str],
    supersedes_id: int | None = None,
) -> VoucherGrant:
    assert citizen.id is not None
    grant = await repository.add(
        session,
        VoucherGrant(
            municipality_id=citizen.municipality_id,
            citizen_id=citizen.id,
            service=terms.service,
            units_per_week=terms.units_per_week,
            diet_form=DietForm(terms.diet_form),
            allergies=allergies,
            valid_from=terms.valid_from,
            valid_to=terms.valid_to,
            reassess_on=terms.reassess_on,
            copayment_ore=terms.copayment_ore,
            rollover=terms.rollover,
            supersedes_id=supersedes_id,
            created_by_user_id=actor.user_id,
        ),
    )
    await issue_units(session, grant=grant, actor_user_id=actor.user_id)
    return grant


def _grant_audit(grant: VoucherGrant) -> dict[str, object]:
    return {
        "citizen_id": grant.citizen_id,
        "service": grant.service,
        "units_per_week": grant.units_per_week,
        "diet_form": grant.diet_form,
        "allergies": list(grant.allergies),
        "valid_from": grant.valid_from,
        "valid_to": grant.valid_to,
        "reassess_on": grant.reassess_on,
        "copayment_ore": grant.copayment_ore,
        "rollover": grant.rollover,
        "supersedes_id": grant.supersedes_id,
    }


async def grant_voucher(
    session: AsyncSession, *, actor: Actor, citizen_id: int, terms: GrantTerms
) -> VoucherGrant:
    """Records an assessment that grants a voucher."""
    citizen = await _citizen_for_staff(session, actor, citizen_id)
    allergies = await _validate_terms(session, municipality_id=citizen.municipality_id, terms=terms)
    overlapping = await repository.active_grants_overlapping(
        session, citizen_id, terms.service.value, terms.valid_from, terms.valid_to
    )
    if overlapping:
        raise InvalidInput(
            N_(
                "The citizen already has an active voucher for this service in that period. "
                "Change it instead (a new assessment that supersedes it)."
            )
        )
    grant = await _add_grant(
        session, actor=actor, citizen=citizen, terms=terms, allergies=allergies
    )
    assert grant.id is not None
    await audit.record(
        session,
        actor=dataclasses.replace(actor, on_behalf_of_user_id=citizen.user_id),
        action="grant.created",
        entity_type="grant",
        entity_id=grant.id,
        municipality_id=grant.municipality_id,
        data=_grant_audit(grant),
    )
    return grant


async def _grant_for_staff(
    session: AsyncSession, actor: Actor, grant_id: int
) -> tuple[VoucherGrant, Citizen]:
    grant = await repository.get_grant_for_update(session, grant_id)
    if grant is None or actor.municipality_id != grant.municipality_id:
        raise GrantNotFound()
    citizen = await repository.get_citizen(session, grant.citizen_id)
    assert citizen is not None
    return grant, citizen


async def supersede_grant(
    session: AsyncSession, *, actor: Actor, grant_id: int, terms: GrantTerms
) -> VoucherGrant:
    """A new assessment replaces a grant from ``terms.valid_from``: the old one
    ends the day before, and what it had reserved after that is released."""
    old, citizen = await _grant_for_staff(session, actor, grant_id)
    check_grant_transition(old.status, GrantStatus.SUPERSEDED)
    if not old.valid_from < terms.valid_from <= old.valid_to:
        raise BadInput(
            N_("The new voucher must start after {start} and no later than {end}."),
            start=old.valid_from.isoformat(),
            end=old.valid_to.isoformat(),
        )
    terms = dataclasses.replace(terms, service=old.service)
    allergies = await _validate_terms(session, municipality_id=old.municipality_id, terms=terms)
    old.status = GrantStatus.SUPERSEDED
    old.valid_to = terms.valid_from - timedelta(days=1)
    old.ended_at = utcnow()
    old.ended_reason = "superseded"
    await repository.flush(session)
    await _close_after_end(session, grant=old, actor=actor)
    assert old.id is not None
    new = await _add_grant(
        session,
        actor=actor,
        citizen=citizen,
        terms=terms,
        allergies=allergies,
        supersedes_id=old.id,
    )
    assert new.id is not None
    acting = dataclasses.replace(actor, on_behalf_of_user_id=citizen.user_id)
    await audit.record(
        session,
        actor=acting,
        action="grant.superseded",
        entity_type="grant",
        entity_id=old.id,
        municipality_id=old.municipality_id,
        data={"superseded_by": new.id, "valid_to": old.valid_to},
    )
    await audit.record(
        session,
        actor=acting,
        action="grant.created",
        entity_type="grant",
        entity_id=new.id,
        municipality_id=new.municipality_id,
        data=_grant_audit(new),
    )
    return new


async def revoke_grant(
    session: AsyncSession,
    *,
    actor: Actor,
    grant_id: int,
    reason: str,
    ends_on: date | None = None,
) -> VoucherGrant:
    """Ends a grant early (by default today is its last day); units reserved
    for days after its end are released and expire."""
    grant, citizen = await _grant_for_staff(session, actor, grant_id)
    check_grant_transition(grant.status, GrantStatus.REVOKED)
    if not reason.strip():
        raise BadInput(N_("Please give a reason for revoking the voucher."))
    last_day = ends_on or today_in_copenhagen()
    if last_day > grant.valid_to:
        raise BadInput(
            N_("The voucher already ends on {end}; it cannot be revoked from a later day."),
            end=grant.valid_to.isoformat(),
        )
    grant.status = GrantStatus.REVOKED
    grant.valid_to = max(last_day, grant.valid_from - timedelta(days=1))
    grant.ended_at = utcnow()
    grant.ended_reason = reason.strip()[:500]
    await repository.flush(session)
    await _close_after_end(session, grant=grant, actor=actor)
    assert grant.id is not None
    await audit.record(
        session,
        actor=dataclasses.replace(actor, on_behalf_of_user_id=citizen.user_id),
        action="grant.revoked",
        entity_type="grant",
        entity_id=grant.id,
        municipality_id=grant.municipality_id,
        data={"reason": grant.ended_reason, "valid_to": grant.valid_to},
    )
    return grant


async def expire_grant(
    session: AsyncSession, *, grant_id: int, actor: Actor | None = None, today: date | None = None
) -> VoucherGrant:
    """A grant whose last day has passed becomes expired; its weeks are closed."""
    grant = await _get_grant(session, grant_id, lock=True)
    check_grant_transition(grant.status, GrantStatus.EXPIRED)
    if grant.valid_to >= (today or today_in_copenhagen()):
        raise BadInput(
            N_("The voucher is valid until {end}; it has not expired."),
            end=grant.valid_to.isoformat(),
        )
    assert grant.id is not None
    for week in weeks_between(grant.valid_from, grant.valid_to):
        await expire_week(session, grant_id=grant.id, iso_week=week, actor=actor)
    await _close_after_end(session, grant=grant, actor=actor)
    grant.status = GrantStatus.EXPIRED
    grant.ended_at = utcnow()
    grant.ended_reason = "expired"
    await repository.flush(session)
    await audit.record(
        session,
        actor=actor,
        action="grant.expired",
        entity_type="grant",
        entity_id=grant.id,
        municipality_id=grant.municipality_id,
        data={"valid_to": grant.valid_to},
    )
    return grant


async def close_past_weeks(
    session: AsyncSession, *, today: date | None = None, actor: Actor | None = None
) -> int:
    """The weekly job (idempotent, safe to run daily): every week that has ended
    is closed (its leftover units expire or roll over), and grants whose last
    day has passed become expired. Returns how many weeks were closed."""
    day = today or today_in_copenhagen()
    closed = 0
    for grant_id in await grants_with_weeks_to_close(session, today=day):
        closed += await close_grant_weeks(session, grant_id=grant_id, today=day, actor=actor)
    return closed


async def grants_with_weeks_to_close(session: AsyncSession, *, today: date) -> list[int]:
    this_monday = today - timedelta(days=today.weekday())
    return await repository.grants_with_weeks_to_close(
        session, this_monday=this_monday, today=today
    )


async def close_grant_weeks(
    session: AsyncSession, *, grant_id: int, today: date, actor: Actor | None = None
) -> int:
    """One grant's ended weeks, from the day after the last one closed: the
    runner commits per grant and never walks a grant's whole history again."""
    grant = await _get_grant(session, grant_id)
    this_monday = today - timedelta(days=today.weekday())
    last_week_end = min(grant.valid_to, this_monday - timedelta(days=1))
    through = await repository.closed_through(session, grant_id)
    start = grant.valid_from if through is None else max(grant.valid_from, through + timedelta(1))
    closed = 0
    if start <= last_week_end:
        for week in weeks_between(start, last_week_end):
            move = await expire_week(session, grant_id=grant_id, iso_week=week, actor=actor)
            if move is not None and not move.replayed:
                closed += 1
        await repository.set_closed_through(session, grant_id, last_week_end)
    if grant.status == GrantStatus.ACTIVE and grant.valid_to < today:
        await expire_grant(session, grant_id=grant_id, actor=actor, today=today)
    return closed


async def acting_for_citizen(session: AsyncSession, *, actor: Actor, citizen_id: int) -> Actor:
    """For the ordering flow: may this actor act for this citizen? Returns the
    actor to record (a proxy or case worker acting on the citizen's behalf), or
    raises NotFound. Staff: same municipality; a citizen: only themself; a
    proxy: only citizens they are linked to now."""
    citizen = await repository.get_citizen(session, citizen_id)
    if citizen is None:
        raise CitizenNotFound()
    assert citizen.id is not None
    if actor.role == Role.CITIZEN:
        if citizen.user_id != actor.user_id:
            raise CitizenNotFound()
        return actor
    if actor.role == Role.PROXY:
        if await repository.active_link(session, citizen.id, actor.user_id) is None:
            raise NotYourCitizen()
    else:
        _staff_scope(actor, citizen.municipality_id)
    return dataclasses.replace(actor, on_behalf_of_user_id=citizen.user_id)


# --- proxies -------------------------------------------------------------------


@dataclass
class ProxyLinked:
    link: ProxyLink
    user: User
    letter_code: str | None


async def link_proxy(
    session: AsyncSession,
    *,
    actor: Actor,
    settings: Settings,
    citizen_id: int,
    full_name: str,
    email: str,
    relation: str = "",
) -> ProxyLinked:
    """Links a relative or helper with their own login. A new proxy gets a
    one-time code to set their password."""
    citizen = await _citizen_for_staff(session, actor, citizen_id)
    assert citizen.id is not None
    email = auth_service.normalise_email(email)
    user = await repository.get_user_by_email(session, email)
    code: str | None = None
    if user is None:
        user = await auth_service.create_user(
            session,
            actor=actor,
            email=email,
            full_name=full_name,
            password=None,
            role=Role.PROXY,
            municipality_id=citizen.municipality_id,
        )
        code, _ = await _new_letter_code(
            session, settings=settings, actor=actor, user=user, citizen=citizen
        )
    elif user.role != Role.PROXY or user.municipality_id != citizen.municipality_id:
        raise BadInput(N_("{email} belongs to a user who cannot be a proxy here."), email=email)
    assert user.id is not None
    if await repository.active_link(session, citizen.id, user.id) is not None:
        raise BadInput(N_("{email} is already linked to this citizen."), email=email)
    link = await repository.add(
        session,
        ProxyLink(
            citizen_id=citizen.id,
            proxy_user_id=user.id,
            relation=relation.strip()[:100],
            created_by_user_id=actor.user_id,
        ),
    )
    assert link.id is not None
    await audit.record(
        session,
        actor=dataclasses.replace(actor, on_behalf_of_user_id=citizen.user_id),
        action="proxy.linked",
        entity_type="proxy_link",
        entity_id=link.id,
        municipality_id=citizen.municipality_id,
        data={"citizen_id": citizen.id, "proxy_user_id": user.id, "relation": link.relation},
    )
    return ProxyLinked(link=link, user=user, letter_code=code)


async def unlink_proxy(
    session: AsyncSession, *, actor: Actor, citizen_id: int, link_id: int
) -> ProxyLink:
    citizen = await _citizen_for_staff(session, actor, citizen_id)
    link = await repository.get_link(session, link_id)
    if link is None or link.citizen_id != citizen.id:
        raise ProxyNotFound()
    if link.revoked_at is not None:
        raise GrantTransitionRefused("revoked", "revoked")
    link.revoked_at = utcnow()
    await repository.flush(session)
    assert link.id is not None
    await audit.record(
        session,
        actor=dataclasses.replace(actor, on_behalf_of_user_id=citizen.user_id),
        action="proxy.unlinked",
        entity_type="proxy_link",
        entity_id=link.id,
        municipality_id=citizen.municipality_id,
        data={"citizen_id": citizen.id, "proxy_user_id": link.proxy_user_id},
    )
    return link


async def proxy_in_scope(session: AsyncSession, *, actor: Actor | None, proxy_user_id: int) -> User:
    """A proxy's login that staff may act on: one of their municipality's, else 404."""
    user = await repository.get_user(session, proxy_user_id)
    if user is None or user.role != Role.PROXY or user.id is None:
        raise ProxyNotFound()
    if actor is not None:
        assert user.municipality_id is not None
        _staff_scope(actor, user.municipality_id)
    return user


async def set_proxy_cpr(
    session: AsyncSession,
    *,
    actor: Actor | None,
    settings: Settings,
    proxy_user_id: int,
    cpr: str,
) -> None:
    """Keeps a proxy's own CPR number as a keyed hash only (never in clear), so
    they can sign in with their own MitID. Staff may do it for a proxy linked to
    a citizen of their municipality; ``actor`` None is the command line."""
    user = await proxy_in_scope(session, actor=actor, proxy_user_id=proxy_user_id)
    assert user.id is not None
    digits, _ = parse_cpr(cpr)
    hashed = cpr_hash(settings.secret_key.get_secret_value(), digits)
    taken = await repository.proxy_by_cpr_hash(session, hashed)
    if taken is not None and taken.user_id != user.id:
        raise BadInput(N_("This CPR number already belongs to another proxy's login."))
    current = await repository.proxy_identity_of(session, user.id)
    if current is not None and current.id is not None:
        await repository.delete_proxy_identity(session, current.id)
        await repository.flush(session)
    await repository.add(
        session,
        ProxyIdentity(
            user_id=user.id,
            cpr_hash=hashed,
            created_by_user_id=actor.user_id if actor else None,
        ),
    )
    await audit.record(
        session,
        actor=actor,
        action="proxy.cpr_recorded",
        entity_type="user",
        entity_id=user.id,
        municipality_id=user.municipality_id,
        data={"replaced": current is not None},
    )


@dataclass
class MitIDMatch:
    """Who a MitID sign-in is, in one municipality: the citizen (and whether they
    hold a voucher now) and/or a proxy with current links there."""

    citizen_user_id: int | None
    citizen_has_voucher: bool
    proxy_user_id: int | None


async def match_mitid(
    session: AsyncSession, *, settings: Settings, municipality_id: int, cpr_digits: str
) -> MitIDMatch:
    """Looks the CPR up by its keyed hash only; the number is not kept."""
    hashed = cpr_hash(settings.secret_key.get_secret_value(), cpr_digits)
    citizen = await repository.find_citizen_by_cpr_hash(session, municipality_id, hashed)
    has_voucher = False
    if citizen is not None and citizen.id is not None:
        has_voucher = (
            await repository.active_grant_on(session, citizen.id, today_in_copenhagen()) is not None
        )
    proxy_user_id = None
    proxy = await repository.proxy_by_cpr_hash(session, hashed)
    if proxy is not None:
        user = await repository.get_user(session, proxy.user_id)
        linked = await repository.citizens_of_proxy(session, proxy.user_id)
        if (
            user is not None
            and user.is_active
            and user.municipality_id == municipality_id
            and any(c.municipality_id == municipality_id for c in linked)
        ):
            proxy_user_id = user.id
    return MitIDMatch(
        citizen_user_id=citizen.user_id if citizen else None,
        citizen_has_voucher=has_voucher,
        proxy_user_id=proxy_user_id,
    )


# --- letter codes ------------------------------------------------------------


def format_letter_code(code: str) -> str:
    return f"{code[:4]}-{code[4:]}"


def normalise_letter_code(text: str) -> str:
    return re.sub(r"[^A-Z0-9]", "", text.upper())


def _letter_hash(secret_key: str, code: str) -> str:
    return crypto.keyed_hash(secret_key, code, purpose="letter-code")


# Key rotation (market keys rotate) recomputes the look-up hash of every letter code.
letter_code_hash = _letter_hash


async def _new_letter_code(
    session: AsyncSession, *, settings: Settings, actor: Actor, user: User, citizen: Citizen
) -> tuple[str, LetterCode]:
    assert user.id is not None and citizen.id is not None
    secret_key = settings.secret_key.get_secret_value()
    now = utcnow()
    await repository.replace_open_codes(session, user.id, now)
    code = "".join(secrets.choice(LETTER_CODE_ALPHABET) for _ in range(LETTER_CODE_LENGTH))
    row = await repository.add(
        session,
        LetterCode(
            user_id=user.id,
            citizen_id=citizen.id,
            code_hash=_letter_hash(secret_key, code),
            code_encrypted=crypto.encrypt(secret_key, code),
            created_by_user_id=actor.user_id,
            created_at=now,
            expires_at=now + timedelta(days=LETTER_CODE_DAYS),
        ),
    )
    assert row.id is not None
    await audit.record(
        session,
        actor=actor,
        action="letter_code.issued",
        entity_type="user",
        entity_id=user.id,
        municipality_id=citizen.municipality_id,
        data={"letter_code_id": row.id, "citizen_id": citizen.id, "expires_at": row.expires_at},
    )
    return format_letter_code(code), row


async def issue_letter_code(
    session: AsyncSession, *, actor: Actor, settings: Settings, citizen_id: int
) -> tuple[str, datetime]:
    """A new one-time code for the citizen's letter; any earlier code stops working."""
    citizen = await _citizen_for_staff(session, actor, citizen_id)
    user = await repository.get_user(session, citizen.user_id)
    assert user is not None
    code, row = await _new_letter_code(
        session, settings=settings, actor=actor, user=user, citizen=citizen
    )
    return code, row.expires_at


@dataclass
class Letter:
    citizen: Citizen
    user: User
    municipality_name: str
    grant: VoucherGrant | None
    code: str | None
    code_expires_at: datetime | None


async def letter(
    session: AsyncSession, *, actor: Actor, settings: Settings, citizen_id: int
) -> Letter:
    """The welcome letter with the current code (if one is open). Opening it is
    reading the citizen's record: an audit event."""
    citizen = await _citizen_for_staff(session, actor, citizen_id)
    user = await repository.get_user(session, citizen.user_id)
    assert user is not None and citizen.id is not None
    municipality = await municipalities.get(session, municipality_id=citizen.municipality_id)
    grant = await repository.active_grant_on(session, citizen.id, today_in_copenhagen())
    if grant is None:
        grants = [
            g
            for g in await repository.grants_of_citizen(session, citizen.id)
            if g.status == GrantStatus.ACTIVE
        ]
        grant = grants[0] if grants else None
    open_code = await repository.open_letter_code(session, citizen.user_id, utcnow())
    code = None
    if open_code is not None:
        code = format_letter_code(
            crypto.decrypt(settings.secret_key.get_secret_value(), open_code.code_encrypted)
        )
    await audit.record(
        session,
        actor=actor,
        action="citizen.viewed",
        entity_type="citizen",
        entity_id=citizen.id,
        municipality_id=citizen.municipality_id,
        data={"page": "letter"},
    )
    return Letter(
        citizen=citizen,
        user=user,
        municipality_name=municipality.name,
        grant=grant,
        code=code,
        code_expires_at=open_code.expires_at if open_code else None,
    )


async def sign_in_with_letter_code(
    session: AsyncSession, *, settings: Settings, code: str, client_address: str
) -> tuple[User, str]:
    """Signs a person in once with their letter code; returns the user and a
    session token. Every use, accepted or refused, is an audit event (never with
    the code itself). Failures are counted per client address and for the whole
    sign-in (market.auth.throttle); past the limits the answer is a 429."""
    now = utcnow()
    address_key = throttle.key(settings, "letter-code-address", client_address)
    everyone_key = throttle.key(settings, "letter-code-all", "all")
    wait = max(
        await throttle.seconds_locked(session, key=address_key, now=now),
        await throttle.seconds_locked(session, key=everyone_key, now=now),
    )
    if wait:
        raise LetterCodeBackedOff(wait)
    try:
        user, token = await _use_letter_code(
            session, settings=settings, code=code, client_address=client_address, now=now
        )
    except (LetterCodeInvalid, LetterCodeExpired):
        for key, after in (
            (address_key, settings.letter_code_backoff_after),
            (everyone_key, settings.letter_code_global_backoff_after),
        ):
            await throttle.record_failure(session, settings=settings, key=key, after=after, now=now)
        raise
    await throttle.reset(session, key=address_key)
    return user, token


async def _use_letter_code(
    session: AsyncSession, *, settings: Settings, code: str, client_address: str, now: datetime
) -> tuple[User, str]:
    cleaned = normalise_letter_code(code)
    row = None
    if len(cleaned) == LETTER_CODE_LENGTH:
        row = await repository.find_letter_code(
            session, _letter_hash(settings.secret_key.get_secret_value(), cleaned)
        )
    if row is None:
        # No account to file it under: it goes to the platform's chain.
        await audit.record(
            session,
            actor=None,
            action="letter_code.refused",
            entity_type="letter_code",
            entity_id="unknown",
            municipality_id=None,
            data={"reason": "unknown", "client_address": client_address},
        )
        raise LetterCodeInvalid()
    assert row.id is not None
    user = await repository.get_user(session, row.user_id)
    assert user is not None and user.id is not None
    refusal: AppError | None = None
    if row.used_at is not None or row.replaced_at is not None or not user.is_active:
        refusal = LetterCodeInvalid()
    elif row.expires_at <= now:
        refusal = LetterCodeExpired()
    elif not await repository.mark_code_used(session, row.id, now):
        refusal = LetterCodeInvalid()
    if refusal is not None:
        await audit.record(
            session,
            actor=None,
            action="letter_code.refused",
            entity_type="user",
            entity_id=user.id,
            municipality_id=user.municipality_id,
            data={
                "letter_code_id": row.id,
                "reason": refusal.code,
                "client_address": client_address,
            },
        )
        raise refusal
    token = await auth_service.open_session(session, settings=settings, user=user)
    await audit.record(
        session,
        actor=auth_service.actor_for(user),
        action="letter_code.used",
        entity_type="user",
        entity_id=user.id,
        municipality_id=user.municipality_id,
        data={"letter_code_id": row.id, "client_address": client_address},
    )
    return user, token


async def set_own_password(session: AsyncSession, *, actor: Actor, password: str) -> User:
    """After signing in with a letter code, a citizen or proxy picks a password."""
    if len(password) < auth_service.MIN_PASSWORD_LENGTH:
        raise WeakPassword()
    user = await repository.get_user(session, actor.user_id)
    assert user is not None
    await repository.set_password_hash(
        session, actor.user_id, await hash_password_off_loop(password)
    )
    await audit.record(
        session,
        actor=actor,
        action="user.password_set",
        entity_type="user",
        entity_id=actor.user_id,
        municipality_id=user.municipality_id,
    )
    return user


async def own_login(session: AsyncSession, *, actor: Actor) -> User:
    user = await repository.get_user(session, actor.user_id)
    assert user is not None
    return user


# --- my voucher --------------------------------------------------------------


@dataclass
class WeekView:
    iso_week: str
    week: int
    starts_on: date
    units_left: int
    units_reserved: int
    units_used: int


@dataclass
class VoucherView:
    citizen: Citizen | None
    grant: VoucherGrant | None
    weeks: list[WeekView]
    choices: list[Citizen]


async def _citizen_for_voucher(
    session: AsyncSession, actor: Actor, citizen_id: int | None
) -> tuple[Citizen | None, list[Citizen]]:
    if actor.role == Role.CITIZEN:
        citizen = await repository.get_citizen_by_user(session, actor.user_id)
        if citizen is None or (citizen_id is not None and citizen.id != citizen_id):
            raise NotYourCitizen()
        return citizen, []
    if actor.role == Role.PROXY:
        linked = list(await repository.citizens_of_proxy(session, actor.user_id))
        if citizen_id is None:
            return (linked[0], linked) if len(linked) == 1 else (None, linked)
        for citizen in linked:
            if citizen.id == citizen_id:
                return citizen, linked
        raise NotYourCitizen()
    raise NotYourCitizen()


async def my_voucher(
    session: AsyncSession,
    *,
    actor: Actor,
    citizen_id: int | None = None,
    weeks_ahead: int = 3,
    today: date | None = None,
) -> VoucherView:
    """Units left this week and the coming weeks, and what the citizen pays per unit."""
    day = today or today_in_copenhagen()
    citizen, choices = await _citizen_for_voucher(session, actor, citizen_id)
    if citizen is None:
        return VoucherView(citizen=None, grant=None, weeks=[], choices=choices)
    assert citizen.id is not None
    grant = await repository.active_grant_on(session, citizen.id, day)
    if grant is None:
        upcoming = [
            g
            for g in await repository.grants_of_citizen(session, citizen.id)
            if g.status == GrantStatus.ACTIVE and g.valid_to >= day
        ]
        grant = min(upcoming, key=lambda g: g.valid_from) if upcoming else None
    weeks: list[WeekView] = []
    if grant is not None and grant.id is not None:
        codes = [iso_week_of(day + timedelta(days=7 * i)) for i in range(weeks_ahead + 1)]
        balances = await repository.week_balances(session, [grant.id], codes)
        allotted = await repository.existing_keys(session, [f"allot:{grant.id}:{w}" for w in codes])
        for week in codes:

            def bal(kind: AccountKind, week: str = week) -> int:
                return balances.get((grant.id, kind.value, week), 0)  # type: ignore[arg-type]

            left = bal(AccountKind.AVAILABLE)
            if f"allot:{grant.id}:{week}" not in allotted:
                left += _grant_allotment(grant, week)
            weeks.append(
                WeekView(
                    iso_week=week,
                    week=week_number(week),
                    starts_on=week_monday(week),
                    units_left=left,
                    units_reserved=bal(AccountKind.RESERVED),
                    units_used=bal(AccountKind.REDEEMED),
                )
            )
    return VoucherView(citizen=citizen, grant=grant, weeks=weeks, choices=choices)


# --- for the ordering flow ------------------------------------------------------


async def citizen_for_ordering(
    session: AsyncSession, *, actor: Actor, citizen_id: int | None
) -> tuple[Citizen, Actor]:
    """The citizen an order is for and the actor to record. A citizen may leave
    citizen_id out (they order for themself); everyone else names the citizen."""
    if citizen_id is None:
        if actor.role != Role.CITIZEN:
            raise BadInput(N_("Say which citizen the order is for."))
        citizen = await repository.get_citizen_by_user(session, actor.user_id)
        if citizen is None:
            raise CitizenNotFound()
        return citizen, actor
    acting = await acting_for_citizen(session, actor=actor, citizen_id=citizen_id)
    citizen = await repository.get_citizen(session, citizen_id)
    assert citizen is not None
    return citizen, acting


async def active_grant_on(
    session: AsyncSession, *, citizen_id: int, day: date
) -> VoucherGrant | None:
    return await repository.active_grant_on(session, citizen_id, day)


async def get_citizen(session: AsyncSession, *, citizen_id: int) -> Citizen:
    """For notices that must reach the citizen's contact (e.g. a welfare alert)."""
    citizen = await repository.get_citizen(session, citizen_id)
    if citizen is None:
        raise CitizenNotFound()
    return citizen


# --- batch look-ups for the ordering flow (kitchen lists, alert queue) ---
# The caller decides who may see whom: market.orders passes only the citizens
# and grants of orders the actor's provider or municipality already holds.


async def citizens_by_ids(session: AsyncSession, *, citizen_ids: list[int]) -> dict[int, Citizen]:
    return await repository.citizens_by_ids(session, citizen_ids)


async def grants_by_ids(session: AsyncSession, *, grant_ids: list[int]) -> dict[int, VoucherGrant]:
    return await repository.grants_by_ids(session, grant_ids)
