"""Payouts: made once per statement, sent once, refused with a sentence."""

from datetime import date

import pytest
from lxml import etree
from sqlalchemy import func, select

from market.audit.models import AuditEvent
from market.auth.service import actor_for
from market.errors import AppError, Conflict, PermissionDenied
from market.payments.gateway import GatewayUnavailable, OfflineGateway, PaymentRefused
from market.payouts import service
from market.payouts.models import PaymentFile, Payout, PayoutStatus
from market.settlement.models import StatementStatus
from providers.models import PayoutMethod
from tests.market.payouts.conftest import (
    MUNICIPALITY_IBAN,
    PROVIDER_BIC,
    PROVIDER_IBAN,
    approved_statement,
    later,
    same_connection,
)

NS = {"p": "urn:iso:std:iso:20022:tech:xsd:pain.001.001.03"}


async def count(session, model, *where) -> int:
    return (
        await session.execute(select(func.count()).select_from(model).where(*where))
    ).scalar_one()


# --- making payouts ------------------------------------------------------------------


async def test_a_payout_made_twice_is_one_row(session, books):
    statement = await books.statement(session, total_ore=10_179_812)
    first = await service.create_payouts(session, actor=books.admin, statement_ids=[statement.id])
    second = await service.create_payouts(session, actor=books.admin, statement_ids=[statement.id])
    assert [p.id for p in first] == [p.id for p in second]
    assert await count(session, Payout, Payout.statement_id == statement.id) == 1
    payout = first[0]
    assert payout.idempotency_key == f"payout:{statement.id}"
    assert payout.amount_ore == 10_179_812
    assert payout.method == PayoutMethod.BANK_FILE
    assert (payout.destination, payout.destination_bic) == (PROVIDER_IBAN, PROVIDER_BIC)
    assert payout.status == PayoutStatus.PENDING
    events = await count(
        session,
        AuditEvent,
        AuditEvent.action == "payout.created",
        AuditEvent.entity_id == str(payout.id),
    )
    assert events == 1


async def test_a_month_pays_its_positive_statements_only(session, books):
    bank = await books.statement(session, total_ore=500_00)
    stripe = await books.statement(session, stripe=True, total_ore=0)
    made = await service.create_payouts(session, actor=books.admin, month_on=date(2026, 10, 1))
    assert [p.statement_id for p in made] == [bank.id]
    assert await count(session, Payout, Payout.statement_id == stripe.id) == 0


@pytest.mark.parametrize("total", [0, -12_50])
async def test_a_statement_without_a_positive_total_is_refused(session, books, total):
    statement = await books.statement(session, total_ore=total)
    with pytest.raises(Conflict) as refused:
        await service.create_payouts(session, actor=books.admin, statement_ids=[statement.id])
    assert "carried into a later month as an adjustment" in str(refused.value)
    assert await count(session, Payout) == 0


async def test_a_draft_is_not_paid(session, books):
    approval, terms = books.bank
    draft = await approved_statement(
        session,
        approval=approval,
        terms=terms,
        month_on=date(2026, 9, 1),
        total_ore=100_00,
        prepared_by=books.world.user("admin").id,
        approved_by=books.world.user("admin2").id,
        status=StatementStatus.DRAFT,
    )
    with pytest.raises(Conflict, match="not approved"):
        await service.create_payouts(session, actor=books.admin, statement_ids=[draft.id])
    assert await count(session, Payout) == 0


async def test_missing_accounts_are_refused_with_the_providers_name(session, books):
    books.bank_provider.payout_iban = None
    session.add(books.bank_provider)
    books.stripe_provider.stripe_account_id = None
    session.add(books.stripe_provider)
    await session.flush()
    bank = await books.statement(session, total_ore=100_00)
    stripe = await books.statement(session, stripe=True, total_ore=100_00)
    with pytest.raises(Conflict, match="IBAN and a BIC"):
        await service.create_payouts(session, actor=books.admin, statement_ids=[bank.id])
    with pytest.raises(Conflict, match="Hurtig Mad A/S .*Stripe account"):
        await service.create_payouts(session, actor=books.admin, statement_ids=[stripe.id])
    assert await count(session, Payout) == 0


