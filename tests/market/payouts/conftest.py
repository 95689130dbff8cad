"""Approved statements made directly (the settlement service is built
elsewhere), providers with payout details, and a municipality with its account."""

from dataclasses import dataclass
from datetime import date, timedelta

import pytest
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from market.auth.permissions import Actor
from market.auth.service import actor_for
from market.municipalities.models import Municipality
from market.settlement.models import SettlementRun, Statement, StatementStatus
from providers.models import (
    Application,
    ApplicationStatus,
    Approval,
    ContractTerms,
    PayoutMethod,
    Provider,
    QualityStandard,
    StandardStatus,
)
from tests.factories import World, make_provider

MUNICIPALITY_IBAN = "DK5000400440116243"
MUNICIPALITY_BIC = "DABADKKK"
PROVIDER_IBAN = "DK9520000123456789"
PROVIDER_BIC = "NDEADKKK"


def same_connection(session: AsyncSession):
    """Each worker step gets its own session on the test's connection (a
    savepoint), so the worker sees what the test wrote and nothing is left."""

    def maker() -> AsyncSession:
        return AsyncSession(
            bind=session.bind,
            join_transaction_mode="create_savepoint",
            expire_on_commit=False,
            autoflush=False,
        )

    return maker


async def approval_for(
    session: AsyncSession, *, municipality_id: int, provider_id: int, admin_id: int
) -> tuple[Approval, ContractTerms]:
    standard = QualityStandard(
        municipality_id=municipality_id,
        service=f"madservice-{provider_id}",
        version=1,
        title="Madservice",
        status=StandardStatus.PUBLISHED,
    )
    session.add(standard)
    await session.flush()
    assert standard.id is not None
    application = Application(
        provider_id=provider_id,
        municipality_id=municipality_id,
        standard_id=standard.id,
        status=ApplicationStatus.APPROVED,
        created_by_user_id=admin_id,
    )
    session.add(application)
    await session.flush()
    assert application.id is not None
    approval = Approval(
        provider_id=provider_id,
        municipality_id=municipality_id,
        service=standard.service,
        application_id=application.id,
        standard_id=standard.id,
        valid_from=date(2026, 1, 1),
        valid_to=date(2027, 12, 31),
        daily_capacity=100,
        approved_by_user_id=admin_id,
    )
    session.add(approval)
    await session.flush()
    assert approval.id is not None
    terms = ContractTerms(
        approval_id=approval.id,
        version=1,
        unit_price_ore=8500,
        valid_from=date(2026, 1, 1),
        created_by_user_id=admin_id,
    )
    session.add(terms)
    await session.flush()
    return approval, terms


async def approved_statement(
    session: AsyncSession,
    *,
    approval: Approval,
    terms: ContractTerms,
    month_on: date,
    total_ore: int,
    prepared_by: int,
    approved_by: int,
    status: StatementStatus = StatementStatus.APPROVED,
) -> Statement:
    run = SettlementRun(
        municipality_id=approval.municipality_id, month_on=month_on, run_by_user_id=prepared_by
    )
    session.add(run)
    await session.flush()
    assert run.id is not None and approval.id is not None and terms.id is not None
    statement = Statement(
        municipality_id=approval.municipality_id,
        provider_id=approval.provider_id,
        approval_id=approval.id,
        terms_id=terms.id,
        month_on=month_on,
        status=status,
        run_id=run.id,
        delivered=10,
        delivered_on_time=10,
        total_ore=total_ore,
        prepared_by_user_id=prepared_by,
        approved_by_user_id=approved_by if status == StatementStatus.APPROVED else None,
    )
    session.add(statement)
    await session.flush()
    return statement


async def set_bank(session: AsyncSession, provider: Provider, iban: str, bic: str) -> None:
    provider.payout_method = PayoutMethod.BANK_FILE
    provider.payout_iban, provider.payout_bic = iban, bic
    session.add(provider)
    await session.flush()


async def set_stripe(session: AsyncSession, provider: Provider, account: str) -> None:
    provider.payout_method = PayoutMethod.STRIPE_TRANSFER
    provider.stripe_account_id = account
    session.add(provider)
    await session.flush()


async def set_municipality_account(session: AsyncSession, municipality_id: int) -> None:
    await session.execute(
        update(Municipality)
        .where(Municipality.id == municipality_id)
        .values(payment_account_iban=MUNICIPALITY_IBAN, payment_account_bic=MUNICIPALITY_BIC)
    )


@dataclass
class Books:
    """Two providers approved in Aarhus: the world's (bank) and a Stripe one."""

    world: World
    admin: Actor
    bank_provider: Provider
    stripe_provider: Provider
    bank: tuple[Approval, ContractTerms]
    stripe: tuple[Approval, ContractTerms]

    async def statement(
        self, session: AsyncSession, *, stripe: bool = False, month: int = 10, total_ore: int
    ) -> Statement:
        approval, terms = self.stripe if stripe else self.bank
        return await approved_statement(
            session,
            approval=approval,
            terms=terms,
            month_on=date(2026, month, 1),
            total_ore=total_ore,
            prepared_by=self.world.user("admin2").id,
            approved_by=self.world.user("admin").id,
        )


@pytest.fixture
async def books(session: AsyncSession, world: World) -> Books:
    admin_id = world.user("admin").id
    municipality_id = world.municipality.id
    assert admin_id is not None and municipality_id is not None
    stripe_provider = await make_provider(session, name="Hurtig Mad A/S", cvr="20000016")
    await set_bank(session, world.provider, PROVIDER_IBAN, PROVIDER_BIC)
    await set_stripe(session, stripe_provider, "acct_1TestKitchen")
    await set_municipality_account(session, municipality_id)
    bank = await approval_for(
        session, municipality_id=municipality_id, provider_id=world.provider.id, admin_id=admin_id
    )
    stripe = await approval_for(
        session,
        municipality_id=municipality_id,
        provider_id=stripe_provider.id,
        admin_id=admin_id,
    )
    await session.commit()
    return Books(
        world=world,
        admin=actor_for(world.user("admin")),
        bank_provider=world.provider,
        stripe_provider=stripe_provider,
        bank=bank,
        stripe=stripe,
    )


def later(minutes: int = 10):
    from market.db import utcnow

    return utcnow() + timedelta(minutes=minutes)
