"""The providers domain as other packages use it: a thin API that only
re-exports. The rules live in the parts, one per aggregate:

- ``providers.registry``: signing up, a provider's details, payout account,
  portal and the municipal directory;
- ``providers.standards``: versioned quality standards and their requirements;
- ``providers.applications``: applications with evidence and documents, review;
- ``providers.approvals``: approvals, their lifecycle and versioned contract
  terms (``providers.approvals.terms`` is the ``ContractTerms`` value object);
- ``providers.offers``: menus, what a citizen may order, ordering profiles;
- ``providers.lifecycle`` and ``providers.common``: the transition tables and
  what the parts share."""

from market.clock import today
from providers.applications.documents import DocumentIn, check_document
from providers.applications.service import (
    get_application,
    record_decisions,
    reject_application,
    review_queue,
    save_application,
    start_application,
    withdraw_application,
)
from providers.approvals.service import (
    EffectiveStatus,
    active_approvals,
    add_contract_terms,
    approve_application,
    contract_terms_history,
    effective_status,
    is_active,
    reinstate_approval,
    revoke_approval,
    suspend_approval,
    terms_in_force,
)
from providers.common import (
    check_cvr,
    parse_decimal,
    parse_percent_bp,
    parse_unit_price,
    split_postal_codes,
)
from providers.lifecycle import (
    _REFUSALS,
    APPLICATION_TRANSITIONS,
    APPROVAL_TRANSITIONS,
    STANDARD_TRANSITIONS,
    check_transition,
)
from providers.offers.repository import CatalogueQuery
from providers.offers.service import (
    ProviderOfferings,
    delivering_cutoffs,
    offering,
    offerings_for,
    offers_and_providers,
    offers_of_own_provider,
    ordering_profile_of,
    own_ordering_profile,
    ranked_offerings,
    rotate_webhook_secret,
    save_offer,
    save_ordering_profile,
)
from providers.registry.service import (
    own_provider,
    portal,
    provider_directory,
    register_provider,
    set_payout_details,
)
from providers.standards.service import (
    add_requirement,
    create_standard,
    get_standard,
    publish_standard,
)

__all__ = [
    "APPLICATION_TRANSITIONS",
    "APPROVAL_TRANSITIONS",
    "DocumentIn",
    "EffectiveStatus",
    "STANDARD_TRANSITIONS",
    "_REFUSALS",
    "active_approvals",
    "add_contract_terms",
    "add_requirement",
    "approve_application",
    "check_cvr",
    "check_document",
    "check_transition",
    "contract_terms_history",
    "create_standard",
    "effective_status",
    "get_application",
    "get_standard",
    "is_active",
    "offering",
    "offerings_for",
    "CatalogueQuery",
    "ProviderOfferings",
    "delivering_cutoffs",
    "ranked_offerings",
    "offers_and_providers",
    "offers_of_own_provider",
    "ordering_profile_of",
    "own_ordering_profile",
    "own_provider",
    "parse_decimal",
    "parse_percent_bp",
    "parse_unit_price",
    "portal",
    "provider_directory",
    "publish_standard",
    "record_decisions",
    "register_provider",
    "reinstate_approval",
    "reject_application",
    "review_queue",
    "revoke_approval",
    "rotate_webhook_secret",
    "save_application",
    "save_offer",
    "save_ordering_profile",
    "set_payout_details",
    "split_postal_codes",
    "start_application",
    "suspend_approval",
    "terms_in_force",
    "today",
    "withdraw_application",
]
