"""Versioned contract terms: validation in sentences, nothing stored on a
refusal, the version in force on a day, the admin page and the JSON API, and
the price an order copies."""

from datetime import date, timedelta

import pytest
from sqlalchemy import func, select

from market.audit.models import AuditEvent
from market.errors import Conflict, InvalidInput, PermissionDenied
from providers import service
from providers.exceptions import ApprovalNotFound
from providers.models import ContractTerms
from tests.factories import api_headers, login, post_form
from tests.market.orders.conftest import caps, diner, kitchen  # noqa: F401 (fixtures)
from tests.providers.conftest import actor, approved


def first_of_next_month(day: date) -> date:
    return (day.replace(day=1) + timedelta(days=32)).replace(day=1)


NEXT = first_of_next_month(service.today())
AFTER_NEXT = first_of_next_month(NEXT)

FULL = {
    "unit_price_ore": 8900,
    "min_units_per_month": 1000,
    "shortfall_rate_bp": 5000,
    "rebate_threshold_units": 1200,
    "rebate_bp": 500,
    "on_time_target_bp": 9500,
    "malus_bp_per_point": 100,
    "malus_cap_bp": 500,
    "bonus_threshold_bp": 9800,
    "bonus_bp": 200,
    "citizen_absent_share_bp": 7500,
    "late_cancel_share_bp": 5000,
}


@pytest.fixture
async def approval(session, world, aarhus_standard, settings):
    made = await approved(session, world, aarhus_standard, settings)
    await session.commit()
    return made


async def counts(session) -> tuple[int, int]:
    terms = (await session.execute(select(func.count()).select_from(ContractTerms))).scalar_one()
    events = (
        await session.execute(
            select(func.count())
            .select_from(AuditEvent)
            .where(AuditEvent.action == "contract_terms.added")
        )
    ).scalar_one()
    return terms, events


async def add(session, world, approval, key="admin", **overrides):
    values = {**FULL, "valid_from": NEXT, "note": "Ny pris fra næste måned", **overrides}
    return await service.add_contract_terms(
        session, actor=actor(world, key), approval_id=approval.id, **values
    )


async def test_approval_makes_version_one_with_the_unit_price(session, world, approval):
    history = await service.contract_terms_history(
        session, actor=actor(world, "admin"), approval_id=approval.id
    )
    [v1] = history.versions
    assert (v1.version, v1.unit_price_ore, v1.valid_from) == (1, 8500, approval.valid_from)
    assert history.in_force.id == v1.id


async def test_a_new_version_is_numbered_audited_and_in_force_from_its_first_day(
    session, world, approval
):
    before = await counts(session)
    v2 = await add(session, world, approval)
    assert v2.version == 2
    assert {k: getattr(v2, k) for k in FULL} == FULL
    assert await counts(session) == (before[0] + 1, before[1] + 1)
    event = (
        await session.execute(select(AuditEvent).where(AuditEvent.action == "contract_terms.added"))
    ).scalar_one()
    assert event.entity_id == str(approval.id)
    day_before = NEXT - timedelta(days=1)
    in_force = await service.terms_in_force(session, approval_id=approval.id, on=day_before)
    assert in_force.version == 1
    in_force = await service.terms_in_force(session, approval_id=approval.id, on=NEXT)
    assert in_force.version == 2
    v3 = await add(session, world, approval, valid_from=AFTER_NEXT, unit_price_ore=9100)
    assert v3.version == 3
    in_force = await service.terms_in_force(session, approval_id=approval.id, on=NEXT)
    assert in_force.version == 2
    in_force = await service.terms_in_force(session, approval_id=approval.id, on=AFTER_NEXT)
    assert in_force.unit_price_ore == 9100
    before_start = approval.valid_from - timedelta(days=1)
    assert await service.terms_in_force(session, approval_id=approval.id, on=before_start) is None


