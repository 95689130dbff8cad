"""The demo's months as e-invoices through the database, the finance API
(read-only, paged, filtered), the pages and the settings."""

import csv
import hashlib
import io
from datetime import date, time, timedelta
from decimal import Decimal

import pytest
from openpyxl import load_workbook
from sqlalchemy import insert, select, update

from market.clock import local_instant
from market.errors import Conflict
from market.finance import service
from market.finance.models import IssuedDocument
from market.orders.models import Order, OrderStatus
from market.settlement import demo
from market.settlement import service as settlement
from market.settlement.models import Adjustment, Statement, StatementLine
from providers.models import Provider
from tests.factories import api_headers, login, post_form
from tests.market.finance.conftest import BUYER_REFERENCE, GLN, fatal_findings, ready_for_einvoices
from tests.market.settlement.conftest import EARLIER, PREVIOUS, _row


async def demo_months(
    session, contract, world, *, approve_last: bool = True
) -> tuple[Statement, Statement, Adjustment]:
    """The settlement demo (an approved month with a lowering adjustment, a
    draft month), and the draft approved by the second admin."""
    for month in (EARLIER, PREVIOUS):
        for n in range(4):
            day = month + timedelta(days=n)
            await session.execute(
                insert(Order).values(
                    **_row(
                        contract,
                        day,
                        OrderStatus.DELIVERED,
                        delivered_at=local_instant(day, time(12)),
                        placed_at=local_instant(day - timedelta(days=2), time(9)),
                        idempotency_key=f"test-finance:{day}:{n}",
                    )
                )
            )
    await demo.seed(
        session,
        municipalities=[world.municipality, world.other_municipality],
        users={
            "admin@aarhus.example": world.user("admin"),
            "admin2@aarhus.example": world.user("admin2"),
        },
        password="x",
        settings=None,
    )
    if approve_last:
        await settlement.approve_month(session, actor=contract.admin2, month_on=PREVIOUS)
    statements = (
        (await session.execute(select(Statement).order_by(Statement.month_on))).scalars().all()
    )
    adjustment = (await session.execute(select(Adjustment))).scalar_one()
    await session.commit()
    return statements[0], statements[1], adjustment


async def test_the_demo_months_are_valid_invoices_and_a_credit_note(session, contract, world):
    earlier, previous, adjustment = await demo_months(session, contract, world)
    with pytest.raises(Conflict, match="EAN/GLN"):
        await service.statement_invoice(session, actor=contract.admin, statement_id=earlier.id)
    await ready_for_einvoices(session, contract.ids["municipality"])

    documents = [
        await service.statement_invoice(session, actor=contract.admin, statement_id=earlier.id),
        await service.statement_invoice(session, actor=contract.auditor, statement_id=previous.id),
        await service.adjustment_credit_note(
            session, actor=contract.admin, adjustment_id=adjustment.id
        ),
    ]
    for document in documents:
        # The note for the integrator: each document's validation result.
        print(document.number, document.kind, "fatal findings:", fatal_findings(document.content))
        assert fatal_findings(document.content) == [], document.number
        assert f"<cbc:BuyerReference>{BUYER_REFERENCE}<".encode() in document.content
        assert f'schemeID="0088">{GLN}<'.encode() in document.content
    first, second, credit = documents
    assert credit.kind == "credit_note" and f"<cbc:ID>{first.number}</cbc:ID>".encode() in (
        credit.content
    )
    assert earlier.audit_chain_hash.encode() in first.content
    # The lowering adjustment is carried into the later statement's total but
    # sent as a credit note: invoice − credit note = the statement's total.
    assert first.payable_ore == earlier.total_ore
    assert second.payable_ore - credit.payable_ore == previous.total_ore
    assert credit.payable_ore == 4250
    # The same statement gives the same bytes, and once issued the document
    # is fixed: a later change to the provider's name does not reach it.
    await session.execute(
        update(Provider).where(Provider.id == contract.ids["provider"]).values(name="Nyt Navn ApS")
    )
    again = await service.statement_invoice(session, actor=contract.admin, statement_id=earlier.id)
    assert again.content == first.content and b"Nyt Navn ApS" not in again.content
    stored = (
        (await session.execute(select(IssuedDocument).order_by(IssuedDocument.id))).scalars().all()
    )
    assert [d.number for d in stored] == [first.number, second.number, credit.number]
    assert stored[0].sha256 == hashlib.sha256(first.content).hexdigest()


