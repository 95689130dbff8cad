"""The payouts pages and API: the admin pays; others are refused; bad input
gives a sentence and changes nothing."""

from lxml import etree
from sqlalchemy import func, select

from market.municipalities.models import Municipality
from market.payouts.models import PaymentFile, Payout, PayoutStatus
from providers.models import PayoutMethod, Provider
from tests.factories import api_headers, login, post_form
from tests.market.payouts.conftest import PROVIDER_IBAN


async def count(session, model, *where) -> int:
    return (
        await session.execute(select(func.count()).select_from(model).where(*where))
    ).scalar_one()


async def test_the_admin_pays_a_statement_and_makes_the_file(client, session, books):
    statement = await books.statement(session, total_ore=4_037_50)
    await session.commit()
    await login(client, "admin@aarhus.dk")
    page = await client.get("/payouts")
    assert page.status_code == 200
    assert "Det Gode Køkken ApS" in page.text and "4,037.50" in page.text
    paid = await post_form(client, "/payouts/pay", {"statement_ids": str(statement.id)})
    assert paid.status_code == 303, paid.text
    again = await post_form(client, "/payouts/pay", {"statement_ids": str(statement.id)})
    assert again.status_code == 303
    assert await count(session, Payout, Payout.statement_id == statement.id) == 1
    page = await client.get("/payouts")
    assert "•••• " + PROVIDER_IBAN[-4:] in page.text
    assert PROVIDER_IBAN not in page.text
    made = await post_form(client, "/payouts/files")
    assert made.status_code == 303, made.text
    payment_file = (await session.execute(select(PaymentFile))).scalar_one()
    download = await client.get(f"/payouts/files/{payment_file.id}/download")
    assert download.status_code == 200
    assert download.headers["content-type"].startswith("application/xml")
    assert "pain001-0751-" in download.headers["content-disposition"]
    root = etree.fromstring(download.content)
    assert root.findtext(".//{*}CtrlSum") == "4037.50"
    marked = await post_form(client, f"/payouts/files/{payment_file.id}/paid")
    assert marked.status_code == 303
    payout = (await session.execute(select(Payout))).scalar_one()
    await session.refresh(payout)
    assert payout.status == PayoutStatus.PAID


async def test_send_now_pays_the_stripe_payouts(client, session, books):
    statement = await books.statement(session, stripe=True, total_ore=100_00)
    await session.commit()
    await login(client, "admin@aarhus.dk")
    assert (
        await post_form(client, "/payouts/pay", {"statement_ids": str(statement.id)})
    ).status_code == 303
    sent = await post_form(client, "/payouts/send")
    assert sent.status_code == 303, sent.text
    assert "paid=1" in sent.headers["location"]
    payout = (await session.execute(select(Payout))).scalar_one()
    await session.refresh(payout)
    assert payout.status == PayoutStatus.PAID and payout.gateway_reference
    page = await client.get(sent.headers["location"])
    assert "1 paid" in page.text


async def test_auditor_and_citizen_may_not_pay(client, session, books):
    statement_id = (await books.statement(session, total_ore=100_00)).id
    await session.commit()
    for email in ("revisor@aarhus.dk", "borger@example.dk"):
        client.cookies.clear()
        await login(client, email)
        assert (await client.get("/payouts")).status_code == 403
        refused = await post_form(client, "/payouts/pay", {"statement_ids": str(statement_id)})
        assert refused.status_code == 403
        api = await client.get("/api/v1/payouts", headers=api_headers(client))
        assert api.status_code == 403
    assert await count(session, Payout) == 0


async def test_a_provider_without_an_iban_is_refused_with_a_sentence(client, session, books):
    books.bank_provider.payout_iban = None
    session.add(books.bank_provider)
    statement = await books.statement(session, total_ore=100_00)
    await session.commit()
    await login(client, "admin@aarhus.dk")
    refused = await post_form(client, "/payouts/pay", {"statement_ids": str(statement.id)})
    assert refused.status_code == 409
    assert "has not given an IBAN and a BIC" in refused.text
    assert await count(session, Payout) == 0


async def test_nothing_to_pay_is_refused_with_a_sentence(client, session, books):
    await login(client, "admin@aarhus.dk")
    refused = await post_form(client, "/payouts/files")
    assert refused.status_code == 409
    assert "nothing to put in a payment file" in refused.text
    assert await count(session, PaymentFile) == 0


