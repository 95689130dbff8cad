"""argon2 costs tens of milliseconds of CPU on purpose: every password hashed
while serving (a user created, a citizen choosing a password, an invitation
accepted) is hashed off the event loop, so one sign-up never stalls the others."""

import threading

from argon2 import PasswordHasher

from market.auth import security
from market.auth.models import Role
from market.auth.service import actor_for
from tests.factories import make_user
from vouchers import service as vouchers


class RecordingHasher(PasswordHasher):
    def __init__(self) -> None:
        super().__init__(time_cost=1, memory_cost=1024, parallelism=1)
        self.threads: list[threading.Thread] = []

    def hash(self, password, *, salt=None):  # type: ignore[override]
        self.threads.append(threading.current_thread())
        return super().hash(password, salt=salt)


async def test_creating_a_user_and_setting_a_password_hash_off_the_event_loop(
    session, world, monkeypatch
):
    recorder = RecordingHasher()
    monkeypatch.setattr(security, "_hasher", recorder)
    loop_thread = threading.current_thread()

    user = await make_user(
        session, "ny@aarhus.dk", Role.CASE_WORKER, municipality_id=world.municipality.id
    )
    await vouchers.set_own_password(
        session, actor=actor_for(world.user("citizen")), password="a-long-enough-password"
    )

    assert user.password_hash and len(recorder.threads) == 2
    assert all(thread is not loop_thread for thread in recorder.threads)