async def test_only_the_municipalitys_admin_may_pay(session, books):
    statement = await books.statement(session, total_ore=100_00)
    for key in ("auditor", "citizen", "provider_admin", "case_worker"):
        with pytest.raises(PermissionDenied):
            await service.create_payouts(
                session, actor=actor_for(books.world.user(key)), statement_ids=[statement.id]
            )
    with pytest.raises(AppError) as other:
        await service.create_payouts(
            session, actor=actor_for(books.world.user("odense_admin")), statement_ids=[statement.id]
        )
    assert other.value.status_code == 404
    assert await count(session, Payout) == 0


# --- Stripe transfers ------------------------------------------------------------------


async def test_a_transfer_is_paid_once_however_often_the_worker_runs(session, books, settings):
    statement = await books.statement(session, stripe=True, total_ore=4_037_50)
    [payout] = await service.create_payouts(
        session, actor=books.admin, statement_ids=[statement.id]
    )
    await session.commit()
    gateway = OfflineGateway()
    sessions = same_connection(session)
    report = await service.send_transfers(sessions, settings=settings, gateway=gateway)
    assert report.paid == [payout.id]
    for _ in range(3):
        again = await service.send_transfers(
            sessions, settings=settings, gateway=gateway, now=later(60)
        )
        assert again.paid == []
    assert gateway.calls == [("transfer", f"payout:{statement.id}")]
    await session.refresh(payout)
    assert payout.status == PayoutStatus.PAID
    assert payout.gateway_reference == f"offline_tr_payout:{statement.id}"
    assert payout.attempts == 1
    assert gateway._transfers[payout.gateway_reference] == 4_037_50


async def test_a_transfer_interrupted_before_its_record_is_found_not_repeated(
    session, books, settings, monkeypatch
):
    statement = await books.statement(session, stripe=True, total_ore=765_00)
    [payout] = await service.create_payouts(
        session, actor=books.admin, statement_ids=[statement.id]
    )
    await session.commit()
    gateway = OfflineGateway()
    sessions = same_connection(session)

    async def crash(*args, **kwargs):
        raise RuntimeError("the process died after the gateway call")

    original = service._record_paid
    monkeypatch.setattr(service, "_record_paid", crash)
    with pytest.raises(RuntimeError):
        await service.send_transfers(sessions, settings=settings, gateway=gateway)
    await session.refresh(payout)
    assert payout.status == PayoutStatus.PENDING and payout.attempts == 1
    # Within the lease nobody tries again.
    monkeypatch.setattr(service, "_record_paid", original)
    soon = await service.send_transfers(sessions, settings=settings, gateway=gateway)
    assert soon.paid == []
    # After it, the next attempt finds the transfer under the key.
    report = await service.send_transfers(
        sessions, settings=settings, gateway=gateway, now=later(6)
    )
    assert report.paid == [payout.id]
    assert [c for c in gateway.calls if c[0] == "transfer"] == [
        ("transfer", payout.idempotency_key)
    ]
    await session.refresh(payout)
    assert payout.status == PayoutStatus.PAID and payout.attempts == 2


class Flaky(OfflineGateway):
    def __init__(self, error: Exception) -> None:
        super().__init__()
        self.error: Exception | None = error

    async def transfer(self, **kwargs) -> str:
        if self.error is not None:
            raise self.error
        return await super().transfer(**kwargs)


async def test_an_unavailable_gateway_leaves_the_payout_pending_with_back_off(
    session, books, settings
):
    statement = await books.statement(session, stripe=True, total_ore=100_00)
    [payout] = await service.create_payouts(
        session, actor=books.admin, statement_ids=[statement.id]
    )
    await session.commit()
    gateway = Flaky(GatewayUnavailable("Stripe did not answer"))
    sessions = same_connection(session)
    report = await service.send_transfers(sessions, settings=settings, gateway=gateway)
    assert report.retrying == [payout.id]
    await session.refresh(payout)
    assert payout.status == PayoutStatus.PENDING
    assert payout.last_error == "Stripe did not answer"
    assert payout.next_attempt_at is not None
    gateway.error = None
    assert (await service.send_transfers(sessions, settings=settings, gateway=gateway)).paid == []
    report = await service.send_transfers(
        sessions, settings=settings, gateway=gateway, now=payout.next_attempt_at
    )
    assert report.paid == [payout.id]
    await session.refresh(payout)
    assert payout.status == PayoutStatus.PAID and payout.last_error is None