async def test_the_admin_sets_the_municipalitys_account(client, session, books):
    municipality_id = books.world.municipality.id
    await login(client, "admin@aarhus.dk")
    bad = await post_form(client, "/payouts/account", {"iban": "DK00 1234", "bic": "DABADKKK"})
    assert bad.status_code == 422 and "not a valid IBAN" in bad.text
    municipality = await session.get(Municipality, municipality_id)
    await session.refresh(municipality)
    assert municipality.payment_account_iban == "DK5000400440116243"
    good = await post_form(
        client, "/payouts/account", {"iban": "dk95 2000 0123 4567 89", "bic": "ndeadkkk"}
    )
    assert good.status_code == 303
    await session.refresh(municipality)
    assert (municipality.payment_account_iban, municipality.payment_account_bic) == (
        "DK9520000123456789",
        "NDEADKKK",
    )


async def test_the_provider_admin_enters_payout_details(client, session, books):
    provider_id = books.bank_provider.id
    await login(client, "chef@godekoekken.dk")
    page = await client.get("/provider/payout-details")
    assert page.status_code == 200 and 'name="iban"' in page.text
    bad = await post_form(
        client,
        "/provider/payout-details",
        {"method": "bank_file", "iban": "DK9520000123456780", "bic": "NDEADKKK"},
    )
    assert bad.status_code == 422 and "not a valid IBAN" in bad.text
    provider = await session.get(Provider, provider_id)
    await session.refresh(provider)
    assert provider.payout_iban == PROVIDER_IBAN
    good = await post_form(
        client,
        "/provider/payout-details",
        {"method": "stripe_transfer", "stripe_account_id": "acct_1NewAccount"},
    )
    assert good.status_code == 303, good.text
    await session.refresh(provider)
    assert provider.payout_method == PayoutMethod.STRIPE_TRANSFER
    assert provider.stripe_account_id == "acct_1NewAccount"
    client.cookies.clear()
    await login(client, "kok@godekoekken.dk")
    assert (await client.get("/provider/payout-details")).status_code == 403


async def test_the_api_lists_and_creates_payouts(client, session, books):
    statement = await books.statement(session, stripe=True, total_ore=250_00)
    zero = await books.statement(session, total_ore=0)
    await session.commit()
    await login(client, "admin@aarhus.dk")
    made = await client.post(
        "/api/v1/payouts", json={"statement_ids": [statement.id]}, headers=api_headers(client)
    )
    assert made.status_code == 201, made.text
    [out] = made.json()
    assert out["idempotency_key"] == f"payout:{statement.id}"
    assert out["amount_ore"] == 250_00 and out["method"] == "stripe_transfer"
    again = await client.post(
        "/api/v1/payouts", json={"statement_ids": [statement.id]}, headers=api_headers(client)
    )
    assert again.json()[0]["id"] == out["id"]
    refused = await client.post(
        "/api/v1/payouts", json={"statement_ids": [zero.id]}, headers=api_headers(client)
    )
    assert refused.status_code == 409
    assert "adjustment" in refused.json()["detail"]
    listed = await client.get("/api/v1/payouts", headers=api_headers(client))
    assert [p["id"] for p in listed.json()] == [out["id"]]


async def test_admins_see_the_payouts_link(client, session, books):
    await login(client, "admin@aarhus.dk")
    assert 'href="/payouts"' in (await client.get("/")).text
    client.cookies.clear()
    await login(client, "revisor@aarhus.dk")
    assert 'href="/payouts"' not in (await client.get("/")).text


async def test_the_page_reads_in_danish(client, session, books):
    statement = await books.statement(session, stripe=True, total_ore=1_234_56)
    await session.commit()
    client.cookies.set("market_lang", "da")
    await login(client, "admin@aarhus.dk")
    assert (
        await post_form(client, "/payouts/pay", {"statement_ids": str(statement.id)})
    ).status_code == 303
    page = await client.get("/payouts")
    assert page.status_code == 200
    for words in (
        "Udbetalinger",
        "Venter på udbetaling",
        "Stripe-overførsel",
        "oktober 2026",
        "1.234,56",
    ):
        assert words in page.text
    refused = await post_form(client, "/payouts/files")
    assert refused.status_code == 409
    assert "Der venter ingen bankudbetaling" in refused.text


async def test_the_admin_pays_every_statement_at_once(client, session, books):
    first = await books.statement(session, month=9, total_ore=100_00)
    second = await books.statement(session, stripe=True, total_ore=200_00)
    ids = [first.id, second.id]
    await session.commit()
    await login(client, "admin@aarhus.dk")
    page = await client.get("/payouts")
    assert "Pay all 2 statements" in page.text
    paid = await post_form(client, "/payouts/pay", {"statement_ids": [str(i) for i in ids]})
    assert paid.status_code == 303, paid.text
    assert await count(session, Payout, Payout.statement_id.in_(ids)) == 2
    page = await client.get("/payouts")
    assert "Pay all" not in page.text
