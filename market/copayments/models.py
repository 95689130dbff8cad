"""The citizens' monthly co-payment statements: the default way the
municipality collects the co-payment, no card needed."""

from datetime import date, datetime

from sqlalchemy import BigInteger, UniqueConstraint
from sqlmodel import Field, SQLModel

from market.db import UTCDateTime, utcnow


class CopaymentStatement(SQLModel, table=True):
    """A citizen's monthly co-payment statement (the default way the
    co-payment is collected): what they owe for the month's meals that were
    not paid by card. An issued statement never changes: a meal that became
    owed after the month was issued (a card that was declined later) goes on a
    further statement of the same month, with the next ``sequence``."""

    __tablename__ = "copayment_statement"
    __table_args__ = (
        UniqueConstraint("citizen_id", "month_on", "sequence", name="uq_copayment_statement_month"),
    )

    id: int | None = Field(default=None, primary_key=True)
    municipality_id: int = Field(foreign_key="municipality.id", index=True)
    citizen_id: int = Field(foreign_key="citizen.id", index=True)
    month_on: date = Field(index=True)
    sequence: int = 1
    total_ore: int = Field(sa_type=BigInteger)
    lines: int
    issued_by_user_id: int = Field(foreign_key="app_user.id")
    issued_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class CopaymentStatementLine(SQLModel, table=True):
    """One order on a citizen's co-payment statement; an order is charged on
    one statement at most."""

    __tablename__ = "copayment_statement_line"

    id: int | None = Field(default=None, primary_key=True)
    statement_id: int = Field(foreign_key="copayment_statement.id", index=True)
    order_id: int = Field(foreign_key="service_order.id", unique=True)
    delivery_on: date
    outcome: str = Field(max_length=32, description="delivered, late_cancelled or citizen_absent")
    amount_ore: int = Field(sa_type=BigInteger)
