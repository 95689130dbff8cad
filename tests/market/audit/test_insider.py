"""The chain as evidence against an insider: someone with write access to the
database, who knows the project's hash function. Issue 15, 'Audit chain against
an insider'."""

import json

import pytest
from sqlalchemy import select

from market.audit import checkpoints, keys
from market.audit import service as audit
from market.audit.models import UNKEYED_HASH, AuditChainHead, AuditEvent
from market.auth.models import Role
from market.auth.permissions import Actor
from market.config import Settings, get_settings
from tests.conftest import TEST_SECRET


async def _append(session, municipality_id, n):
    actor = Actor(user_id=None, role=Role.PLATFORM_ADMIN, full_name="t")  # type: ignore[arg-type]
    for i in range(n):
        await audit.record(
            session,
            actor=actor,
            action="test.event",
            entity_type="test",
            entity_id=i,
            municipality_id=municipality_id,
            data={"i": i},
        )


async def _events(session, chain):
    result = await session.execute(
        select(AuditEvent).where(AuditEvent.chain == chain).order_by(AuditEvent.seq)
    )
    return result.scalars().all()


async def _rewrite(session, chain, seq, rehash) -> None:
    """What an insider does: edit one event, recompute every later hash with
    `rehash`, and move the head along, so every link still holds."""
    previous = None
    for event in await _events(session, chain):
        if event.seq == seq:
            event.data_json = '{"i":999}'
        if event.seq < seq:
            previous = event.hash
            continue
        event.prev_hash = previous
        rehash(event)
        previous = event.hash
    head = await session.get(AuditChainHead, chain)
    head.hash = previous
    await session.flush()


def _unkeyed(event):
    event.hash_version = UNKEYED_HASH
    event.key_id = None
    event.hash = audit.event_hash(audit._row_values(event))


def _keyed_with(key: bytes, key_id: str):
    def rehash(event):
        event.hash_version, event.key_id = 1, key_id
        event.hash = audit.keyed_event_hash(audit._row_values(event), key=key, key_id=key_id)

    return rehash


async def test_a_rewrite_with_recomputed_unkeyed_hashes_is_detected(session, world):
    await _append(session, world.municipality.id, 5)
    chain = audit.chain_for(world.municipality.id)
    target = (await _events(session, chain))[-3].seq
    await _rewrite(session, chain, target, _unkeyed)
    report = await audit.verify_chain(session, chain=chain)
    assert not report.ok
    assert "key" in report.problem


async def test_a_rewrite_with_keyed_hashes_but_without_the_key_is_detected(session, world):
    await _append(session, world.municipality.id, 5)
    chain = audit.chain_for(world.municipality.id)
    events = await _events(session, chain)
    real_key_id = events[-1].key_id
    # The insider knows the algorithm and the key id (it is in every row), not the key.
    guessed = keys.chain_keys(Settings(environment="test", secret_key="x" * 40)).current
    await _rewrite(session, chain, events[-3].seq, _keyed_with(guessed, real_key_id))
    report = await audit.verify_chain(session, chain=chain)
    assert not report.ok and report.broken_at_seq == events[-3].seq
    assert "changed" in report.problem


async def test_every_new_event_is_keyed_and_names_its_key(session, world):
    await _append(session, world.municipality.id, 2)
    events = await _events(session, audit.chain_for(world.municipality.id))
    assert {(e.hash_version, e.key_id) for e in events[-2:]} == {
        (1, keys.current_keys().current_id)
    }


async def test_a_rotated_key_still_verifies_older_events_when_listed(session, world):
    old = Settings(environment="test", secret_key=TEST_SECRET)
    with keys.using_keys(old):
        await _append(session, world.municipality.id, 2)
    new = Settings(environment="test", secret_key=TEST_SECRET, audit_key="n" * 40)
    process = get_settings()  # the world's own events were hashed with the process key
    previous = [old.secret_key, process.audit_key or process.secret_key]
    rotated = new.model_copy(update={"audit_previous_keys": previous})
    chain = audit.chain_for(world.municipality.id)
    with keys.using_keys(rotated):
        await _append(session, world.municipality.id, 2)
        assert (await audit.verify_chain(session, chain=chain)).ok
    with keys.using_keys(new):  # the old key forgotten: its events cannot be vouched for
        report = await audit.verify_chain(session, chain=chain)
    assert not report.ok and "MARKET_AUDIT_PREVIOUS_KEYS" in report.problem


@pytest.fixture
def signing(settings, tmp_path):
    path = tmp_path / "signing.pem"
    keys.new_signing_key(path)
    return settings.model_copy(update={"audit_signing_key_file": path})


async def test_a_checkpoint_detects_a_rewrite_even_by_someone_holding_the_hmac_key(
    session, world, signing
):
    await _append(session, world.municipality.id, 4)
    chain = audit.chain_for(world.municipality.id)
    document = await checkpoints.make(session, settings=signing)
    entries = checkpoints.parse(json.dumps(document), settings=signing)
    assert all(r.ok for r in await checkpoints.check(session, entries=entries))

    await _append(session, world.municipality.id, 2)  # later history is fine
    current = keys.current_keys()
    events = await _events(session, chain)
    await _rewrite(session, chain, events[-4].seq, _keyed_with(current.current, current.current_id))
    assert (await audit.verify_chain(session, chain=chain)).ok  # the key holder fooled the chain
    [result] = await checkpoints.check(session, entries=entries, chains={chain})
    assert not result.ok and "rewritten" in result.problem


async def test_a_tampered_checkpoint_is_refused(session, world, signing, tmp_path):
    await _append(session, world.municipality.id, 2)
    document = await checkpoints.make(session, settings=signing)
    tampered = json.loads(json.dumps(document))
    tampered["entries"][0]["head_hash"] = "f" * 64
    with pytest.raises(checkpoints.CheckpointRefused, match="altered"):
        checkpoints.parse(json.dumps(tampered), settings=signing)

    # Re-signed by the insider's own key, which the file even offers: still refused.
    other_path = tmp_path / "other.pem"
    keys.new_signing_key(other_path)
    forged = await checkpoints.make(
        session, settings=signing.model_copy(update={"audit_signing_key_file": other_path})
    )
    with pytest.raises(checkpoints.CheckpointRefused, match="does not trust"):
        checkpoints.parse(json.dumps(forged), settings=signing)
    with pytest.raises(checkpoints.CheckpointRefused):
        checkpoints.parse("not json", settings=signing)


async def test_an_auditor_verifies_with_the_public_key_alone(session, world, signing, tmp_path):
    await _append(session, world.municipality.id, 1)
    document = await checkpoints.make(session, settings=signing)
    public = tmp_path / "signing.pub"
    public.write_bytes(keys.public_key_pem(keys.load_signing_key(signing).public_key()))
    auditor = signing.model_copy(
        update={"audit_signing_key_file": None, "audit_trusted_public_keys": [public]}
    )
    assert checkpoints.parse(json.dumps(document), settings=auditor)
    with pytest.raises(checkpoints.CheckpointRefused, match="no key"):
        checkpoints.parse(
            json.dumps(document),
            settings=signing.model_copy(update={"audit_signing_key_file": None}),
        )
