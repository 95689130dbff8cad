"""Demo data for payouts (called by market.demo.seed after the settlement
demo): the Aarhus kitchen's bank account, the municipality's own account, and
the approved month paid in a pain.001 file the bank has confirmed."""

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from market.auth import repository as auth_repository
from market.auth import service as auth_service
from market.auth.models import User
from market.payouts import service
from market.settlement.models import Statement, StatementStatus
from providers import service as providers
from providers.models import PayoutMethod

KITCHEN_IBAN = "DK8553010000123456"
KITCHEN_BIC = "DABADKKK"
AARHUS_IBAN = "DK5922000000765432"
AARHUS_BIC = "NDEADKKK"


async def seed(session: AsyncSession, *, users: dict[str, User]) -> list[tuple[str, str]]:
    kitchen_admin = await auth_repository.get_user_by_email(session, "admin@smagfuldt.example")
    if kitchen_admin is None:
        return []
    await providers.set_payout_details(
        session,
        actor=auth_service.actor_for(kitchen_admin),
        method=PayoutMethod.BANK_FILE,
        iban=KITCHEN_IBAN,
        bic=KITCHEN_BIC,
        stripe_account_id=None,
    )
    admin = auth_service.actor_for(users["admin@aarhus.example"])
    await service.set_municipality_account(session, actor=admin, iban=AARHUS_IBAN, bic=AARHUS_BIC)
    approved = await session.execute(
        select(col(Statement.id)).where(
            col(Statement.municipality_id) == admin.municipality_id,
            col(Statement.status) == StatementStatus.APPROVED,
            col(Statement.total_ore) > 0,
        )
    )
    statement_ids = [i for i in approved.scalars() if i is not None]
    if not statement_ids:
        return []
    await service.create_payouts(session, actor=admin, statement_ids=statement_ids)
    payment_file = await service.create_payment_file(session, actor=admin)
    assert payment_file.id is not None
    await service.mark_file_paid(session, actor=admin, file_id=payment_file.id)
    return [("payouts and payment files (municipal admin)", "admin@aarhus.example  /payouts")]
