"""Days and local times are Copenhagen's, whatever the server's zone."""

from datetime import UTC, date, datetime, time
from zoneinfo import ZoneInfo

COPENHAGEN = ZoneInfo("Europe/Copenhagen")


def today() -> date:
    return datetime.now(COPENHAGEN).date()


def local_instant(day: date, at: time) -> datetime:
    """The UTC instant of a wall-clock time in Copenhagen on that day."""
    return datetime.combine(day, at, tzinfo=COPENHAGEN).astimezone(UTC)
