"""API output of co-production."""

from pydantic import BaseModel


class FigureOut(BaseModel):
    """Counts for one association in one area; never a person."""

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
