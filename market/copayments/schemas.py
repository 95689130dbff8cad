from datetime import date

from pydantic import BaseModel, Field


class IssueIn(BaseModel):
    month: str = Field(description="The ended month to issue, e.g. '2026-11'")


class IssueOut(BaseModel):
    month_on: date
    statement_ids: list[int]
    lines: int
    total_ore: int


class MonthOut(BaseModel):
    month_on: date
    statements: int
    citizens: int
    lines: int
    total_ore: int
