"""The settlement pages, exports and JSON API: admins run and approve (four
eyes), auditors drill down and export, citizens see nothing."""

import csv
import io

from openpyxl import load_workbook
from sqlalchemy import func, select

from market.settlement.models import Statement, StatementStatus
from tests.factories import api_headers, login, post_form
from tests.market.settlement.conftest import PREVIOUS, insert_month, set_terms

MONTH = PREVIOUS.strftime("%Y-%m")
WORKED_EXAMPLE = {
    "on_time": 1150,
    "late": 100,
    "provider_fault": 30,
    "absent": 12,
    "late_cancelled": 7,
}


async def statement_of(session, contract) -> Statement:
    result = await session.execute(
        select(Statement)
        .where(Statement.approval_id == contract.approval_id, Statement.month_on == PREVIOUS)
        .execution_options(populate_existing=True)
    )
    return result.scalar_one()


async def test_admin_runs_a_second_admin_approves_and_the_auditor_drills_down(
    client, session, contract
):
    await insert_month(session, contract, PREVIOUS, **WORKED_EXAMPLE)
    assert (await login(client, "admin@aarhus.dk")).status_code == 303
    home = await client.get("/")
    assert 'href="/settlement"' in home.text
    months = await client.get("/settlement")
    assert months.status_code == 200 and MONTH in months.text
    ran = await post_form(client, "/settlement/run", {"month": MONTH})
    assert ran.status_code == 303 and ran.headers["location"].startswith(
        f"/settlement/months/{MONTH}"
    )
    month_page = await client.get(ran.headers["location"])
    assert "101,798.12 kr." in month_page.text
    assert "Another person must approve what you ran." in month_page.text
    statement = await statement_of(session, contract)
    refused = await post_form(client, f"/settlement/statements/{statement.id}/approve")
    assert refused.status_code == 403 and "four eyes" in refused.text
    assert (await statement_of(session, contract)).status == StatementStatus.DRAFT

    await client.post("/logout", data={"csrf_token": client.cookies.get("market_csrf", "")})
    client.cookies.clear()
    assert (await login(client, "admin2@aarhus.dk")).status_code == 303
    approved = await post_form(client, f"/settlement/months/{MONTH}/approve")
    assert approved.status_code == 303
    statement = await statement_of(session, contract)
    assert statement.status == StatementStatus.APPROVED
    statement_id, head_hash = statement.id, statement.audit_chain_hash
    again = await post_form(client, f"/settlement/statements/{statement_id}/approve")
    assert again.status_code == 409

    client.cookies.clear()
    assert (await login(client, "revisor@aarhus.dk")).status_code == 303
    page = await client.get(f"/settlement/statements/{statement_id}")
    assert page.status_code == 200
    assert head_hash in page.text
    assert "-5,301.88 kr." in page.text and "89.84%" in page.text
    assert "Correct this statement" not in page.text  # an auditor reads, does not adjust
    client.cookies.set("market_lang", "da")
    danish = await client.get(f"/settlement/statements/{statement_id}")
    assert "101.798,12 kr." in danish.text and "89,84 %" in danish.text
    assert "Rettidighed 1.150 af 1.280" in danish.text
    client.cookies.set("market_lang", "en")

    line_id = (await client.get(f"/api/v1/settlement/statements/{statement_id}")).json()["lines"][0]
    assert line_id["kind"] == "delivered" and line_id["orders"] == 1200
    lines = (await client.get(f"/api/v1/settlement/statements/{statement_id}")).json()["lines"]
    from market.settlement.models import StatementLine

    first_line = await session.scalar(
        select(StatementLine.id).where(
            StatementLine.statement_id == statement_id, StatementLine.position == 1
        )
    )
    orders_page = await client.get(f"/settlement/lines/{first_line}")
    assert orders_page.status_code == 200 and "1,200 orders" not in orders_page.text
    assert "Karen J." in orders_page.text and "Karen Jensen" not in orders_page.text
    assert "Page 1 of 24" in orders_page.text
    order_link = orders_page.text.split('href="/settlement/orders/')[1].split('"')[0]
    order_page = await client.get(f"/settlement/orders/{order_link}")
    assert order_page.status_code == 200 and f"Statement {statement_id}" in order_page.text
    assert len(lines) == 5