REFUSALS = [
    ({"unit_price_ore": 0}, "The unit price must be more than 0 kroner."),
    ({"min_units_per_month": -1}, "The minimum number of units per month cannot be negative."),
    ({"rebate_threshold_units": -5}, "The rebate threshold cannot be a negative number of units."),
    ({"shortfall_rate_bp": 10001}, "The shortfall rate must be between 0 % and 100 %."),
    ({"rebate_bp": -1}, "The volume rebate must be between 0 % and 100 %."),
    ({"on_time_target_bp": 10001}, "The on-time target must be between 0 % and 100 %."),
    ({"malus_bp_per_point": 20000}, "The malus per point must be between 0 % and 100 %."),
    ({"malus_cap_bp": -1}, "The malus cap must be between 0 % and 100 %."),
    ({"bonus_threshold_bp": 10001}, "The bonus threshold must be between 0 % and 100 %."),
    ({"bonus_bp": 10001}, "The SLA bonus must be between 0 % and 100 %."),
    (
        {"citizen_absent_share_bp": 10001},
        "The share paid when the citizen is absent must be between 0 % and 100 %.",
    ),
    (
        {"late_cancel_share_bp": -1},
        "The share paid for a late cancellation must be between 0 % and 100 %.",
    ),
    ({"rebate_threshold_units": None}, "A volume rebate needs a threshold"),
    ({"min_units_per_month": 0}, "A shortfall rate needs a minimum number of units"),
    ({"on_time_target_bp": 0, "bonus_threshold_bp": None, "bonus_bp": 0}, "on-time target"),
    ({"malus_cap_bp": 0}, "Give the SLA malus a cap above 0 %"),
    ({"bonus_threshold_bp": None}, "An SLA bonus needs a threshold"),
    ({"bonus_threshold_bp": 9000}, "The bonus threshold cannot be below the on-time target"),
    ({"valid_from": NEXT + timedelta(days=1)}, "must start on the first day of a month"),
    ({"valid_from": NEXT.replace(year=NEXT.year + 3)}, "within the approval's validity"),
]


@pytest.mark.parametrize(("overrides", "sentence"), REFUSALS)
async def test_refusals_are_sentences_and_store_nothing(
    session, world, approval, overrides, sentence
):
    before = await counts(session)
    with pytest.raises(InvalidInput) as refused:
        await add(session, world, approval, **overrides)
    assert sentence in str(refused.value)
    assert refused.value.status_code == 422
    assert await counts(session) == before


async def test_a_version_must_start_after_the_latest(session, world, approval):
    await add(session, world, approval, valid_from=AFTER_NEXT)
    before = await counts(session)
    with pytest.raises(InvalidInput, match="must start after version 2"):
        await add(session, world, approval, valid_from=NEXT)
    with pytest.raises(InvalidInput, match="must start after version 2"):
        await add(session, world, approval, valid_from=AFTER_NEXT)
    assert await counts(session) == before


async def test_a_version_cannot_start_in_the_past(session, world, aarhus_standard, settings):
    started = service.today() - timedelta(days=70)
    approval = await approved(session, world, aarhus_standard, settings, valid_from=started)
    last_month = (service.today().replace(day=1) - timedelta(days=1)).replace(day=1)
    before = await counts(session)
    with pytest.raises(InvalidInput, match="cannot start in the past"):
        await add(session, world, approval, valid_from=last_month)
    assert await counts(session) == before


async def test_only_the_admin_of_the_approvals_municipality(session, world, approval):
    before = await counts(session)
    with pytest.raises(ApprovalNotFound):
        await add(session, world, approval, key="odense_admin")
    with pytest.raises(PermissionDenied):
        await add(session, world, approval, key="case_worker")
    with pytest.raises(PermissionDenied):
        await add(session, world, approval, key="auditor")
    assert await counts(session) == before


async def test_a_revoked_approval_keeps_its_terms(session, world, approval):
    await service.revoke_approval(
        session, actor=actor(world, "admin"), approval_id=approval.id, reason="Lukket"
    )
    before = await counts(session)
    with pytest.raises(Conflict):
        await add(session, world, approval)
    assert await counts(session) == before


@pytest.mark.parametrize(
    ("text", "bp"), [("5", 500), ("2,5", 250), ("2.5", 250), ("0,01", 1), ("100 %", 10000)]
)
def test_percentages_parse_to_exact_basis_points(text, bp):
    assert service.parse_percent_bp(text) == bp


@pytest.mark.parametrize("text", ["fem", "2,555", "", "5 5"])
def test_percentages_that_are_not_refused_with_a_sentence(text):
    with pytest.raises(InvalidInput):
        service.parse_percent_bp(text)


# --- the admin page and the API -------------------------------------------------

FORM = {
    "valid_from": NEXT.isoformat(),
    "unit_price": "89,50",
    "min_units_per_month": "1000",
    "shortfall_rate": "50",
    "rebate_threshold_units": "1200",
    "rebate": "2,5",
    "on_time_target": "95",
    "malus_per_point": "1",
    "malus_cap": "5",
    "bonus_threshold": "98",
    "bonus": "2",
    "citizen_absent_share": "75",
    "late_cancel_share": "50",
    "note": "Indeksregulering",
}


