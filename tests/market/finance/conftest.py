"""E-invoice test helpers: the official Peppol rules (tests/peppol, a copy of
the OpenPEPPOL 3.0.19 schematron compiled to XSLT) and a municipality ready
to receive e-invoices."""

import pytest
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from market.municipalities.models import Municipality
from tests.market.orders.conftest import diner, kitchen  # noqa: F401 (fixtures)
from tests.market.settlement.conftest import contract  # noqa: F401 (fixture)
from tests.peppol.validate import validate
from tests.vouchers.conftest import caps  # noqa: F401 (fixture)

# A GLN with a valid GS1 check digit (the municipality's NemHandel address).
GLN = "5798000000001"
BUYER_REFERENCE = "Ældre og Sundhed 4711"


def fatal_findings(xml: bytes) -> list[str]:
    return [str(f) for f in validate(xml) if f.is_fatal]


async def ready_for_einvoices(session: AsyncSession, municipality_id: int) -> None:
    await session.execute(
        update(Municipality)
        .where(Municipality.id == municipality_id)
        .values(peppol_gln=GLN, invoice_buyer_reference=BUYER_REFERENCE)
    )


@pytest.fixture
def peppol_validate():
    return validate
