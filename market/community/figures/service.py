"""What the municipality sees of co-production: counts per partner and area,
never personal data, and the same figures as CSV."""

import csv
import io
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from market.auth.permissions import Actor, Permission
from market.community import repository
from market.community.access.service import (
    coordinator,
    municipality_of,
)
from market.community.exceptions import (
    PartnerNotFound,
)
from market.community.models import (
    CommunityPartner,
)
from market.errors import N_, PermissionDenied


@dataclass(frozen=True)
class FigureRow:
    partner_id: int
    partner_name: str
    postal_code: str
    visits_planned: int
    visits_held: int
    seats_booked: int
    seats_used: int
    waiting: int
    matched: int
    average_days_to_match: float | None


async def _figure_rows(
    session: AsyncSession, municipality_id: int, partner_id: int | None
) -> list[FigureRow]:
    raw = await repository.figures(session, municipality_id, partner_id=partner_id)
    names = {p.id: p.name for p in await repository.partners_of(session, municipality_id)}
    rows = []
    for (pid, postal), c in sorted(raw.items(), key=lambda kv: (names.get(kv[0][0], ""), kv[0])):
        matched = int(c["matched"])
        rows.append(
            FigureRow(
                partner_id=pid,
                partner_name=names.get(pid, ""),
                postal_code=postal or "",
                visits_planned=int(c["visits_planned"]),
                visits_held=int(c["visits_held"]),
                seats_booked=int(c["seats_booked"]),
                seats_used=int(c["seats_used"]),
                waiting=int(c["waiting"]),
                matched=matched,
                average_days_to_match=round(c["days_to_match_total"] / matched, 1)
                if matched
                else None,
            )
        )
    return rows


async def participation(session: AsyncSession, *, actor: Actor) -> list[FigureRow]:
    """Per partner and area (postal code): counts only."""
    municipality_id = municipality_of(actor, Permission.COMMUNITY_FIGURES_VIEW)
    return await _figure_rows(session, municipality_id, None)


async def report_rows(
    session: AsyncSession, *, actor: Actor, partner_id: int
) -> tuple[CommunityPartner, list[FigureRow]]:
    """For one partner's activity-grant report: its municipality's staff, or the
    partner's own coordinator."""
    if not actor.can(Permission.COMMUNITY_REPORT):
        raise PermissionDenied(N_("Your role does not allow this."))
    partner = await repository.get_partner(session, partner_id)
    if partner is None:
        raise PartnerNotFound()
    if actor.can(Permission.COMMUNITY_COORDINATE):
        _, own = await coordinator(session, actor)
        if own.id != partner_id:
            raise PartnerNotFound()
    elif actor.municipality_id != partner.municipality_id:
        raise PartnerNotFound()
    return partner, await _figure_rows(session, partner.municipality_id, partner_id)


CSV_HEADER = (
    "partner",
    "postal_code",
    "visits_planned",
    "visits_held",
    "seats_booked",
    "seats_used",
    "waiting_for_match",
    "matched",
    "average_days_to_match",
)


def _cell(text: str) -> str:
    """An association names itself: a name a spreadsheet would run as a formula
    is written as text."""
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def csv_lines(rows: list[FigureRow]) -> Iterator[str]:
    """The export, one CSV line at a time (stdlib csv), for a streaming response."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")

    def line(values: tuple[Any, ...]) -> str:
        buffer.seek(0)
        buffer.truncate(0)
        writer.writerow(values)
        return buffer.getvalue()

    yield line(CSV_HEADER)
    for r in rows:
        yield line(
            (
                _cell(r.partner_name),
                r.postal_code,
                r.visits_planned,
                r.visits_held,
                r.seats_booked,
                r.seats_used,
                r.waiting,
                r.matched,
                "" if r.average_days_to_match is None else f"{r.average_days_to_match:.1f}",
            )
        )
