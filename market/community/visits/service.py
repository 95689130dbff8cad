"""The volunteer's side: only their matches, only what a visit needs; a held
visit's observation becomes the everyday welfare note for the case worker."""

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from market.audit import service as audit
from market.auth.permissions import Actor
from market.community import repository
from market.community.access.service import (
    first_name,
    local_day,
    visit_refusal,
    volunteer,
    weekday_numbers,
)
from market.community.exceptions import (
    VisitNotFound,
    VisitNotToday,
    VisitTransitionRefused,
)
from market.community.models import (
    VISIT_TRANSITIONS,
    VOLUNTEER_SEES,
    CommunityMember,
    CommunityVisit,
    CompanionRequest,
    VisitStatus,
)
from market.db import utcnow
from market.errors import N_, InvalidInput
from market.lifecycle import check_transition
from vouchers import service as vouchers

# What a volunteer may tick after a visit. The codes the driver uses too go to the
# note's codes; the others are written into the note as words (in Danish, the
# case worker's working language).
VISIT_OBSERVATIONS: dict[str, str] = {
    "lonely": N_("Seems lonely"),
    "not_eaten": N_("Has not eaten"),
    "confused": N_("Seems confused"),
    "fall": N_("Has fallen"),
}


_SHARED_CODES = ("confused", "fall")


_NOTE_WORDS = {"lonely": "virker ensom", "not_eaten": "har ikke spist"}


@dataclass(frozen=True)
class Match:
    """What a volunteer sees of a citizen: never a CPR number, a grant or anyone else."""

    request_id: int
    first_name: str
    address: str
    postal_code: str
    door_notes: str
    allergies: list[str]
    weekdays: list[int]
    visits: list[CommunityVisit]


async def volunteer_matches(
    session: AsyncSession, *, actor: Actor, now: datetime | None = None
) -> list[Match]:
    member = await volunteer(session, actor)
    assert member.id is not None
    today = local_day(now or utcnow())
    requests = list(await repository.matches_of_volunteer(session, member.id))
    citizens = await vouchers.citizens_by_ids(
        session, citizen_ids=sorted({r.citizen_id for r in requests})
    )
    visits = await repository.visits_of_requests(
        session, [r.id for r in requests if r.id is not None], from_day=today - timedelta(days=7)
    )
    out = []
    for r in requests:
        assert r.id is not None
        c = citizens[r.citizen_id]
        out.append(
            Match(
                request_id=r.id,
                first_name=first_name(c.full_name),
                address=c.address,
                postal_code=c.postal_code,
                door_notes=c.door_notes,
                # A meal companion eats with the citizen: allergies matter.
                allergies=list(c.allergies),
                weekdays=weekday_numbers(r.weekdays),
                visits=[v for v in visits if v.request_id == r.id],
            )
        )
    return out


async def record_visit(
    session: AsyncSession,
    *,
    actor: Actor,
    visit_id: int,
    observations: list[str],
    text: str,
    now: datetime | None = None,
) -> CommunityVisit:
    """The visit was held. An observation (optional; the citizen was told at
    acceptance) becomes the everyday welfare note that reaches the case worker."""
    now = now or utcnow()
    member = await volunteer(session, actor)
    visit, request = await _visit_of_volunteer(session, member, visit_id)
    seen = _checked_observations(observations)
    text = text.strip()[:2000]
    check_transition(VISIT_TRANSITIONS, visit.status, VisitStatus.HELD, visit_refusal)
    if visit.visit_on > local_day(now):
        raise VisitNotToday()
    note_id = None
    if seen or text:
        note_id = await _raise_note(
            session, actor=actor, request=request, visit_id=visit_id, seen=seen, text=text, now=now
        )
    if not await repository.move_visit(
        session,
        visit_id=visit_id,
        current=visit.status,
        values={"status": VisitStatus.HELD, "held_at": now, "welfare_note_id": note_id},
    ):
        raise VisitTransitionRefused(visit.status.value, VisitStatus.HELD.value)
    await session.refresh(visit)
    if note_id is not None:
        await audit.record(
            session,
            actor=actor,
            action="welfare_note.raised",
            entity_type="welfare_note",
            entity_id=note_id,
            municipality_id=request.municipality_id,
            data={"visit_id": visit_id, "citizen_id": request.citizen_id, "observations": seen},
        )
    await audit.record(
        session,
        actor=actor,
        action="community_visit.held",
        entity_type="community_visit",
        entity_id=visit_id,
        municipality_id=request.municipality_id,
    )
    return visit


async def _visit_of_volunteer(
    session: AsyncSession, member: CommunityMember, visit_id: int
) -> tuple[CommunityVisit, CompanionRequest]:
    """The visit, if it belongs to one of the volunteer's own matches."""
    visit = await repository.get_visit(session, visit_id)
    request = await repository.get_request(session, visit.request_id) if visit else None
    if (
        visit is None
        or request is None
        or request.volunteer_member_id != member.id
        or request.status not in VOLUNTEER_SEES
    ):
        raise VisitNotFound()
    return visit, request


def _checked_observations(observations: list[str]) -> list[str]:
    seen = [o for o in observations if o]
    if any(o not in VISIT_OBSERVATIONS for o in seen):
        raise InvalidInput(N_("That observation is not on the list; write it as text instead."))
    return seen


async def _raise_note(
    session: AsyncSession,
    *,
    actor: Actor,
    request: CompanionRequest,
    visit_id: int,
    seen: list[str],
    text: str,
    now: datetime,
) -> int:
    """The everyday welfare note (in Danish, the case worker's working language)."""
    words = [_NOTE_WORDS[o] for o in seen if o in _NOTE_WORDS]
    parts = words + ([f"«{text}»"] if text else [])
    body = "Besøgsven (frivillig)" + (": " + "; ".join(parts) if parts else "")
    return await repository.insert_welfare_note(
        session,
        {
            "municipality_id": request.municipality_id,
            "citizen_id": request.citizen_id,
            "order_id": None,
            "observations": ",".join(o for o in seen if o in _SHARED_CODES),
            "text": body,
            "status": "open",
            "raised_at": now,
            "raised_by_user_id": actor.user_id,
            "idempotency_key": f"community-visit:{visit_id}:note",
        },
    )
