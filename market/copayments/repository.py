"""Every query of the co-payment statements. Issuing a month is three
set-based statements (INSERT … SELECT twice, one UPDATE), whatever the number
of citizens and meals."""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import and_, case, exists, func, insert, literal, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql import ColumnElement

from market.copayments.models import CopaymentStatement, CopaymentStatementLine
from market.municipalities.models import Municipality
from market.orders.models import FailureReason, Order, OrderStatus
from market.payments.models import CardPayment, CardPaymentStatus
from providers.models import Offer
from vouchers.models import Citizen

OC = Order.__table__.c  # type: ignore[attr-defined]
S = CopaymentStatement.__table__.c  # type: ignore[attr-defined]
L = CopaymentStatementLine.__table__.c  # type: ignore[attr-defined]
CP = CardPayment.__table__.c  # type: ignore[attr-defined]

# A card payment in these states has paid the co-payment, or may still pay it
# (the capture is on its way): such an order is not put on a statement. One
# that ends declined or released becomes owed, and a later issue picks it up.
CARD_SETTLES = (
    CardPaymentStatus.CAPTURED,
    CardPaymentStatus.AUTHORIZING,
    CardPaymentStatus.AUTHORIZED,
)


async def lock_municipality(session: AsyncSession, municipality_id: int) -> Municipality | None:
    """Issuers of one municipality take turns, so statement sequences never clash."""
    result = await session.execute(
        select(Municipality).where(Municipality.id == municipality_id).with_for_update()
    )
    return result.scalar_one_or_none()


def _outcome() -> ColumnElement[str]:
    return case(
        (OC.status == OrderStatus.DELIVERED.value, literal("delivered")),
        (OC.status == OrderStatus.LATE_CANCELLED.value, literal("late_cancelled")),
        else_=literal("citizen_absent"),
    )


def _owed(municipality_id: int, month_on: date, next_month: date, charge_absent: bool):  # type: ignore[no-untyped-def]
    """The month's orders the citizen owes the co-payment for (DESIGN.md "Prices
    and who pays") that no card pays and no statement charges yet."""
    owed = [
        OC.status == OrderStatus.DELIVERED.value,
        OC.status == OrderStatus.LATE_CANCELLED.value,
    ]
    if charge_absent:
        owed.append(
            and_(
                OC.status == OrderStatus.FAILED.value,
                OC.failure_reason == FailureReason.CITIZEN_ABSENT.value,
            )
        )
    paid_by_card = exists().where(
        CP.order_id == OC.id, CP.status.in_([s.value for s in CARD_SETTLES])
    )
    charged = exists().where(L.order_id == OC.id)
    return and_(
        OC.municipality_id == municipality_id,
        OC.delivery_on >= month_on,
        OC.delivery_on < next_month,
        OC.copayment_ore > 0,
        or_(*owed),
        ~paid_by_card,
        ~charged,
    )


async def issue(
    session: AsyncSession,
    *,
    municipality_id: int,
    month_on: date,
    next_month: date,
    charge_absent: bool,
    issued_by_user_id: int,
    issued_at: datetime,
) -> list[int]:
    """Makes one new statement per citizen with newly owed orders, puts those
    orders on it and totals it. Returns the new statements' ids."""
    owed = _owed(municipality_id, month_on, next_month, charge_absent)
    previous = (
        select(func.coalesce(func.max(S.sequence), 0))
        .where(S.citizen_id == OC.citizen_id, S.month_on == month_on)
        .scalar_subquery()
    )
    new_statements = (
        select(
            OC.municipality_id,
            OC.citizen_id,
            literal(month_on).label("month_on"),
            (previous + 1).label("sequence"),
            literal(0).label("total_ore"),
            literal(0).label("lines"),
            literal(issued_by_user_id).label("issued_by_user_id"),
            literal(issued_at, type_=CopaymentStatement.__table__.c.issued_at.type).label(
                "issued_at"
            ),
        )
        .where(owed)
        .group_by(OC.municipality_id, OC.citizen_id)
    )
    ids = (
        (
            await session.execute(
                insert(CopaymentStatement.__table__)
                .from_select(
                    [
                        "municipality_id",
                        "citizen_id",
                        "month_on",
                        "sequence",
                        "total_ore",
                        "lines",
                        "issued_by_user_id",
                        "issued_at",
                    ],
                    new_statements,
                )
                .returning(S.id)
            )
        )
        .scalars()
        .all()
    )
    if not ids:
        return []
    lines = (
        select(
            S.id,
            OC.id,
            OC.delivery_on,
            _outcome(),
            (OC.copayment_ore * OC.units).label("amount_ore"),
        )
        .select_from(Order.__table__)
        .join(
            CopaymentStatement.__table__,
            # Each citizen with newly owed orders has exactly one of the new statements.
            and_(S.citizen_id == OC.citizen_id, S.id.in_(list(ids))),
        )
        .where(owed)
    )
    await session.execute(
        insert(CopaymentStatementLine.__table__).from_select(
            ["statement_id", "order_id", "delivery_on", "outcome", "amount_ore"], lines
        )
    )
    totals = (
        select(func.coalesce(func.sum(L.amount_ore), 0))
        .where(L.statement_id == S.id)
        .scalar_subquery()
    )
    count = select(func.count()).where(L.statement_id == S.id).scalar_subquery()
    await session.execute(
        update(CopaymentStatement.__table__)
        .where(S.id.in_(ids))
        .values(total_ore=totals, lines=count)
    )
    return list(ids)


