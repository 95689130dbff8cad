"""API input and output of the order flow."""

from datetime import date, datetime

from pydantic import BaseModel, Field

# --- ordering ----------------------------------------------------------------------


class CatalogueEntryOut(BaseModel):
    """One meal the citizen may order for the day, with the full price split."""

    offer_id: int
    name: str
    description: str
    diet_forms: list[str] = Field(description="Diet forms the meal is made as, e.g. 'soft'.")
    allergens: list[str] = Field(description="Allergens the meal contains (EU list keys).")
    provider_id: int
    provider_name: str
    unit_price_ore: int = Field(description="What the meal costs (the contract price), in øre.")
    municipality_pays_ore: int = Field(description="The municipality's share, in øre.")
    copayment_ore: int = Field(description="What the citizen pays, in øre.")
    cutoff_at: datetime = Field(description="Order (and cancel free of charge) before this.")
    photo_url: str | None = Field(description="Thumbnail of the meal, if the provider has one.")


class CatalogueOut(BaseModel):
    citizen_id: int
    delivery_on: date
    has_voucher: bool = Field(description="False when no active voucher covers the day.")
    entries: list[CatalogueEntryOut]
    total_providers: int = Field(
        default=0,
        description="How many providers have a meal for the citizen that day (with "
        "limit/offset: in all, not only in this answer).",
    )


class OrderIn(BaseModel):
    offer_id: int = Field(description="The meal, from the catalogue.")
    delivery_on: date = Field(description="The delivery day (Europe/Copenhagen).")
    citizen_id: int | None = Field(
        default=None,
        description="Whom the order is for; a citizen ordering for themself leaves it out.",
    )


class OrderOut(BaseModel):
    id: int
    citizen_id: int
    offer_id: int
    provider_id: int
    delivery_on: date
    status: str = Field(description="placed, accepted, rejected, expired, cancelled, ...")
    status_note: str | None = Field(description="The kitchen's reason for a rejection.")
    units: int
    unit_price_ore: int
    copayment_ore: int = Field(description="What the citizen pays for this order, in øre.")
    municipality_pays_ore: int
    cutoff_at: datetime = Field(description="Cancelling after this costs the co-payment.")
    window_end_at: datetime = Field(description="Delivered by this instant.")
    standing_order_id: int | None
    placed_by_user_id: int
    on_behalf_of_user_id: int | None = Field(
        description="The citizen's user when someone else (proxy, case worker) placed it."
    )
    placed_at: datetime


class RatingIn(BaseModel):
    stars: int = Field(ge=1, le=5, description="1 to 5 stars.")
    comment: str = Field(default="", max_length=2000)


class RatingOut(BaseModel):
    order_id: int
    stars: int
    comment: str
    created_at: datetime


class StandingOrderIn(BaseModel):
    offer_id: int
    weekdays: list[int] = Field(description="ISO weekdays, 1 = Monday … 7 = Sunday.")
    citizen_id: int | None = Field(default=None, description="Left out by a citizen.")


class StandingOrderChange(BaseModel):
    active: bool | None = Field(default=None, description="false stops it, true resumes it.")
    weekdays: list[int] | None = Field(default=None, description="New ISO weekdays.")


class StandingOrderOut(BaseModel):
    id: int
    citizen_id: int
    offer_id: int
    weekdays: list[int]
    active: bool
    created_by_user_id: int
    placed_through_on: date | None = Field(description="Orders are placed up to this day.")
    last_problem: str | None = Field(description="Why a day could not be ordered, if any.")
    last_problem_at: datetime | None


# --- kitchen systems ---------------------------------------------------------------


class KitchenOrderOut(BaseModel):
    """An order as the kitchen needs it: what to cook, for whom, where to drive."""

    id: int
    status: str
    delivery_on: date
    offer_id: int
    offer_name: str
    units: int
    citizen_name: str
    address: str
    postal_code: str
    phone: str | None
    diet_form: str
    allergies: list[str]
    accept_by_at: datetime
    window_end_at: datetime
    failure_reason: str | None
    status_note: str | None


class KitchenMoveOut(BaseModel):
    id: int
    status: str
    status_note: str | None
    failure_reason: str | None


class OrderIdsIn(BaseModel):
    order_ids: list[int] = Field(min_length=1, max_length=1000)


class RejectIn(BaseModel):
    reason: str = Field(max_length=2000, description="Shown to the citizen.")


class FailedIn(BaseModel):
    reason: str = Field(description="citizen_absent, not_delivered, too_late or wrong_meal")
    note: str = Field(default="", max_length=2000)


# --- welfare alerts ----------------------------------------------------------------


class AlertOut(BaseModel):
    id: int
    status: str
    order_id: int
    delivery_on: date | None
    citizen_id: int
    citizen_name: str
    address: str
    postal_code: str
    phone: str | None
    contact_name: str | None
    contact_phone: str | None
    provider_note: str | None
    raised_at: datetime
    overdue: bool
    acknowledged_at: datetime | None
    acknowledgement_note: str | None


class AlertQueueOut(BaseModel):
    open: list[AlertOut]
    acknowledged: list[AlertOut]
    overdue_minutes: int


class AcknowledgeIn(BaseModel):
    note: str = Field(max_length=4000, description="What was done, e.g. who was called.")
