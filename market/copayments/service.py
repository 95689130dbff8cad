"""The rules of the citizens' monthly co-payment statements (DESIGN.md
"Prices and who pays", "Payment"): the citizen owes the co-payment for a
delivered meal and for a late cancellation, for a citizen-absent failure only
where the municipality says so, and never for a provider's failure. A meal
whose co-payment a card paid is not on a statement; no meal is on two."""

import csv
import io
from dataclasses import dataclass, field
from datetime import date

from sqlalchemy.ext.asyncio import AsyncSession

from market.audit import service as audit
from market.auth.models import Role
from market.auth.permissions import Actor, Permission
from market.clock import add_months, first_of_month, today
from market.copayments import repository
from market.copayments.exceptions import MonthNotEnded, NothingNewToCharge
from market.copayments.models import CopaymentStatement
from market.copayments.repository import LineRow, MonthSummary, StatementRow
from market.db import utcnow
from market.errors import N_, InvalidInput, NotFound, PermissionDenied
from market.municipalities import service as municipalities
from vouchers import service as vouchers
from vouchers.models import Citizen


def _municipality_of(actor: Actor, permission: Permission) -> int:
    if not actor.can(permission):
        raise PermissionDenied(N_("You may not see or issue co-payment statements."))
    if actor.municipality_id is None:
        raise PermissionDenied(N_("Only staff of a municipality can do this."))
    return actor.municipality_id


@dataclass(frozen=True)
class IssueResult:
    month_on: date
    statement_ids: list[int]
    lines: int
    total_ore: int


async def issue_month(session: AsyncSession, *, actor: Actor, month_on: date) -> IssueResult:
    """Issues the month's statements for the admin's municipality: one per
    citizen with meals owed and not yet charged. Issuing a month again issues a
    further statement only for meals that became owed since (a card declined
    after the first issue); with nothing new it refuses."""
    municipality_id = _municipality_of(actor, Permission.COPAYMENT_STATEMENT_ISSUE)
    month_on = first_of_month(month_on)
    if add_months(month_on, 1) > today():
        raise MonthNotEnded(month_on)
    municipality = await repository.lock_municipality(session, municipality_id)
    if municipality is None:
        raise NotFound(N_("That municipality does not exist."))
    ids = await repository.issue(
        session,
        municipality_id=municipality_id,
        month_on=month_on,
        next_month=add_months(month_on, 1),
        charge_absent=municipality.charge_copayment_when_absent,
        issued_by_user_id=actor.user_id,
        issued_at=utcnow(),
    )
    if not ids:
        raise NothingNewToCharge(month_on)
    totals = await repository.totals_of(session, ids)
    await audit.record(
        session,
        actor=actor,
        action="copayment_statements.issued",
        entity_type="municipality",
        entity_id=municipality_id,
        municipality_id=municipality_id,
        data={
            "month_on": month_on,
            "statements": totals.statements,
            "lines": totals.lines,
            "total_ore": totals.total_ore,
            "statement_ids": ids,
            "charge_copayment_when_absent": municipality.charge_copayment_when_absent,
        },
    )
    return IssueResult(month_on, ids, totals.lines, totals.total_ore)


async def charges_when_absent(session: AsyncSession, *, actor: Actor) -> bool:
    """The municipality's setting: does a citizen-absent failure cost the citizen
    the co-payment? (DESIGN.md: off unless the municipality decides otherwise.)"""
    municipality = await municipalities.get(
        session, municipality_id=_municipality_of(actor, Permission.COPAYMENT_VIEW)
    )
    return municipality.charge_copayment_when_absent


async def set_charge_when_absent(session: AsyncSession, *, actor: Actor, charge: bool) -> bool:
    """Applies to failures recorded from now on (a card payment is captured or
    released when the failure is recorded) and to statements issued from now on."""
    municipality_id = _municipality_of(actor, Permission.COPAYMENT_STATEMENT_ISSUE)
    before = await charges_when_absent(session, actor=actor)
    if before != charge:
        await municipalities.set_copayment_when_absent(
            session, municipality_id=municipality_id, charge=charge
        )
        await audit.record(
            session,
            actor=actor,
            action="municipality.copayment_when_absent_set",
            entity_type="municipality",
            entity_id=municipality_id,
            municipality_id=municipality_id,
            data={"from": before, "to": charge},
        )
    return charge


async def months(session: AsyncSession, *, actor: Actor) -> list[MonthSummary]:
    """Every month with statements in the actor's municipality, newest first."""
    municipality_id = _municipality_of(actor, Permission.COPAYMENT_VIEW)
    return await repository.months(session, municipality_id)


