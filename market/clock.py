"""Days and local times are Copenhagen's, whatever the server's zone; months
(settlement, co-payment statements, the dashboard) are stored as their first day."""

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from market.errors import N_, InvalidInput

COPENHAGEN = ZoneInfo("Europe/Copenhagen")


def today() -> date:
    return datetime.now(COPENHAGEN).date()


def local_instant(day: date, at: time) -> datetime:
    """The UTC instant of a wall-clock time in Copenhagen on that day."""
    return datetime.combine(day, at, tzinfo=COPENHAGEN).astimezone(UTC)


class NotAMonth(InvalidInput):
    def __init__(self, text: str) -> None:
        super().__init__(N_("“{text}” is not a month. Write it like 2026-10."), text=text)


FIRST_YEAR, LAST_YEAR = 2000, 2100


class YearOutOfRange(InvalidInput):
    def __init__(self) -> None:
        super().__init__(
            N_("Choose a month between {first} and {last}."), first=FIRST_YEAR, last=LAST_YEAR
        )


def first_of_month(day: date) -> date:
    return day.replace(day=1)


def add_months(month_on: date, n: int) -> date:
    """The first day of the month ``n`` months after (or before) ``month_on``'s."""
    index = month_on.year * 12 + month_on.month - 1 + n
    return date(index // 12, index % 12 + 1, 1)


def last_of_month(month_on: date) -> date:
    return add_months(month_on, 1) - timedelta(days=1)


def parse_month(text: str) -> date:
    """'2026-11' (or a day in the month, '2026-11-30', as date fields send) → 2026-11-01."""
    cleaned = (text or "").strip()
    try:
        if len(cleaned) == 7:
            month_on = date.fromisoformat(cleaned + "-01")
        else:
            month_on = first_of_month(date.fromisoformat(cleaned))
    except ValueError as exc:
        raise NotAMonth(cleaned) from exc
    # Beyond this the month arithmetic overflows (9999-12 + 1) and no
    # settlement or statement can belong there anyway.
    if not FIRST_YEAR <= month_on.year <= LAST_YEAR:
        raise YearOutOfRange()
    return month_on
