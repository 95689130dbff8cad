from datetime import datetime

from sqlmodel import Field, SQLModel

from market.db import UTCDateTime, utcnow


class Municipality(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    code: str = Field(max_length=4, unique=True, description="Danish municipality code, e.g. 0751")
    name: str = Field(max_length=120)
    # When true, staff (not citizens) must set up a second factor before working.
    require_staff_totp: bool = False
    oncall_email: str | None = Field(default=None, max_length=254)
    # What citizens see on every page they order from: whom to call, and when.
    contact_phone: str | None = Field(default=None, max_length=40)
    opening_hours: str | None = Field(default=None, max_length=200)
    # DESIGN.md: whether a citizen-absent failure costs the citizen the
    # co-payment; off by default, since the absence may have been an emergency.
    charge_copayment_when_absent: bool = False
    # Whether a pause that starts inside the cut-off still cancels those meals
    # free of charge (a case worker recording a hospital admission always does).
    pause_inside_cutoff_free: bool = False
    # The municipality's own account, the debtor of its pain.001 payment files.
    payment_account_iban: str | None = Field(default=None, max_length=34)
    payment_account_bic: str | None = Field(default=None, max_length=11)
    # Peppol e-invoices (market.finance): the municipality's EAN/GLN location
    # number (its NemHandel endpoint, scheme 0088) and the reference its
    # finance department routes supplier invoices by.
    peppol_gln: str | None = Field(default=None, max_length=13)
    invoice_buyer_reference: str | None = Field(default=None, max_length=100)
    # The ISO 20022 version of its payment files: what its bank accepts.
    pain001_version: str = Field(default="pain.001.001.03", max_length=20)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class MunicipalityPostalCode(SQLModel, table=True):
    """The postal codes a municipality serves: the only valid service-area codes."""

    __tablename__ = "municipality_postal_code"

    municipality_id: int = Field(foreign_key="municipality.id", primary_key=True)
    postal_code: str = Field(max_length=4, primary_key=True)
    city: str = Field(max_length=80)
