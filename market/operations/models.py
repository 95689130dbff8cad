from datetime import datetime

from sqlalchemy import Text
from sqlmodel import Field, SQLModel

from market.db import UTCDateTime


class PeriodicRun(SQLModel, table=True):
    """When the periodic work last ran, one row per job: /readyz and /metrics
    read it, so every app machine sees the one runner's progress."""

    __tablename__ = "periodic_run"

    job: str = Field(primary_key=True, max_length=64)
    started_at: datetime = Field(sa_type=UTCDateTime)
    finished_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    ok: bool = False
    succeeded_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    report: str = Field(default="", sa_type=Text)
