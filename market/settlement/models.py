"""Settlement: runs, statements with their lines and the orders behind each
line, and adjustments carried into later months.

Months are stored as their first day (``month_on``). An approved statement
never changes; a correction is an adjustment applied to a later statement."""

from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum

from sqlalchemy import BigInteger, CheckConstraint, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from market.db import ExactDecimal, UTCDateTime, enum_type, utcnow


class StatementStatus(StrEnum):
    DRAFT = "draft"
    APPROVED = "approved"


# A draft is re-run (replaced) or approved; an approved statement is final.
STATEMENT_TRANSITIONS: dict[StatementStatus, frozenset[StatementStatus]] = {
    StatementStatus.DRAFT: frozenset({StatementStatus.APPROVED}),
    StatementStatus.APPROVED: frozenset(),
}


class SettlementRun(SQLModel, table=True):
    """One execution of the settlement of a municipality's month: who ran it,
    when, and what it produced. Re-running a month adds a run."""

    __tablename__ = "settlement_run"

    id: int | None = Field(default=None, primary_key=True)
    municipality_id: int = Field(foreign_key="municipality.id", index=True)
    month_on: date
    run_by_user_id: int = Field(foreign_key="app_user.id")
    run_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    statements: int = 0
    total_ore: int = Field(default=0, sa_type=BigInteger)


class Statement(SQLModel, table=True):
    """One contract's (approval's) month: the counts it was computed from, the
    terms version used, the total, and the four-eyes approval. On approval the
    head of the municipality's audit chain is recorded, so anyone holding the
    statement can later prove the history under it was not rewritten."""

    __tablename__ = "settlement_statement"
    __table_args__ = (
        UniqueConstraint("approval_id", "month_on", name="uq_settlement_statement_month"),
        CheckConstraint(
            "approved_by_user_id IS NULL OR approved_by_user_id <> prepared_by_user_id",
            name="ck_settlement_statement_four_eyes",
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    municipality_id: int = Field(foreign_key="municipality.id", index=True)
    provider_id: int = Field(foreign_key="provider.id", index=True)
    approval_id: int = Field(foreign_key="approval.id")
    terms_id: int = Field(foreign_key="contract_terms.id")
    month_on: date = Field(index=True)
    status: StatementStatus = Field(
        default=StatementStatus.DRAFT, sa_type=enum_type(StatementStatus), index=True
    )
    run_id: int = Field(foreign_key="settlement_run.id")
    # The month's activity (DESIGN.md's outcome table), as counted from orders.
    delivered: int = 0
    delivered_on_time: int = 0
    provider_fault_failures: int = 0
    citizen_absent: int = 0
    late_cancelled: int = 0
    # Orders of the month not finished at the run (placed, accepted, out for
    # delivery): not settled; the statement cannot be approved while any remain.
    unfinished_orders: int = 0
    total_ore: int = Field(default=0, sa_type=BigInteger)
    prepared_by_user_id: int = Field(foreign_key="app_user.id")
    prepared_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    approved_by_user_id: int | None = Field(default=None, foreign_key="app_user.id")
    approved_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    audit_chain_seq: int | None = None
    audit_chain_hash: str | None = Field(default=None, max_length=64)


class StatementLine(SQLModel, table=True):
    """One line of a statement. The explanation is an English message id with
    its parameters, translated when shown, so a statement reads in Danish
    and in English alike."""

    __tablename__ = "settlement_statement_line"

    id: int | None = Field(default=None, primary_key=True)
    statement_id: int = Field(foreign_key="settlement_statement.id", index=True)
    position: int
    kind: str = Field(max_length=40)
    quantity: int
    unit_amount_ore: Decimal | None = Field(default=None, sa_type=ExactDecimal)
    rate_bp: int | None = None
    amount_ore: int = Field(sa_type=BigInteger)
    explanation: str = Field(sa_type=Text)
    explanation_params_json: str = Field(default="{}", sa_type=Text)
    adjustment_id: int | None = Field(default=None, foreign_key="settlement_adjustment.id")


class StatementLineOrder(SQLModel, table=True):
    """The orders behind a line. An order stands behind at most one line of
    all statements, so no order is paid twice."""

    __tablename__ = "settlement_line_order"

    line_id: int = Field(foreign_key="settlement_statement_line.id", primary_key=True)
    order_id: int = Field(foreign_key="service_order.id", primary_key=True, unique=True)


class Adjustment(SQLModel, table=True):
    """A correction to an approved statement, carried as a line into the next
    statement of the same approval that is settled after it was made."""

    __tablename__ = "settlement_adjustment"

    id: int | None = Field(default=None, primary_key=True)
    municipality_id: int = Field(foreign_key="municipality.id", index=True)
    provider_id: int = Field(foreign_key="provider.id")
    approval_id: int = Field(foreign_key="approval.id", index=True)
    corrects_statement_id: int = Field(foreign_key="settlement_statement.id")
    applied_statement_id: int | None = Field(default=None, foreign_key="settlement_statement.id")
    amount_ore: int = Field(sa_type=BigInteger)
    reason: str = Field(sa_type=Text)
    created_by_user_id: int = Field(foreign_key="app_user.id")
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
