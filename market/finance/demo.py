"""Demo data for finance: Aarhus can receive e-invoices (a GLN with a valid
check digit, a buyer reference), so the demo's approved month downloads as
a valid Peppol invoice and its adjustment as a credit note. The contract
terms keep the default VAT choice, exempt (see docs/finance.md)."""

from sqlalchemy.ext.asyncio import AsyncSession

from market.municipalities import service as municipalities
from market.municipalities.models import Municipality

DEMO_GLN = "5798000000001"
DEMO_BUYER_REFERENCE = "Sundhed og Omsorg, madservice"


async def seed(
    session: AsyncSession, *, municipalities_: list[Municipality]
) -> list[tuple[str, str]]:
    aarhus = municipalities_[0]
    assert aarhus.id is not None
    await municipalities.set_finance_settings(
        session,
        municipality_id=aarhus.id,
        peppol_gln=DEMO_GLN,
        invoice_buyer_reference=DEMO_BUYER_REFERENCE,
        pain001_version=aarhus.pain001_version or "pain.001.001.03",
    )
    return [("finance: e-invoices of the approved month", "revisor@aarhus.example  /finance")]