async def test_a_refused_transfer_fails_until_a_person_requeues_it(session, books, settings):
    statement = await books.statement(session, stripe=True, total_ore=100_00)
    [payout] = await service.create_payouts(
        session, actor=books.admin, statement_ids=[statement.id]
    )
    await session.commit()
    gateway = Flaky(PaymentRefused("No such destination: acct_1TestKitchen"))
    sessions = same_connection(session)
    report = await service.send_transfers(sessions, settings=settings, gateway=gateway)
    assert report.failed == [payout.id]
    await session.refresh(payout)
    assert payout.status == PayoutStatus.FAILED
    assert "No such destination" in (payout.last_error or "")
    assert (
        await service.send_transfers(sessions, settings=settings, gateway=gateway, now=later(600))
    ).paid == []
    books.stripe_provider.stripe_account_id = "acct_1FixedKitchen"
    session.add(books.stripe_provider)
    await session.flush()
    requeued = await service.requeue_payout(session, actor=books.admin, payout_id=payout.id)
    assert requeued.status == PayoutStatus.PENDING
    assert requeued.destination == "acct_1FixedKitchen"
    await session.commit()
    gateway.error = None
    report = await service.send_transfers(sessions, settings=settings, gateway=gateway)
    assert report.paid == [payout.id]
    with pytest.raises(Conflict):
        await service.requeue_payout(session, actor=books.admin, payout_id=payout.id)


# --- pain.001 ----------------------------------------------------------------------------


def parse(content: str):
    return etree.fromstring(content.encode("utf-8"))


async def test_a_payment_file_holds_every_pending_bank_payout_exactly(session, books):
    from tests.factories import make_provider
    from tests.market.payouts.conftest import approval_for, set_bank

    second = await make_provider(session, name="Æblegården I/S", cvr="30000013")
    await set_bank(session, second, "DK4750400000123456", "JYBADKKK")
    approval, terms = await approval_for(
        session,
        municipality_id=books.world.municipality.id,
        provider_id=second.id,
        admin_id=books.world.user("admin").id,
    )
    a = await books.statement(session, total_ore=10_179_812)
    b = await approved_statement(
        session,
        approval=approval,
        terms=terms,
        month_on=date(2026, 10, 1),
        total_ore=5,
        prepared_by=books.world.user("admin2").id,
        approved_by=books.world.user("admin").id,
    )
    stripe = await books.statement(session, stripe=True, total_ore=999_99)
    payouts = await service.create_payouts(
        session, actor=books.admin, statement_ids=[a.id, b.id, stripe.id]
    )
    bank = {p.idempotency_key: p for p in payouts if p.method == PayoutMethod.BANK_FILE}
    made = await service.create_payment_file(session, actor=books.admin)
    assert made.payouts == 2 and made.total_ore == 10_179_817
    import hashlib

    assert made.sha256 == hashlib.sha256(made.content.encode()).hexdigest()
    root = parse(made.content)
    header = root.find("p:CstmrCdtTrfInitn/p:GrpHdr", NS)
    assert header.findtext("p:MsgId", namespaces=NS) == made.message_id
    assert header.findtext("p:NbOfTxs", namespaces=NS) == "2"
    assert header.findtext("p:CtrlSum", namespaces=NS) == "101798.17"
    info = root.find("p:CstmrCdtTrfInitn/p:PmtInf", NS)
    assert info.findtext("p:DbtrAcct/p:Id/p:IBAN", namespaces=NS) == MUNICIPALITY_IBAN
    assert info.findtext("p:Dbtr/p:Nm", namespaces=NS) == "Aarhus Kommune"
    transactions = info.findall("p:CdtTrfTxInf", NS)
    seen = {}
    for tx in transactions:
        amount = tx.find("p:Amt/p:InstdAmt", NS)
        assert amount.get("Ccy") == "DKK"
        seen[tx.findtext("p:PmtId/p:EndToEndId", namespaces=NS)] = (
            amount.text,
            tx.findtext("p:CdtrAcct/p:Id/p:IBAN", namespaces=NS),
            tx.findtext("p:CdtrAgt/p:FinInstnId/p:BIC", namespaces=NS),
            tx.findtext("p:RmtInf/p:Ustrd", namespaces=NS),
        )
    assert seen == {
        f"payout:{a.id}": (
            "101798.12",
            PROVIDER_IBAN,
            PROVIDER_BIC,
            f"Afregning 2026-10 opgoerelse {a.id} Aarhus Kommune",
        ),
        f"payout:{b.id}": (
            "0.05",
            "DK4750400000123456",
            "JYBADKKK",
            f"Afregning 2026-10 opgoerelse {b.id} Aarhus Kommune",
        ),
    }
    assert set(seen) == set(bank)
    for payout in bank.values():
        await session.refresh(payout)
        assert payout.status == PayoutStatus.SUBMITTED and payout.payment_file_id == made.id
    # Nothing new: no second file, and nothing changed.
    with pytest.raises(Conflict, match="nothing to put in a payment file"):
        await service.create_payment_file(session, actor=books.admin)
    assert await count(session, PaymentFile) == 1
    # A new payout goes into the next file only.
    c = await books.statement(session, month=11, total_ore=300_00)
    await service.create_payouts(session, actor=books.admin, statement_ids=[c.id])
    next_file = await service.create_payment_file(session, actor=books.admin)
    ids = [e.text for e in parse(next_file.content).iter(f"{{{NS['p']}}}EndToEndId")]
    assert ids == [f"payout:{c.id}"]


