"""Contract terms as one value object: the unit price and the risk-sharing
terms of DESIGN.md's settlement rules, with every rule that needs no database.

The invariants (``__post_init__``) are the ones the ``contract_terms`` table's
CHECK constraints hold (built from ``BP_FIELDS`` below), so a row read back is
always a valid value; ``check_coherent`` adds the rules an admin entering a
new version must also meet. Settlement computes with this same object
(``market.settlement.rules``). No database and no clock here."""

from dataclasses import dataclass
from typing import TypedDict

from market.errors import N_
from providers.exceptions import InvalidInput, InvalidTerms

BP_WHOLE = 10_000  # basis points in one whole

# The rates in basis points, each between 0 and 100 %.
BP_FIELDS = (
    "shortfall_rate_bp",
    "rebate_bp",
    "on_time_target_bp",
    "malus_bp_per_point",
    "malus_cap_bp",
    "bonus_bp",
    "citizen_absent_share_bp",
    "late_cancel_share_bp",
)

# One whole sentence per rate, so each reads right once translated.
_BP_RANGE_SENTENCES: dict[str, str] = {
    "shortfall_rate_bp": N_("The shortfall rate must be between 0 % and 100 %."),
    "rebate_bp": N_("The volume rebate must be between 0 % and 100 %."),
    "on_time_target_bp": N_("The on-time target must be between 0 % and 100 %."),
    "malus_bp_per_point": N_("The malus per point must be between 0 % and 100 %."),
    "malus_cap_bp": N_("The malus cap must be between 0 % and 100 %."),
    "bonus_threshold_bp": N_("The bonus threshold must be between 0 % and 100 %."),
    "bonus_bp": N_("The SLA bonus must be between 0 % and 100 %."),
    "citizen_absent_share_bp": N_(
        "The share paid when the citizen is absent must be between 0 % and 100 %."
    ),
    "late_cancel_share_bp": N_(
        "The share paid for a late cancellation must be between 0 % and 100 %."
    ),
}


class TermsFields(TypedDict):
    """The terms by column name of the ``contract_terms`` table."""

    unit_price_ore: int
    min_units_per_month: int
    shortfall_rate_bp: int
    rebate_threshold_units: int | None
    rebate_bp: int
    on_time_target_bp: int
    malus_bp_per_point: int
    malus_cap_bp: int
    bonus_threshold_bp: int | None
    bonus_bp: int
    citizen_absent_share_bp: int
    late_cancel_share_bp: int


class VatFields(TypedDict):
    vat_category: str
    vat_rate_bp: int
    vat_exemption_reason: str


@dataclass(frozen=True)
class ContractTerms:
    """The terms one version of an approval's contract sets. Building one
    that breaks an invariant raises ``InvalidTerms`` (a ``ValueError`` and
    the shell's 422 ``InvalidInput`` at once)."""

    unit_price_ore: int
    min_units_per_month: int = 0
    shortfall_rate_bp: int = 0
    rebate_threshold_units: int | None = None
    rebate_bp: int = 0
    on_time_target_bp: int = 0
    malus_bp_per_point: int = 0
    malus_cap_bp: int = 0
    bonus_threshold_bp: int | None = None
    bonus_bp: int = 0
    citizen_absent_share_bp: int = 0
    late_cancel_share_bp: int = 0

    def __post_init__(self) -> None:
        if self.unit_price_ore <= 0:
            raise InvalidTerms(N_("The unit price must be more than 0 kroner."))
        if self.min_units_per_month < 0:
            raise InvalidTerms(N_("The minimum number of units per month cannot be negative."))
        threshold = self.rebate_threshold_units
        if threshold is not None and threshold < 0:
            raise InvalidTerms(N_("The rebate threshold cannot be a negative number of units."))
        for name, sentence in _BP_RANGE_SENTENCES.items():
            value = getattr(self, name)
            if value is not None and not 0 <= value <= BP_WHOLE:
                raise InvalidTerms(sentence)

    def check_coherent(self) -> None:
        """The rules across fields that a new version must meet: each rate
        comes with what it needs to apply, and no month earns a malus and a
        bonus at once."""
        if self.rebate_bp > 0 and self.rebate_threshold_units is None:
            raise InvalidTerms(
                N_("A volume rebate needs a threshold: the number of units above which it applies.")
            )
        if self.shortfall_rate_bp > 0 and not self.min_units_per_month:
            raise InvalidTerms(
                N_("A shortfall rate needs a minimum number of units per month to fall short of.")
            )
        if self.malus_bp_per_point > 0:
            if not self.on_time_target_bp:
                raise InvalidTerms(N_("An SLA malus needs an on-time target above 0 %."))
            if not self.malus_cap_bp:
                raise InvalidTerms(
                    N_("Give the SLA malus a cap above 0 %; with a cap of 0 % nothing is deducted.")
                )
        self._check_bonus()

    def _check_bonus(self) -> None:
        bonus_threshold = self.bonus_threshold_bp
        if self.bonus_bp > 0 and bonus_threshold is None:
            raise InvalidTerms(
                N_("An SLA bonus needs a threshold: the on-time rate from which it is paid.")
            )
        if bonus_threshold is not None and bonus_threshold < self.on_time_target_bp:
            raise InvalidTerms(
                N_(
                    "The bonus threshold cannot be below the on-time target: a month "
                    "would earn a malus and a bonus at once."
                )
            )

    def as_dict(self) -> TermsFields:
        """The terms by column name (the row and the audit record take these)."""
        return {
            "unit_price_ore": self.unit_price_ore,
            "min_units_per_month": self.min_units_per_month,
            "shortfall_rate_bp": self.shortfall_rate_bp,
            "rebate_threshold_units": self.rebate_threshold_units,
            "rebate_bp": self.rebate_bp,
            "on_time_target_bp": self.on_time_target_bp,
            "malus_bp_per_point": self.malus_bp_per_point,
            "malus_cap_bp": self.malus_cap_bp,
            "bonus_threshold_bp": self.bonus_threshold_bp,
            "bonus_bp": self.bonus_bp,
            "citizen_absent_share_bp": self.citizen_absent_share_bp,
            "late_cancel_share_bp": self.late_cancel_share_bp,
        }


@dataclass(frozen=True)
class Vat:
    """The e-invoice's VAT (UNCL5305): S with a rate, Z at 0, or E at 0 with
    its legal ground (empty: the standard Danish welfare exemption text)."""

    vat_category: str
    vat_rate_bp: int
    vat_exemption_reason: str

    @classmethod
    def checked(cls, category: str, rate_bp: int, reason: str) -> "Vat":
        category = (category or "").strip().upper()
        if category not in ("S", "Z", "E"):
            raise InvalidInput(
                N_(
                    "Choose VAT category S (standard rate), Z (zero rate) or E (exempt, "
                    "with the legal ground)."
                )
            )
        if category == "S" and not 0 < rate_bp <= BP_WHOLE:
            raise InvalidInput(N_("A standard-rated VAT category needs a rate above 0 %."))
        reason = " ".join((reason or "").split())
        if len(reason) > 500:
            raise InvalidInput(N_("The VAT exemption reason is too long: at most 500 characters."))
        return cls(
            vat_category=category,
            vat_rate_bp=rate_bp if category == "S" else 0,
            vat_exemption_reason=reason if category == "E" else "",
        )

    def as_dict(self) -> VatFields:
        return {
            "vat_category": self.vat_category,
            "vat_rate_bp": self.vat_rate_bp,
            "vat_exemption_reason": self.vat_exemption_reason,
        }