async def test_admin_page_adds_a_version_from_percentages_and_kroner(
    client, session, world, approval
):
    await login(client, "admin@aarhus.dk")
    page = await client.get(f"/approvals/{approval.id}/terms")
    assert page.status_code == 200
    assert "85.00" in page.text  # version 1 in the history table
    provider_page = await client.get(f"/providers/{approval.provider_id}")
    assert f"/approvals/{approval.id}/terms" in provider_page.text
    response = await post_form(client, f"/approvals/{approval.id}/terms/versions", FORM)
    assert response.status_code == 303, response.text
    v2 = (
        await session.execute(select(ContractTerms).where(ContractTerms.version == 2))
    ).scalar_one()
    assert (v2.unit_price_ore, v2.rebate_bp, v2.shortfall_rate_bp, v2.malus_cap_bp) == (
        8950,
        250,
        5000,
        500,
    )
    assert (v2.bonus_threshold_bp, v2.rebate_threshold_units, v2.note) == (
        9800,
        1200,
        "Indeksregulering",
    )
    page = await client.get(f"/approvals/{approval.id}/terms")
    assert "89.50" in page.text and "Indeksregulering" in page.text
    assert "1000 units at 50 %" in page.text and "2.5 % above 1200 units" in page.text
    assert "Target 95 %, 1 % per point, at most 5 %" in page.text


@pytest.mark.parametrize(
    ("field", "value", "sentence"),
    [
        ("rebate", "fem", "is not a percentage"),
        ("unit_price", "0", "The unit price must be more than 0 kroner."),
        ("late_cancel_share", "101", "late cancellation must be between 0 % and 100 %"),
        ("valid_from", "", "Give the day the new terms start."),
    ],
)
async def test_admin_page_refuses_with_the_sentence_and_keeps_the_input(
    client, session, world, approval, field, value, sentence
):
    await login(client, "admin@aarhus.dk")
    before = await counts(session)
    response = await post_form(
        client, f"/approvals/{approval.id}/terms/versions", {**FORM, field: value}
    )
    assert response.status_code == 422
    assert sentence in response.text.replace("&#34;", '"')
    assert "Indeksregulering" in response.text
    assert await counts(session) == before


async def test_page_is_for_contract_terms_managers_only(client, world, approval):
    await login(client, "sagsbehandler@aarhus.dk")
    assert (await client.get(f"/approvals/{approval.id}/terms")).status_code == 403


async def test_json_api_lists_and_adds_versions(client, session, world, approval):
    await login(client, "admin@aarhus.dk")
    body = {**FULL, "valid_from": NEXT.isoformat(), "note": "API"}
    response = await client.post(
        f"/api/v1/approvals/{approval.id}/terms", json=body, headers=api_headers(client)
    )
    assert response.status_code == 201, response.text
    assert response.json()["version"] == 2
    listed = (await client.get(f"/api/v1/approvals/{approval.id}/terms")).json()
    assert [v["version"] for v in listed["versions"]] == [1, 2]
    assert listed["in_force_version"] == 1
    before = await counts(session)
    bad = await client.post(
        f"/api/v1/approvals/{approval.id}/terms",
        json={**body, "valid_from": AFTER_NEXT.isoformat(), "malus_cap_bp": 10001},
        headers=api_headers(client),
    )
    assert bad.status_code == 422
    assert bad.json()["detail"] == "The malus cap must be between 0 % and 100 %."
    assert await counts(session) == before


# --- the price an order copies --------------------------------------------------


async def test_an_order_copies_the_unit_price_in_force_on_its_delivery_day(
    session,
    world,
    kitchen,  # noqa: F811
    diner,  # noqa: F811
):
    from market.orders import service as orders
    from tests.market.orders.conftest import noon_before

    await add(session, world, kitchen.approval, valid_from=NEXT, unit_price_ore=9900)
    last_of_month = NEXT - timedelta(days=1)
    prices = {}
    for key, day in (("old", last_of_month), ("new", NEXT)):
        order = await orders.place_order(
            session,
            actor=diner.me,
            citizen_id=None,
            offer_id=kitchen.offer.id,
            delivery_on=day,
            idempotency_key=f"terms-{key}",
            now=noon_before(day),
        )
        prices[key] = order.unit_price_ore
    assert prices == {"old": 8500, "new": 9900}
    offering = await service.offering(
        session, offer_id=kitchen.offer.id, municipality_id=world.municipality.id, on=NEXT
    )
    assert offering.unit_price_ore == 9900