@dataclass(frozen=True)
class IssuedTotals:
    statements: int
    lines: int
    total_ore: int


async def totals_of(session: AsyncSession, statement_ids: Sequence[int]) -> IssuedTotals:
    row = (
        await session.execute(
            select(
                func.count(),
                func.coalesce(func.sum(S.lines), 0),
                func.coalesce(func.sum(S.total_ore), 0),
            ).where(S.id.in_(list(statement_ids)))
        )
    ).one()
    return IssuedTotals(statements=row[0], lines=int(row[1]), total_ore=int(row[2]))


@dataclass(frozen=True)
class MonthSummary:
    month_on: date
    statements: int
    citizens: int
    lines: int
    total_ore: int


async def months(session: AsyncSession, municipality_id: int) -> list[MonthSummary]:
    result = await session.execute(
        select(
            S.month_on,
            func.count(),
            func.count(S.citizen_id.distinct()),
            func.sum(S.lines),
            func.sum(S.total_ore),
        )
        .where(S.municipality_id == municipality_id)
        .group_by(S.month_on)
        .order_by(S.month_on.desc())
    )
    return [
        MonthSummary(row[0], row[1], row[2], int(row[3] or 0), int(row[4] or 0))
        for row in result.all()
    ]


@dataclass(frozen=True)
class StatementRow:
    statement: CopaymentStatement
    citizen: Citizen


async def statements_of_month(
    session: AsyncSession, municipality_id: int, month_on: date
) -> list[StatementRow]:
    """The month's statements with their citizens, by name (one query)."""
    result = await session.execute(
        select(CopaymentStatement, Citizen)
        .join(Citizen, Citizen.id == CopaymentStatement.citizen_id)  # type: ignore[arg-type]
        .where(
            CopaymentStatement.municipality_id == municipality_id,
            CopaymentStatement.month_on == month_on,
        )
        .order_by(Citizen.full_name, Citizen.id, CopaymentStatement.sequence)  # type: ignore[arg-type]
    )
    return [StatementRow(s, c) for s, c in result.all()]


async def statements_of_citizen(
    session: AsyncSession, citizen_id: int
) -> Sequence[CopaymentStatement]:
    result = await session.execute(
        select(CopaymentStatement)
        .where(CopaymentStatement.citizen_id == citizen_id)
        .order_by(CopaymentStatement.month_on.desc(), CopaymentStatement.sequence)  # type: ignore[attr-defined]
    )
    return result.scalars().all()


@dataclass(frozen=True)
class LineRow:
    line: CopaymentStatementLine
    meal: str


async def lines_of(session: AsyncSession, statement_ids: Sequence[int]) -> dict[int, list[LineRow]]:
    """The lines of the statements with the name of each meal, by day."""
    if not statement_ids:
        return {}
    result = await session.execute(
        select(CopaymentStatementLine, Offer.name)
        .join(Order, Order.id == CopaymentStatementLine.order_id)  # type: ignore[arg-type]
        .join(Offer, Offer.id == Order.offer_id)  # type: ignore[arg-type]
        .where(CopaymentStatementLine.statement_id.in_(list(statement_ids)))  # type: ignore[attr-defined]
        .order_by(CopaymentStatementLine.delivery_on, CopaymentStatementLine.id)
    )
    lines: dict[int, list[LineRow]] = {i: [] for i in statement_ids}
    for line, meal in result.all():
        lines[line.statement_id].append(LineRow(line, meal))
    return lines


async def get_citizen(session: AsyncSession, citizen_id: int) -> Citizen | None:
    return await session.get(Citizen, citizen_id)
