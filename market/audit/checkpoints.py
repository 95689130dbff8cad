"""Signed checkpoints: the head of each chain at one moment, signed with an
Ed25519 key kept outside the database. The auditor keeps the file; later,
`market audit verify --checkpoint FILE` proves the history up to each recorded
head is unchanged, even against someone who holds the database and the HMAC key
(they can recompute hashes, but not the signature, and the recorded head hash
no longer matches a rewritten event)."""

import base64
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from market.audit import keys, repository
from market.audit.models import PLATFORM_CHAIN
from market.audit.service import canonical_json
from market.config import Settings
from market.db import utcnow

FORMAT = "velfaerdsmarked.audit-checkpoint.v1"


class CheckpointRefused(Exception):
    """The file is not a checkpoint this installation signed, or was altered."""


def _signed_part(entry: dict[str, Any]) -> bytes:
    return canonical_json({k: v for k, v in entry.items() if k != "signature"}).encode()


async def make(session: AsyncSession, *, settings: Settings, now: datetime | None = None) -> dict:
    """One signed entry per chain (per municipality, and the platform's)."""
    signing_key = keys.load_signing_key(settings)
    public_key = signing_key.public_key()
    key_id = keys.public_key_id(public_key)
    signed_at = (now or utcnow()).isoformat(timespec="seconds")
    entries = []
    for head in await repository.chains(session):
        entry: dict[str, Any] = {
            "chain": head.chain,
            "municipality_id": None
            if head.chain == PLATFORM_CHAIN
            else int(head.chain.split(":", 1)[1]),
            "seq": head.seq,
            "head_hash": head.hash,
            "signed_at": signed_at,
            "key_id": key_id,
        }
        entry["signature"] = base64.b64encode(signing_key.sign(_signed_part(entry))).decode()
        entries.append(entry)
    return {
        "format": FORMAT,
        "public_keys": {key_id: keys.public_key_text(public_key)},
        "entries": entries,
    }


@dataclass
class CheckpointResult:
    chain: str
    seq: int
    signed_at: str
    problem: str | None = None

    @property
    def ok(self) -> bool:
        return self.problem is None


def parse(text: str, *, settings: Settings) -> list[dict[str, Any]]:
    """The entries of a checkpoint file, each signature checked against the keys
    this installation trusts (never against a key the file itself offers)."""
    try:
        document = json.loads(text)
    except ValueError as exc:
        raise CheckpointRefused("the checkpoint file is not JSON") from exc
    if not isinstance(document, dict) or document.get("format") != FORMAT:
        raise CheckpointRefused("the file is not an audit checkpoint")
    trusted = keys.trusted_public_keys(settings)
    if not trusted:
        raise CheckpointRefused(
            "no key to check signatures with: set MARKET_AUDIT_SIGNING_KEY_FILE "
            "or MARKET_AUDIT_TRUSTED_PUBLIC_KEYS"
        )
    entries = document.get("entries")
    if not isinstance(entries, list):
        raise CheckpointRefused("the checkpoint has no entries")
    for entry in entries:
        try:
            chain, seq, head_hash = entry["chain"], entry["seq"], entry["head_hash"]
            signature = base64.b64decode(entry["signature"], validate=True)
        except (KeyError, TypeError, ValueError) as exc:
            raise CheckpointRefused("an entry of the checkpoint is incomplete") from exc
        if not (isinstance(chain, str) and isinstance(seq, int) and isinstance(head_hash, str)):
            raise CheckpointRefused("an entry of the checkpoint is malformed")
        public_key = trusted.get(str(entry.get("key_id")))
        if public_key is None:
            raise CheckpointRefused(
                f"the entry for {chain} is signed by a key this installation does not trust"
            )
        if not keys.signature_valid(public_key, signature, _signed_part(entry)):
            raise CheckpointRefused(
                f"the signature of the entry for {chain} is invalid: the file was altered"
            )
    return entries


async def check(
    session: AsyncSession, *, entries: list[dict[str, Any]], chains: set[str] | None = None
) -> list[CheckpointResult]:
    """Each signed head against the chain as stored now."""
    results = []
    for entry in entries:
        if chains is not None and entry["chain"] not in chains:
            continue
        result = CheckpointResult(
            chain=entry["chain"], seq=entry["seq"], signed_at=entry["signed_at"]
        )
        if entry["seq"] > 0:
            event = await repository.event_at(session, entry["chain"], entry["seq"])
            if event is None:
                result.problem = (
                    f"event {entry['seq']}, the head at the checkpoint of {entry['signed_at']}, "
                    "is gone: history was deleted"
                )
            elif event.hash != entry["head_hash"]:
                result.problem = (
                    f"event {entry['seq']} no longer has the hash signed at the checkpoint of "
                    f"{entry['signed_at']}: history up to it was rewritten"
                )
        results.append(result)
    return results