async def test_the_file_validates_against_the_pain001_schema(session, books):
    from pathlib import Path

    import sepaxml
    import xmlschema

    await service.create_payouts(
        session,
        actor=books.admin,
        statement_ids=[(await books.statement(session, total_ore=123_45)).id],
    )
    made = await service.create_payment_file(session, actor=books.admin)
    schema = xmlschema.XMLSchema(Path(sepaxml.__file__).parent / "schemas" / "pain.001.001.03.xsd")
    assert schema.is_valid(made.content)
    assert not schema.is_valid(made.content.replace("<NbOfTxs>1</NbOfTxs>", "<NbOfTxs>x</NbOfTxs>"))


async def test_no_file_without_the_municipalitys_account(session, books):
    from sqlalchemy import update

    from market.municipalities.models import Municipality

    await session.execute(
        update(Municipality)
        .where(Municipality.id == books.world.municipality.id)
        .values(payment_account_iban=None)
    )
    [payout] = await service.create_payouts(
        session,
        actor=books.admin,
        statement_ids=[(await books.statement(session, total_ore=100_00)).id],
    )
    with pytest.raises(Conflict, match="own bank account"):
        await service.create_payment_file(session, actor=books.admin)
    await session.refresh(payout)
    assert payout.status == PayoutStatus.PENDING and payout.payment_file_id is None


async def test_marking_a_file_paid_pays_its_payouts_once(session, books):
    [payout] = await service.create_payouts(
        session,
        actor=books.admin,
        statement_ids=[(await books.statement(session, total_ore=100_00)).id],
    )
    made = await service.create_payment_file(session, actor=books.admin)
    paid = await service.mark_file_paid(session, actor=books.admin, file_id=made.id)
    assert paid.paid_at is not None
    await session.refresh(payout)
    assert payout.status == PayoutStatus.PAID and payout.paid_at is not None
    with pytest.raises(Conflict, match="already been marked as paid"):
        await service.mark_file_paid(session, actor=books.admin, file_id=made.id)
    with pytest.raises(AppError) as other:
        await service.mark_file_paid(
            session, actor=actor_for(books.world.user("odense_admin")), file_id=made.id
        )
    assert other.value.status_code == 404


async def test_account_checks(session, books):
    assert service.clean_iban("dk50 0040 0440 1162 43") == MUNICIPALITY_IBAN
    with pytest.raises(AppError, match="not a valid IBAN"):
        service.clean_iban("DK5000400440116244")
    with pytest.raises(AppError, match="not a valid BIC"):
        service.clean_bic("DAB")
    with pytest.raises(AppError, match="acct_"):
        service.clean_stripe_account("1234")
    assert service.mask_account(PROVIDER_IBAN) == "•••• 6789"