async def test_the_finance_api_reads_and_pages(client, session, contract, world):
    earlier, previous, adjustment = await demo_months(session, contract, world)
    await ready_for_einvoices(session, contract.ids["municipality"])
    await session.commit()
    await login(client, "revisor@aarhus.dk")

    page = (await client.get("/api/v1/finance/statements?size=1")).json()
    assert page["total"] == 2 and [s["id"] for s in page["items"]] == [earlier.id]
    second = (await client.get("/api/v1/finance/statements?size=1&page=2")).json()
    assert [s["id"] for s in second["items"]] == [previous.id]
    lines = second["items"][0]["lines"]
    assert sum(line["amount_ore"] for line in lines) == previous.total_ore
    order_ids = [o for line in lines for o in line["order_ids"]]
    assert len(order_ids) == len(set(order_ids)) > 0
    month = PREVIOUS.strftime("%Y-%m")
    by_month = (await client.get(f"/api/v1/finance/statements?month={month}")).json()
    assert [s["id"] for s in by_month["items"]] == [previous.id]
    other = (await client.get("/api/v1/finance/statements?provider_id=999999")).json()
    assert other == {"page": 1, "size": 50, "total": 0, "items": []}
    assert (await client.get("/api/v1/finance/statements?size=0")).status_code == 422
    assert (await client.get("/api/v1/finance/statements?month=oktober")).status_code in (
        400,
        422,
    )

    invoices = (await client.get("/api/v1/finance/einvoices")).json()
    assert [i["statement_id"] for i in invoices["items"]] == [earlier.id, previous.id]
    xml = await client.get(invoices["items"][0]["url"])
    assert xml.status_code == 200 and xml.headers["content-type"].startswith("application/xml")
    assert fatal_findings(xml.content) == []
    credits = (await client.get("/api/v1/finance/einvoices?kind=credit_note")).json()
    assert [c["adjustment_id"] for c in credits["items"]] == [adjustment.id]
    assert credits["items"][0]["amount_ore"] == 4250
    credit_xml = await client.get(credits["items"][0]["url"])
    assert credit_xml.status_code == 200 and fatal_findings(credit_xml.content) == []

    # Read-only: the finance API has no writing route at all.
    spec = (await client.get("/openapi.json")).json()
    finance = {p: ops for p, ops in spec["paths"].items() if p.startswith("/api/v1/finance")}
    assert finance and all(set(ops) == {"get"} for ops in finance.values())
    binary = finance["/api/v1/finance/statements/{statement_id}/invoice.xml"]["get"]
    assert binary["responses"]["200"]["content"]["application/xml"]["schema"] == {
        "type": "string",
        "format": "binary",
    }
    for path in (
        "/api/v1/finance/statements/{statement_id}/export.xlsx",
        "/api/v1/finance/statements/{statement_id}/export.csv",
        "/api/v1/finance/payment-files/{file_id}.xml",
    ):
        content = finance[path]["get"]["responses"]["200"]["content"]
        assert all(c["schema"]["format"] == "binary" for c in content.values()), path


async def test_who_may_read_and_what_is_refused(client, session, contract, world):
    earlier, previous, adjustment = await demo_months(session, contract, world, approve_last=False)
    url = f"/api/v1/finance/statements/{earlier.id}/invoice.xml"
    draft_url = f"/api/v1/finance/statements/{previous.id}/invoice.xml"
    await login(client, "admin@aarhus.dk")
    client.cookies.set("market_lang", "da")
    missing = await client.get(url)
    assert missing.status_code == 409 and "EAN/GLN-lokationsnummer" in missing.text
    await ready_for_einvoices(session, contract.ids["municipality"])
    await session.commit()
    assert (await client.get(url)).status_code == 200
    draft = await client.get(draft_url)
    assert draft.status_code == 409 and "ikke godkendt" in draft.text
    client.cookies.clear()
    await login(client, "borger@example.dk")
    assert (await client.get(url)).status_code == 403
    assert (await client.get("/api/v1/finance/statements")).status_code == 403
    client.cookies.clear()
    await login(client, "admin@odense.dk")
    assert (await client.get(url)).status_code == 404
    assert (await client.get("/api/v1/finance/statements")).json()["total"] == 0


