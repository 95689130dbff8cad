"""Where money goes: the municipality's account and each provider's payout details."""

from sqlalchemy.ext.asyncio import AsyncSession

from market.audit import service as audit
from market.auth.permissions import Actor
from market.municipalities import service as municipalities
from market.municipalities.models import Municipality
from market.payouts.exceptions import (
    InvalidBic,
    InvalidIban,
    InvalidStripeAccount,
    MissingBankAccount,
    MissingStripeAccount,
)
from market.payouts.scope import managed_municipality
from providers import service as providers
from providers.models import PayoutMethod, Provider

# --- accounts: IBAN, BIC, Stripe ----------------------------------------------------


def clean_iban(text: str) -> str:
    """The IBAN in its compact form, checked (country, length, check digits)."""
    from schwifty import IBAN
    from schwifty.exceptions import SchwiftyException

    value = "".join(text.split()).upper()
    try:
        return str(IBAN(value).compact)
    except (SchwiftyException, ValueError) as exc:
        raise InvalidIban(text.strip()) from exc


def clean_bic(text: str) -> str:
    from schwifty import BIC
    from schwifty.exceptions import SchwiftyException

    value = "".join(text.split()).upper()
    try:
        return str(BIC(value).compact)
    except (SchwiftyException, ValueError) as exc:
        raise InvalidBic(text.strip()) from exc


def clean_stripe_account(text: str) -> str:
    value = text.strip()
    if not value.startswith("acct_") or len(value) < 8 or not value[5:].isalnum():
        raise InvalidStripeAccount(value)
    return value


def mask_account(value: str) -> str:
    """An IBAN or account shown with only its last four characters."""
    if len(value) <= 4:
        return value
    return "•" * 4 + " " + value[-4:]


def payout_destination(provider: Provider) -> tuple[str, str | None]:
    """Where the provider's money goes, or the sentence why it cannot."""
    if provider.payout_method == PayoutMethod.STRIPE_TRANSFER:
        if not provider.stripe_account_id:
            raise MissingStripeAccount(provider.name)
        return provider.stripe_account_id, None
    if not provider.payout_iban or not provider.payout_bic:
        raise MissingBankAccount(provider.name)
    return provider.payout_iban, provider.payout_bic


async def set_municipality_account(
    session: AsyncSession, *, actor: Actor, iban: str, bic: str
) -> Municipality:
    """The municipality's own account: the debtor of its payment files."""
    municipality_id = managed_municipality(actor)
    clean = clean_iban(iban), clean_bic(bic)
    municipality = await municipalities.set_payment_account(
        session, municipality_id=municipality_id, iban=clean[0], bic=clean[1]
    )
    await audit.record(
        session,
        actor=actor,
        action="municipality.payment_account_set",
        entity_type="municipality",
        entity_id=municipality_id,
        municipality_id=municipality_id,
        data={"iban_last4": clean[0][-4:], "bic": clean[1]},
    )
    return municipality


async def payout_details(session: AsyncSession, *, actor: Actor) -> Provider:
    return await providers.own_provider(session, actor=actor)


async def save_payout_details(
    session: AsyncSession,
    *,
    actor: Actor,
    method: str,
    iban: str = "",
    bic: str = "",
    stripe_account_id: str = "",
) -> Provider:
    """A provider admin's payout details: checked here, stored by providers."""
    try:
        chosen = PayoutMethod(method)
    except ValueError as exc:
        from market.payouts.exceptions import UnknownPayoutMethod

        raise UnknownPayoutMethod() from exc
    clean_account = clean_stripe_account(stripe_account_id) if stripe_account_id.strip() else None
    clean_iban_ = clean_iban(iban) if iban.strip() else None
    clean_bic_ = clean_bic(bic) if bic.strip() else None
    if chosen == PayoutMethod.BANK_FILE and (clean_iban_ is None or clean_bic_ is None):
        raise (InvalidIban(iban) if clean_iban_ is None else InvalidBic(bic))
    if chosen == PayoutMethod.STRIPE_TRANSFER and clean_account is None:
        raise InvalidStripeAccount(stripe_account_id)
    return await providers.set_payout_details(
        session,
        actor=actor,
        method=chosen,
        iban=clean_iban_,
        bic=clean_bic_,
        stripe_account_id=clean_account,
    )
