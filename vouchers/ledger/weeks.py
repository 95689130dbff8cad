"""ISO weeks and a grant's weekly allotment (pure functions)."""

from datetime import date, timedelta

from vouchers.models import (
    VoucherGrant,
)

# --- weeks -------------------------------------------------------------------


def iso_week_of(day: date) -> str:
    year, week, _ = day.isocalendar()
    return f"{year}-W{week:02d}"


def week_monday(iso_week: str) -> date:
    year, week = iso_week.split("-W")
    return date.fromisocalendar(int(year), int(week), 1)


def week_number(iso_week: str) -> int:
    return int(iso_week.split("-W")[1])


def weeks_between(start: date, end: date) -> list[str]:
    weeks: list[str] = []
    monday = start - timedelta(days=start.weekday())
    while monday <= end:
        weeks.append(iso_week_of(monday))
        monday += timedelta(days=7)
    return weeks


def allotment(units_per_week: int, valid_from: date, valid_to: date, iso_week: str) -> int:
    """Units a week gets: the full weekly number for a whole week inside the
    validity, pro rata by days (rounded down) for a week cut by its start or end."""
    monday = week_monday(iso_week)
    first = max(monday, valid_from)
    last = min(monday + timedelta(days=6), valid_to)
    days = (last - first).days + 1
    if days <= 0:
        return 0
    return units_per_week if days >= 7 else units_per_week * days // 7


def grant_allotment(grant: VoucherGrant, iso_week: str) -> int:
    return allotment(grant.units_per_week, grant.valid_from, grant.valid_to, iso_week)


def total_units(units_per_week: int, valid_from: date, valid_to: date) -> int:
    return sum(
        allotment(units_per_week, valid_from, valid_to, w)
        for w in weeks_between(valid_from, valid_to)
    )