async def test_exports_parse_back_to_the_statement_to_the_ore(client, session, contract, world):
    _, previous, _ = await demo_months(session, contract, world)
    lines = (
        (
            await session.execute(
                select(StatementLine)
                .where(StatementLine.statement_id == previous.id)
                .order_by(StatementLine.position)
            )
        )
        .scalars()
        .all()
    )
    expected = [(line.kind, line.quantity, line.amount_ore) for line in lines]
    await login(client, "revisor@aarhus.dk")

    danish = await client.get(f"/finance/statements/{previous.id}/export-da.csv")
    assert danish.status_code == 200 and danish.content.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(danish.content.decode("utf-8-sig")), delimiter=";"))
    facts = {row[0]: row[1] for row in rows if len(row) == 2}
    assert facts["I alt (kr.)"] == f"{Decimal(previous.total_ore) / 100:.2f}".replace(".", ",")
    assert facts["Revisionskæde, hash"] == previous.audit_chain_hash
    header = rows.index(
        [
            "Linje",
            "Art",
            "Antal",
            "Enhedsbeløb (kr.)",
            "Sats (%)",
            "Beløb (kr.)",
            "Ordrer",
            "Forklaring",
        ]
    )
    body = rows[header + 1 : header + 1 + len(expected)]
    assert [(r[1], int(r[2]), int(Decimal(r[5].replace(",", ".")) * 100)) for r in body] == expected
    assert rows[header + 1 + len(expected)][0] == "I alt"
    order_header = rows.index(
        ["Linje", "Ordre", "Borger", "Leveringsdato", "Udfald", "Leveret", "Enheder"]
    )
    first_order = rows[order_header + 1]
    assert date(*reversed([int(p) for p in first_order[3].split("-")])).month == PREVIOUS.month

    machine = await client.get(f"/finance/statements/{previous.id}/export-machine.csv")
    assert not machine.content.startswith(b"\xef\xbb\xbf")
    records = list(csv.DictReader(io.StringIO(machine.content.decode("utf-8"))))
    assert [(r["line_kind"], int(r["quantity"]), int(r["amount_ore"])) for r in records] == (
        expected
    )
    assert {r["period_start"] for r in records} == {PREVIOUS.isoformat()}
    assert {r["audit_chain_hash"] for r in records} == {previous.audit_chain_hash}
    api_csv = await client.get(f"/api/v1/finance/statements/{previous.id}/export.csv")
    assert api_csv.content == machine.content

    xlsx = await client.get(f"/api/v1/finance/statements/{previous.id}/export.xlsx")
    book = load_workbook(io.BytesIO(xlsx.content))
    sheet = book["lines"]
    for row, (kind, quantity, amount) in zip(sheet.iter_rows(min_row=2), expected, strict=False):
        assert row[1].value == kind and row[2].value == quantity
        assert isinstance(row[5].value, int | float) and round(row[5].value * 100) == amount
        assert row[5].number_format == "#,##0.00"
    orders = book["orders"]
    delivery = orders.cell(2, 4)
    assert delivery.is_date and delivery.value.date().month == PREVIOUS.month
    facts = {r[0].value: r[1] for r in book["statement"].iter_rows(min_row=2)}
    assert round(facts["total_kr"].value * 100) == previous.total_ore
    assert facts["approved_at"].is_date


async def test_settings_are_checked_saved_and_readable_by_the_auditor(client, session, world):
    municipality_id = world.municipality.id
    await login(client, "admin@aarhus.dk")
    client.cookies.set("market_lang", "da")
    page = await client.get("/finance")
    assert page.status_code == 200 and 'name="gln"' in page.text
    bad = await post_form(
        client,
        "/finance/settings",
        {"gln": "5798000000002", "buyer_reference": "x", "pain_version": "pain.001.001.09"},
    )
    assert bad.status_code == 422 and "ikke et gyldigt EAN/GLN" in bad.text
    wrong_version = await post_form(
        client,
        "/finance/settings",
        {"gln": GLN, "buyer_reference": "x", "pain_version": "pain.001.001.02"},
    )
    assert wrong_version.status_code == 422
    saved = await post_form(
        client,
        "/finance/settings",
        {"gln": f" {GLN} ", "buyer_reference": BUYER_REFERENCE, "pain_version": "pain.001.001.09"},
    )
    assert saved.status_code == 303
    from market.municipalities.models import Municipality

    municipality = await session.get(Municipality, municipality_id, populate_existing=True)
    assert (municipality.peppol_gln, municipality.pain001_version) == (GLN, "pain.001.001.09")
    client.cookies.clear()
    await login(client, "revisor@aarhus.dk")
    read = await client.get("/finance")
    assert read.status_code == 200 and GLN in read.text and 'name="gln"' not in read.text
    refused = await post_form(
        client,
        "/finance/settings",
        {"gln": GLN, "buyer_reference": "y", "pain_version": "pain.001.001.03"},
    )
    assert refused.status_code == 403
    assert api_headers  # the API is read with the session; no header needed for GET
