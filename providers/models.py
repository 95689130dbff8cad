from datetime import datetime

from sqlmodel import Field, SQLModel

from market.db import UTCDateTime, utcnow


class Provider(SQLModel, table=True):
    """A business that delivers a voucher service. Approved per municipality."""

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=200)
    cvr: str = Field(max_length=8, unique=True, description="Danish business number, modulus 11")
    address: str = Field(max_length=200)
    postal_code: str = Field(max_length=4)
    city: str = Field(max_length=80)
    contact_name: str = Field(max_length=200)
    contact_email: str = Field(max_length=254)
    contact_phone: str = Field(max_length=32)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
