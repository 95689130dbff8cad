"""VAT per contract terms version: what the e-invoice's tax category and rate
come from. Checked in sentences; nothing stored on a refusal."""

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from market.clock import first_of_month, today
from market.errors import InvalidInput
from providers import service
from providers.models import ContractTerms

NEXT = first_of_month(first_of_month(today()) + timedelta(days=32))


async def terms_count(session) -> int:
    return (await session.execute(select(func.count()).select_from(ContractTerms))).scalar_one()


async def test_a_terms_version_carries_its_vat(session, contract):
    standard = await service.add_contract_terms(
        session,
        actor=contract.admin,
        approval_id=contract.approval_id,
        valid_from=NEXT,
        unit_price_ore=8500,
        vat_category="s",
        vat_rate_bp=2500,
        vat_exemption_reason="ignored for S",
    )
    assert (standard.vat_category, standard.vat_rate_bp, standard.vat_exemption_reason) == (
        "S",
        2500,
        "",
    )


@pytest.mark.parametrize(
    ("category", "rate_bp", "message"),
    [("X", 0, "VAT category"), ("S", 0, "rate above 0"), ("E", 0, None)],
)
async def test_wrong_vat_is_refused_and_nothing_is_stored(
    session, contract, category, rate_bp, message
):
    before = await terms_count(session)
    arguments = {
        "actor": contract.admin,
        "approval_id": contract.approval_id,
        "valid_from": NEXT,
        "unit_price_ore": 8500,
        "vat_category": category,
        "vat_rate_bp": rate_bp,
        "vat_exemption_reason": "x" * 501 if message is None else "",
    }
    with pytest.raises(InvalidInput, match=message or "at most 500 characters"):
        await service.add_contract_terms(session, **arguments)
    assert await terms_count(session) == before