@dataclass(frozen=True)
class CitizenTotal:
    citizen: Citizen
    cpr_masked: str
    statements: list[CopaymentStatement]

    @property
    def total_ore(self) -> int:
        return sum(s.total_ore for s in self.statements)

    @property
    def lines(self) -> int:
        return sum(s.lines for s in self.statements)


async def month_statements(
    session: AsyncSession, *, actor: Actor, month_on: date
) -> list[CitizenTotal]:
    """The month's statements grouped per citizen, by name."""
    municipality_id = _municipality_of(actor, Permission.COPAYMENT_VIEW)
    rows = await repository.statements_of_month(session, municipality_id, first_of_month(month_on))
    grouped: dict[int, CitizenTotal] = {}
    for row in rows:
        assert row.citizen.id is not None
        if row.citizen.id not in grouped:
            grouped[row.citizen.id] = CitizenTotal(
                row.citizen, vouchers.mask_cpr(row.citizen.birth_date), []
            )
        grouped[row.citizen.id].statements.append(row.statement)
    return list(grouped.values())


CSV_HEADER = (
    "statement_no",
    "month",
    "sequence",
    "citizen_name",
    "cpr_masked",
    "address",
    "postal_code",
    "meals",
    "amount_ore",
    "amount_dkk",
)


async def month_csv(session: AsyncSession, *, actor: Actor, month_on: date) -> str:
    """The month's statements for the municipality's billing, one row per
    statement (its number is the key: bill each number once)."""
    municipality_id = _municipality_of(actor, Permission.COPAYMENT_VIEW)
    rows: list[StatementRow] = await repository.statements_of_month(
        session, municipality_id, first_of_month(month_on)
    )
    out = io.StringIO()
    # Semicolons and decimal points: Danish spreadsheets read it, and so do machines.
    writer = csv.writer(out, delimiter=";", lineterminator="\r\n")
    writer.writerow(CSV_HEADER)
    for row in rows:
        s, c = row.statement, row.citizen
        whole, ore = divmod(s.total_ore, 100)
        writer.writerow(
            (
                s.id,
                s.month_on.strftime("%Y-%m"),
                s.sequence,
                c.full_name,
                vouchers.mask_cpr(c.birth_date),
                c.address,
                c.postal_code,
                s.lines,
                s.total_ore,
                f"{whole}.{ore:02d}",
            )
        )
    await audit.record(
        session,
        actor=actor,
        action="copayment_statements.exported",
        entity_type="municipality",
        entity_id=municipality_id,
        municipality_id=municipality_id,
        data={"month_on": first_of_month(month_on), "statements": len(rows)},
    )
    return out.getvalue()


@dataclass(frozen=True)
class StatementView:
    statement: CopaymentStatement
    lines: list[LineRow]


@dataclass(frozen=True)
class CitizenStatements:
    citizen: Citizen | None  # None: a proxy linked to several must choose
    statements: list[StatementView]
    choices: list[Citizen] = field(default_factory=list)


async def _statements_view(session: AsyncSession, citizen: Citizen) -> CitizenStatements:
    assert citizen.id is not None
    statements = list(await repository.statements_of_citizen(session, citizen.id))
    lines = await repository.lines_of(session, [s.id for s in statements if s.id is not None])
    return CitizenStatements(
        citizen, [StatementView(s, lines.get(s.id or 0, [])) for s in statements]
    )


async def citizen_statements(
    session: AsyncSession, *, actor: Actor, citizen_id: int
) -> CitizenStatements:
    """A citizen's statements as staff of the municipality see them (a read of
    the citizen's record, so an audit event)."""
    municipality_id = _municipality_of(actor, Permission.COPAYMENT_VIEW)
    citizen = await repository.get_citizen(session, citizen_id)
    if citizen is None or citizen.municipality_id != municipality_id:
        raise NotFound(N_("That citizen does not exist, or is not yours to see."))
    view = await _statements_view(session, citizen)
    await audit.record(
        session,
        actor=actor,
        action="copayment_statements.viewed",
        entity_type="citizen",
        entity_id=citizen_id,
        municipality_id=municipality_id,
    )
    return view


async def own_statements(
    session: AsyncSession, *, actor: Actor, citizen_id: int | None = None
) -> CitizenStatements:
    """The citizen's own statements, or those of a citizen a proxy is linked to."""
    if actor.role in (Role.CITIZEN, Role.PROXY):
        citizen, linked = await vouchers.own_citizen(session, actor=actor, citizen_id=citizen_id)
        if citizen is None:
            return CitizenStatements(None, [], linked)
        view = await _statements_view(session, citizen)
        return CitizenStatements(view.citizen, view.statements, linked)
    raise InvalidInput(N_("Choose the citizen whose co-payments you want to see."))