async def test_exports_parse_back_to_the_lines(client, session, contract):
    await insert_month(session, contract, PREVIOUS, **WORKED_EXAMPLE)
    from market.settlement import service

    await service.run_month(session, actor=contract.admin, month_on=PREVIOUS)
    statement = await statement_of(session, contract)
    await service.approve_statement(session, actor=contract.admin2, statement_id=statement.id)
    await session.commit()
    statement = await statement_of(session, contract)
    statement_id = statement.id
    head = (statement.audit_chain_seq, statement.audit_chain_hash)
    await login(client, "revisor@aarhus.dk")
    api = (await client.get(f"/api/v1/settlement/statements/{statement_id}")).json()
    expected = [(line["kind"], line["quantity"], line["amount_ore"]) for line in api["lines"]]

    response = await client.get(f"/settlement/statements/{statement_id}/export.csv")
    assert response.status_code == 200 and "text/csv" in response.headers["content-type"]
    rows = list(csv.reader(io.StringIO(response.text), delimiter=";"))
    facts = {row[0]: row[1] for row in rows if len(row) == 2}
    assert facts["total_ore"] == "10179812"
    assert facts["audit_chain_seq"] == str(head[0])
    assert facts["audit_chain_hash"] == head[1]
    header = rows.index(
        [
            "position",
            "kind",
            "quantity",
            "unit_amount_ore",
            "rate_bp",
            "amount_ore",
            "orders",
            "explanation",
        ]
    )
    line_rows = rows[header + 1 : header + 1 + len(expected)]
    assert [(r[1], int(r[2]), int(r[5])) for r in line_rows] == expected
    order_header = rows.index(
        ["line_position", "order_id", "citizen", "delivery_on", "outcome", "delivered_at", "units"]
    )
    assert len(rows[order_header + 1 :]) == 1250 + 30 + 12 + 7

    response = await client.get(f"/settlement/statements/{statement_id}/export.xlsx")
    assert response.status_code == 200
    book = load_workbook(io.BytesIO(response.content), read_only=True)
    sheet_lines = list(book["lines"].iter_rows(values_only=True))
    # Amounts are numbers in kroner (not text), to the øre.
    assert [(r[1], r[2], round(r[5] * 100)) for r in sheet_lines[1 : 1 + len(expected)]] == (
        expected
    )
    assert sheet_lines[-1][0] == "total" and round(sheet_lines[-1][5] * 100) == 10_179_812
    assert len(list(book["orders"].iter_rows(values_only=True))) == 1 + 1250 + 30 + 12 + 7
    facts_sheet = dict(list(book["statement"].iter_rows(values_only=True))[1:])
    assert facts_sheet["audit_chain_hash"] == head[1]

    month = await client.get(f"/settlement/months/{MONTH}/statements.csv")
    month_rows = list(csv.DictReader(io.StringIO(month.text), delimiter=";"))
    assert [(r["statement_id"], r["total_ore"], r["status"]) for r in month_rows] == [
        (str(statement_id), "10179812", "approved")
    ]


async def test_a_citizen_and_another_municipality_see_nothing(client, session, contract):
    await insert_month(session, contract, PREVIOUS, on_time=2)
    from market.settlement import service

    await service.run_month(session, actor=contract.admin, month_on=PREVIOUS)
    await session.commit()
    statement_id = (await statement_of(session, contract)).id
    await login(client, "borger@example.dk")
    for url in (
        "/settlement",
        f"/settlement/months/{MONTH}",
        f"/settlement/statements/{statement_id}",
        f"/settlement/statements/{statement_id}/export.csv",
        f"/api/v1/settlement/statements/{statement_id}",
    ):
        assert (await client.get(url)).status_code == 403, url
    assert 'href="/settlement"' not in (await client.get("/")).text
    client.cookies.clear()
    await login(client, "admin@odense.dk")
    assert (await client.get(f"/settlement/statements/{statement_id}")).status_code == 404
    odense_month = await client.get(f"/api/v1/settlement/months/{MONTH}/statements")
    assert odense_month.json()["statements"] == []


async def test_run_form_refuses_a_month_that_has_not_ended_and_changes_nothing(
    client, session, contract
):
    from market.clock import today

    await login(client, "admin@aarhus.dk")
    response = await post_form(client, "/settlement/run", {"month": today().strftime("%Y-%m")})
    assert response.status_code == 422 and "has not ended yet" in response.text
    bad = await post_form(client, "/settlement/run", {"month": "oktober"})
    assert bad.status_code == 422 and "is not a month" in bad.text
    assert await session.scalar(select(func.count()).select_from(Statement)) == 0


async def test_adjustment_form_on_an_approved_statement(client, session, contract):
    from market.settlement import service
    from market.settlement.models import Adjustment

    await set_terms(session, contract, unit_price_ore=8500)
    await insert_month(session, contract, PREVIOUS, on_time=2)
    await service.run_month(session, actor=contract.admin2, month_on=PREVIOUS)
    statement = await statement_of(session, contract)
    await service.approve_statement(session, actor=contract.admin, statement_id=statement.id)
    statement_id = statement.id
    await session.commit()
    await login(client, "admin@aarhus.dk")
    url = f"/settlement/statements/{statement_id}/adjustments"
    refused = await post_form(client, url, {"amount": "-85,00", "reason": ""})
    assert refused.status_code == 422 and "Please write why" in refused.text
    assert await session.scalar(select(func.count()).select_from(Adjustment)) == 0
    done = await post_form(client, url, {"amount": "-85,00", "reason": "One meal twice"})
    assert done.status_code == 303
    adjustment = (await session.execute(select(Adjustment))).scalar_one()
    assert adjustment.amount_ore == -8500 and adjustment.reason == "One meal twice"


async def test_json_api_runs_lists_and_approves(client, session, contract):
    await insert_month(session, contract, PREVIOUS, on_time=3)
    await login(client, "admin@aarhus.dk")
    run = await client.post(
        "/api/v1/settlement/runs", json={"month": MONTH}, headers=api_headers(client)
    )
    assert run.status_code == 201, run.text
    body = run.json()
    assert body["statements"] == 1
    listed = (await client.get(f"/api/v1/settlement/months/{MONTH}/statements")).json()
    assert listed["total_ore"] == body["total_ore"]
    statement_id = listed["statements"][0]["id"]
    refused = await client.post(
        f"/api/v1/settlement/statements/{statement_id}/approve", headers=api_headers(client)
    )
    assert refused.status_code == 403 and refused.json()["error"] == "permission_denied"
    client.cookies.clear()
    await login(client, "admin2@aarhus.dk")
    approved = await client.post(
        f"/api/v1/settlement/statements/{statement_id}/approve", headers=api_headers(client)
    )
    assert approved.status_code == 200, approved.text
    detail = approved.json()
    assert detail["status"] == "approved" and detail["audit_chain_hash"]
    assert sum(line["amount_ore"] for line in detail["lines"]) == detail["total_ore"]
