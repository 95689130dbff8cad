"""hardening integrations: keyed audit hashes (hash version and key id per event,
existing chains sealed with a keyed event) and webhook secret rotation

Revision ID: 0009
Revises: 0008
"""

import hashlib
import hmac
import json
from collections.abc import Sequence
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

import market.db

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SEAL_ACTION = "audit.chain_keyed"


def _canonical(data: dict) -> str:
    return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def _audit_key() -> tuple[bytes, str]:
    """Frozen copy of market.audit.keys (a migration must not change with the code)."""
    from market.config import get_settings

    settings = get_settings()
    material = (settings.audit_key or settings.secret_key).get_secret_value()
    key = hmac.new(material.encode(), b"audit-chain", hashlib.sha256).digest()
    return key, hashlib.sha256(b"audit-key-id:" + key).hexdigest()[:16]


def _seal_existing_chains() -> None:
    """Appends one keyed event to every chain that has events. Its hash covers the
    hash of the last unkeyed event, so from here on nobody without the key can
    rewrite the unkeyed history and have the chain verify."""
    bind = op.get_bind()
    heads = bind.execute(sa.text("SELECT chain, seq, hash FROM audit_chain_head WHERE seq > 0"))
    heads = heads.fetchall()
    if not heads:
        return
    key, key_id = _audit_key()
    now = datetime.now(UTC)
    for chain, seq, prev_hash in heads:
        municipality_id = None if chain == "platform" else int(chain.split(":", 1)[1])
        values = {
            "chain": chain,
            "seq": seq + 1,
            "prev_hash": prev_hash,
            "municipality_id": municipality_id,
            "actor_user_id": None,
            "on_behalf_of_user_id": None,
            "action": SEAL_ACTION,
            "entity_type": "audit_chain",
            "entity_id": chain,
            "data_json": _canonical({"unkeyed_until_seq": seq}),
            "occurred_at": now.isoformat(timespec="microseconds"),
        }
        material = _canonical({**values, "v": 1, "key_id": key_id})
        digest = hmac.new(key, material.encode(), hashlib.sha256).hexdigest()
        bind.execute(
            sa.text(
                "INSERT INTO audit_event (chain, seq, municipality_id, actor_user_id, "
                "on_behalf_of_user_id, action, entity_type, entity_id, data_json, occurred_at, "
                "prev_hash, hash, hash_version, key_id) VALUES (:chain, :seq, :municipality_id, "
                "NULL, NULL, :action, :entity_type, :entity_id, :data_json, :occurred_at, "
                ":prev_hash, :hash, 1, :key_id)"
            ).bindparams(sa.bindparam("occurred_at", type_=market.db.UTCDateTime(timezone=True))),
            {**values, "occurred_at": now, "hash": digest, "key_id": key_id},
        )
        bind.execute(
            sa.text("UPDATE audit_chain_head SET seq = :seq, hash = :hash WHERE chain = :chain"),
            {"seq": seq + 1, "hash": digest, "chain": chain},
        )


def upgrade() -> None:
    with op.batch_alter_table("audit_event") as batch:
        batch.add_column(
            sa.Column("hash_version", sa.Integer(), nullable=False, server_default="0")
        )
        batch.add_column(sa.Column("key_id", sa.String(length=16), nullable=True))
    with op.batch_alter_table("provider_ordering_profile") as batch:
        batch.add_column(sa.Column("webhook_previous_secret", sa.String(length=100), nullable=True))
        batch.add_column(
            sa.Column(
                "webhook_previous_secret_until",
                market.db.UTCDateTime(timezone=True),
                nullable=True,
            )
        )
    _seal_existing_chains()


def downgrade() -> None:
    # Keyed events stay: an older version cannot verify them, but deleting
    # evidence on a downgrade would be worse.
    with op.batch_alter_table("provider_ordering_profile") as batch:
        batch.drop_column("webhook_previous_secret_until")
        batch.drop_column("webhook_previous_secret")
    with op.batch_alter_table("audit_event") as batch:
        batch.drop_column("key_id")
        batch.drop_column("hash_version")
