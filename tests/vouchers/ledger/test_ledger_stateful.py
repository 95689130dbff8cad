"""A Hypothesis state machine drives grants, reservations, releases,
redemptions, week expiry, revocation, supersession and replayed keys, and
checks the ledger's invariants after every step against a simple model of
which orders hold reserved units.

Hypothesis is synchronous, so the machine runs in its own thread with its own
event loop and engine; every example is one transaction, rolled back."""

import asyncio
import threading
from datetime import date, timedelta

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.pool import NullPool

from market.auth import service as auth_service
from market.auth.models import Role
from market.config import Settings
from market.db import create_engine
from market.errors import AppError
from market.municipalities import service as municipalities
from tests.conftest import TEST_SECRET
from tests.vouchers.conftest import ledger_snapshot, next_monday
from vouchers import repository, service
from vouchers.models import AccountKind, GrantStatus
from vouchers.schemas import CitizenDetails, GrantTerms

BASE = next_monday() + timedelta(days=7)


def machine_for(db_settings: Settings) -> type[RuleBasedStateMachine]:
    class LedgerMachine(RuleBasedStateMachine):
        grants = Bundle("grants")

        def __init__(self) -> None:
            super().__init__()
            self.loop = asyncio.new_event_loop()
            self.engine = create_engine(db_settings, poolclass=NullPool)
            self.run(self._open())
            self.orders: dict[str, dict] = {}
            self.counter = 0

        def run(self, coro):
            return self.loop.run_until_complete(coro)

        async def _open(self) -> None:
            self.connection = await self.engine.connect()
            self.transaction = await self.connection.begin()
            self.session = AsyncSession(
                bind=self.connection,
                join_transaction_mode="create_savepoint",
                expire_on_commit=False,
                autoflush=False,
            )
            municipality = await municipalities.create(
                self.session, code="8888", name="Modelkommune", postal_codes={"9000": "Aalborg"}
            )
            self.municipality_id = municipality.id
            user = await auth_service.create_user(
                self.session,
                actor=None,
                email="model@case.example",
                full_name="Model Worker",
                password=None,
                role=Role.CASE_WORKER,
                municipality_id=municipality.id,
            )
            self.actor = auth_service.actor_for(user)
            for year in {BASE.year, BASE.year + 1}:
                await service.set_copayment_cap(
                    self.session,
                    actor=None,
                    municipality_id=municipality.id,
                    year=year,
                    cap_ore=6500,
                )

        def teardown(self) -> None:
            async def close() -> None:
                await self.session.close()
                await self.transaction.rollback()
                await self.connection.close()
                await self.engine.dispose()

            self.run(close())
            self.loop.close()

        def key(self) -> str:
            self.counter += 1
            return f"k{self.counter}"

        # --- rules -----------------------------------------------------------

        @rule(
            target=grants,
            units=st.integers(1, 10),
            start=st.integers(0, 6),
            days=st.integers(0, 27),
            rollover=st.booleans(),
        )
        def grant(self, units: int, start: int, days: int, rollover: bool) -> int:
            self.counter += 1
            n = self.counter

            async def go() -> int:
                citizen = await service.create_citizen(
                    self.session,
                    actor=self.actor,
                    secret_key=TEST_SECRET,
                    details=CitizenDetails(
                        full_name=f"Borger {n}",
                        cpr=f"0101{40 + n % 50:02d}-{1000 + n}",
                        address="Vej 1",
                        postal_code="9000",
                    ),
                )
                valid_from = BASE + timedelta(days=start)
                grant = await service.grant_voucher(
                    self.session,
                    actor=self.actor,
                    citizen_id=citizen.id,
                    terms=GrantTerms(
                        units_per_week=units,
                        valid_from=valid_from,
                        valid_to=valid_from + timedelta(days=days),
                        copayment_ore=5000,
                        rollover=rollover,
                    ),
                )
                return grant.id

            return self.run(go())

        @rule(grant_id=grants, day=st.integers(0, 40), units=st.integers(1, 4))
        def reserve(self, grant_id: int, day: int, units: int) -> None:
            key = self.key()
            delivery_on = BASE + timedelta(days=day)

            async def go() -> None:
                before = await ledger_snapshot(self.session)
                try:
                    move = await service.reserve(
                        self.session,
                        grant_id=grant_id,
                        delivery_on=delivery_on,
                        units=units,
                        idempotency_key=key,
                        actor=self.actor,
                        order_ref=key,
                    )
                except AppError as exc:
                    assert 400 <= exc.status_code < 500, exc
                    assert await ledger_snapshot(self.session) == before
                    return
                assert not move.replayed and move.units == units
                self.orders[key] = {
                    "grant": grant_id,
                    "day": delivery_on,
                    "units": units,
                    "state": "reserved",
                    "transfer": move.transfer_id,
                }

            self.run(go())

        @precondition(lambda self: self.orders)
        @rule(data=st.data(), units=st.integers(1, 9))
        def replay(self, data: st.DataObject, units: int) -> None:
            key = data.draw(st.sampled_from(sorted(self.orders)))
            order = self.orders[key]

            async def go() -> None:
                before = await ledger_snapshot(self.session)
                move = await service.reserve(
                    self.session,
                    grant_id=order["grant"],
                    delivery_on=order["day"],
                    units=units,
                    idempotency_key=key,
                    actor=self.actor,
                )
                assert move.replayed and move.transfer_id == order["transfer"]
                assert move.units == order["units"]
                assert await ledger_snapshot(self.session) == before

            self.run(go())

        def _reserved_keys(self) -> list[str]:
            return sorted(k for k, o in self.orders.items() if o["state"] == "reserved")

        @precondition(lambda self: any(o["state"] == "reserved" for o in self.orders.values()))
        @rule(data=st.data(), redeem=st.booleans(), replay_twice=st.booleans())
        def finish(self, data: st.DataObject, redeem: bool, replay_twice: bool) -> None:
            key = data.draw(st.sampled_from(self._reserved_keys()))
            order = self.orders[key]
            action = service.redeem if redeem else service.release
            finish_key = ("redeem:" if redeem else "release:") + key

            async def go() -> None:
                move = await action(
                    self.session,
                    grant_id=order["grant"],
                    delivery_on=order["day"],
                    units=order["units"],
                    idempotency_key=finish_key,
                    actor=self.actor,
                    order_ref=key,
                )
                assert not move.replayed
                if replay_twice:
                    before = await ledger_snapshot(self.session)
                    again = await action(
                        self.session,
                        grant_id=order["grant"],
                        delivery_on=order["day"],
                        units=order["units"],
                        idempotency_key=finish_key,
                        actor=self.actor,
                    )
                    assert again.replayed and again.transfer_id == move.transfer_id
                    assert await ledger_snapshot(self.session) == before
                order["state"] = "redeemed" if redeem else "released"

            self.run(go())

        @rule(grant_id=grants, week=st.integers(0, 5))
        def expire(self, grant_id: int, week: int) -> None:
            iso_week = service.iso_week_of(BASE + timedelta(days=7 * week))
            self.run(service.expire_week(self.session, grant_id=grant_id, iso_week=iso_week))

        @rule(grant_id=grants, ends=st.integers(-3, 30))
        def revoke(self, grant_id: int, ends: int) -> None:
            ends_on = BASE + timedelta(days=ends)

            async def go() -> None:
                grant = await repository.get_grant(self.session, grant_id)
                before = await ledger_snapshot(self.session)
                try:
                    await service.revoke_grant(
                        self.session,
                        actor=self.actor,
                        grant_id=grant_id,
                        reason="Model says so",
                        ends_on=ends_on,
                    )
                except AppError as exc:
                    assert exc.status_code in (409, 422), exc
                    assert await ledger_snapshot(self.session) == before
                    return
                self._released_after(grant_id, grant.valid_to)

            self.run(go())

        @rule(grant_id=grants, at=st.integers(1, 20), units=st.integers(1, 10))
        def supersede(self, grant_id: int, at: int, units: int) -> None:
            async def go() -> None:
                grant = await repository.get_grant(self.session, grant_id)
                starts = grant.valid_from + timedelta(days=at)
                before = await ledger_snapshot(self.session)
                try:
                    await service.supersede_grant(
                        self.session,
                        actor=self.actor,
                        grant_id=grant_id,
                        terms=GrantTerms(
                            units_per_week=units,
                            valid_from=starts,
                            valid_to=starts + timedelta(days=13),
                            copayment_ore=4000,
                        ),
                    )
                except AppError as exc:
                    assert exc.status_code in (409, 422), exc
                    assert await ledger_snapshot(self.session) == before
                    return
                self._released_after(grant_id, grant.valid_to)

            self.run(go())

        def _released_after(self, grant_id: int, end: date) -> None:
            for order in self.orders.values():
                if (
                    order["grant"] == grant_id
                    and order["state"] == "reserved"
                    and order["day"] > end
                ):
                    order["state"] = "released"

        # --- invariants -----------------------------------------------------------

        @invariant()
        def ledger_is_sound(self) -> None:
            async def go() -> None:
                report = await service.verify_ledger(self.session)
                assert report.ok, report.problems
                expected: dict[tuple[int, str], int] = {}
                for order in self.orders.values():
                    if order["state"] == "reserved":
                        where = (order["grant"], service.iso_week_of(order["day"]))
                        expected[where] = expected.get(where, 0) + order["units"]
                grant_ids = {o["grant"] for o in self.orders.values()}
                for grant_id in grant_ids:
                    for account in await repository.list_accounts(self.session, grant_id):
                        assert account.balance >= 0
                        if account.kind == AccountKind.RESERVED:
                            assert account.balance == expected.get((grant_id, account.iso_week), 0)
                    grant = await repository.get_grant(self.session, grant_id)
                    if grant.status != GrantStatus.ACTIVE:
                        end_week = service.iso_week_of(grant.valid_to)
                        for account in await repository.list_accounts(self.session, grant_id):
                            if account.iso_week > end_week and account.kind in (
                                AccountKind.AVAILABLE,
                                AccountKind.RESERVED,
                            ):
                                assert account.balance == 0

            self.run(go())

    return LedgerMachine


def test_ledger_state_machine(settings: Settings):
    machine = machine_for(settings)
    failure: list[BaseException] = []

    def run() -> None:
        try:
            run_state_machine_as_test(
                machine,
                settings=settings_for_hypothesis,
            )
        except BaseException as exc:  # re-raised in the test's thread
            failure.append(exc)

    thread = threading.Thread(target=run)
    thread.start()
    thread.join()
    if failure:
        raise failure[0]


settings_for_hypothesis = settings(
    max_examples=30,
    stateful_step_count=25,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
    derandomize=False,
)
