"""The co-payment pages: the admin issues a month and exports it, the
citizen reads "Min egenbetaling", the case worker reads a citizen's statements."""

import csv
import io
from datetime import timedelta

from sqlalchemy import func, select

from market.copayments.models import CopaymentStatement, CopaymentStatementLine
from market.orders.models import OrderStatus
from tests.factories import api_headers, login, post_form
from tests.market.copayments.conftest import insert_order
from tests.market.orders.conftest import sign_in_citizen


async def statements(session) -> int:
    return (await session.execute(select(func.count(CopaymentStatement.id)))).scalar_one()


async def owed_month(session, kitchen, diner, month) -> None:
    await insert_order(session, kitchen, diner, month, OrderStatus.DELIVERED)
    await insert_order(session, kitchen, diner, month + timedelta(days=1), OrderStatus.DELIVERED)
    await insert_order(
        session, kitchen, diner, month + timedelta(days=2), OrderStatus.LATE_CANCELLED
    )
    await session.commit()


async def test_admin_issues_a_month_and_the_csv_parses_back(
    client, session, world, kitchen, diner, month
):
    await owed_month(session, kitchen, diner, month)
    await login(client, "admin@aarhus.dk")
    page = await client.get("/copayments")
    assert page.status_code == 200
    assert month.strftime("%Y-%m") in page.text  # the issue form suggests last month
    response = await post_form(client, "/copayments/issue", {"month": month.strftime("%Y-%m")})
    assert response.status_code == 303, response.text
    page = await client.get(response.headers["location"])
    assert diner.citizen.full_name in page.text
    assert "180.00" in page.text
    export = await client.get(f"/copayments/export.csv?month={month.strftime('%Y-%m')}")
    assert export.status_code == 200
    assert export.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(export.content.decode("utf-8-sig")), delimiter=";"))
    statement = (await session.execute(select(CopaymentStatement))).scalar_one()
    assert rows == [
        {
            "statement_no": str(statement.id),
            "month": month.strftime("%Y-%m"),
            "sequence": "1",
            "citizen_name": diner.citizen.full_name,
            "cpr_masked": diner.citizen.birth_date.strftime("%d%m%y") + "-****",
            "address": diner.citizen.address,
            "postal_code": diner.citizen.postal_code,
            "meals": "3",
            "amount_ore": "18000",
            "amount_dkk": "180.00",
        }
    ]
    assert sum(int(r["amount_ore"]) for r in rows) == statement.total_ore
    assert "1234" not in export.text  # never the full CPR number


async def test_issuing_again_is_refused_with_the_sentence_and_nothing_changes(
    client, session, world, kitchen, diner, month
):
    await owed_month(session, kitchen, diner, month)
    await login(client, "admin@aarhus.dk")
    first = await post_form(client, "/copayments/issue", {"month": month.strftime("%Y-%m")})
    assert first.status_code == 303
    before = await statements(session)
    again = await post_form(client, "/copayments/issue", {"month": month.strftime("%Y-%m")})
    assert again.status_code == 409
    assert "Nothing new to charge" in again.text
    assert await statements(session) == before
    bad = await post_form(client, "/copayments/issue", {"month": "november"})
    assert bad.status_code == 422
    assert "is not a month" in bad.text
    assert await statements(session) == before


async def test_api_issues_and_lists_months(client, session, world, kitchen, diner, month):
    await owed_month(session, kitchen, diner, month)
    await login(client, "admin@aarhus.dk")
    response = await client.post(
        "/api/v1/copayments/issue",
        json={"month": month.strftime("%Y-%m")},
        headers=api_headers(client),
    )
    assert response.status_code == 201, response.text
    assert (response.json()["lines"], response.json()["total_ore"]) == (3, 18000)
    [listed] = (await client.get("/api/v1/copayments/months")).json()
    assert (listed["month_on"], listed["citizens"], listed["total_ore"]) == (
        month.isoformat(),
        1,
        18000,
    )
    again = await client.post(
        "/api/v1/copayments/issue",
        json={"month": month.strftime("%Y-%m")},
        headers=api_headers(client),
    )
    assert again.status_code == 409


async def test_the_citizen_reads_their_own_statement_linked_from_the_start_page(
    client, session, world, kitchen, diner, month
):
    await owed_month(session, kitchen, diner, month)
    await login(client, "admin@aarhus.dk")
    await post_form(client, "/copayments/issue", {"month": month.strftime("%Y-%m")})
    client.cookies.clear()
    await sign_in_citizen(client, session, diner)
    home = await client.get("/")
    assert 'href="/my-copayments"' in home.text
    page = await client.get("/my-copayments")
    assert page.status_code == 200
    assert "Total: 180.00" in page.text
    assert kitchen.offer.name in page.text
    assert "Cancelled too late" in page.text
    assert page.text.count("60.00 kr.") == 3
    citizen_id = diner.citizen.id  # read before a refused request rolls back the session
    assert (await client.get(f"/citizens/{citizen_id}/copayments")).status_code == 403
    assert (await client.get("/copayments")).status_code == 403


async def test_the_case_worker_sees_the_statements_on_the_citizen_record(
    client, session, world, kitchen, diner, month
):
    await owed_month(session, kitchen, diner, month)
    await login(client, "admin@aarhus.dk")
    await post_form(client, "/copayments/issue", {"month": month.strftime("%Y-%m")})
    client.cookies.clear()
    await login(client, "sagsbehandler@aarhus.dk")
    record = await client.get(f"/citizens/{diner.citizen.id}")
    assert f'href="/citizens/{diner.citizen.id}/copayments"' in record.text
    page = await client.get(f"/citizens/{diner.citizen.id}/copayments")
    assert page.status_code == 200
    assert "Total: 180.00" in page.text
    lines = (await session.execute(select(func.count(CopaymentStatementLine.id)))).scalar_one()
    assert page.text.count("60.00 kr.") == lines
    # Issuing is the admin's.
    refused = await post_form(client, "/copayments/issue", {"month": month.strftime("%Y-%m")})
    assert refused.status_code == 403


async def test_staff_of_another_municipality_do_not_see_the_citizen(
    client, session, world, kitchen, diner, month
):
    await login(client, "admin@odense.dk")
    assert (await client.get(f"/citizens/{diner.citizen.id}/copayments")).status_code == 404


async def test_admin_decides_whether_an_absent_citizen_pays(
    client, session, world, kitchen, diner, month
):
    from market.audit.models import AuditEvent
    from market.municipalities.models import Municipality
    from market.orders.models import FailureReason

    await insert_order(
        session,
        kitchen,
        diner,
        month,
        OrderStatus.FAILED,
        failure_reason=FailureReason.CITIZEN_ABSENT,
    )
    await session.commit()
    await login(client, "admin@aarhus.dk")
    page = await client.get("/copayments")
    assert "does not pay for a meal missed" in page.text  # the default of DESIGN.md

    response = await post_form(client, "/copayments/settings", {"charge_when_absent": "yes"})
    assert response.status_code == 303, response.text
    municipality = await session.get(Municipality, world.municipality.id)
    await session.refresh(municipality)
    assert municipality.charge_copayment_when_absent is True
    event = (
        await session.execute(
            select(AuditEvent).where(AuditEvent.action == "municipality.copayment_when_absent_set")
        )
    ).scalar_one()
    assert '"to":true' in event.data_json
    page = await client.get(response.headers["location"])
    assert "The setting is saved." in page.text and "pays the co-payment for a meal" in page.text

    # The statement issued now charges the meal missed at home.
    await post_form(client, "/copayments/issue", {"month": month.strftime("%Y-%m")})
    lines = (await session.execute(select(CopaymentStatementLine))).scalars().all()
    assert [line.outcome for line in lines] == ["citizen_absent"]

    # Unticked (a checkbox sends nothing) turns it off again.
    await post_form(client, "/copayments/settings", {})
    await session.refresh(municipality)
    assert municipality.charge_copayment_when_absent is False


async def test_the_auditor_reads_the_setting_but_cannot_change_it(client, session, world):
    from market.municipalities.models import Municipality

    municipality_id = world.municipality.id
    await login(client, world.user("auditor").email)
    page = await client.get("/copayments")
    assert page.status_code == 200 and "/copayments/settings" not in page.text
    response = await post_form(client, "/copayments/settings", {"charge_when_absent": "yes"})
    assert response.status_code == 403
    charged = await session.scalar(
        select(Municipality.charge_copayment_when_absent).where(Municipality.id == municipality_id)
    )
    assert charged is False
