"""Every permission rule lives here: which role may do what. Scoping (which
municipality or provider) is checked by the services against the Actor.
Every route declares exactly one rule through ``require(...)`` or ``public``;
a test walks all routes and fails when one has none."""

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import TypeVar

from market.auth.models import Role


class Permission(StrEnum):
    ACCOUNT_SELF = "account.self"
    USER_MANAGE = "user.manage"
    STAFF_MANAGE = "staff.manage"  # invite colleagues, change roles, close accounts
    MUNICIPALITY_CREATE = "municipality.create"
    MUNICIPALITY_EDIT = "municipality.edit"  # a platform admin any, a municipal admin their own
    API_TOKEN_MANAGE = "api_token.manage"
    AUDIT_VIEW = "audit.view"
    AUDIT_VERIFY = "audit.verify"
    # providers
    STANDARD_VIEW = "standard.view"
    STANDARD_EDIT = "standard.edit"
    PROVIDER_PROFILE_EDIT = "provider.profile.edit"
    APPLICATION_SUBMIT = "application.submit"
    APPLICATION_REVIEW = "application.review"
    APPROVAL_MANAGE = "approval.manage"
    PROVIDER_DIRECTORY_VIEW = "provider.directory.view"
    EVIDENCE_VIEW = "evidence.view"
    # vouchers
    CITIZEN_VIEW = "citizen.view"
    CITIZEN_EDIT = "citizen.edit"
    GRANT_MANAGE = "grant.manage"
    PROXY_MANAGE = "proxy.manage"
    VOUCHER_VIEW_OWN = "voucher.view_own"
    COPAYMENT_CAP_MANAGE = "copayment_cap.manage"
    # ordering
    ORDER_PLACE = "order.place"  # for oneself, a linked citizen, or a citizen by phone
    ORDER_FULFIL = "order.fulfil"  # a provider's kitchen: accept, reject, deliver
    OFFER_MANAGE = "offer.manage"
    ALERT_HANDLE = "alert.handle"
    # settlement, payouts and payments
    CONTRACT_TERMS_MANAGE = "contract_terms.manage"
    SETTLEMENT_VIEW = "settlement.view"  # statements, their lines, orders and exports
    SETTLEMENT_RUN = "settlement.run"  # run or re-run a month as a draft, add adjustments
    SETTLEMENT_APPROVE = "settlement.approve"  # the second pair of eyes (never the preparer)
    PAYOUT_MANAGE = "payout.manage"  # pay approved statements, make payment files
    PAYOUT_VIEW = "payout.view"  # read payouts and payment files (finance.read tokens)
    COPAYMENT_STATEMENT_ISSUE = "copayment_statement.issue"
    COPAYMENT_VIEW = "copayment.view"  # citizens' co-payment statements (staff)
    PAYMENT_METHOD_MANAGE = "payment_method.manage"  # invoice or card for a citizen
    DASHBOARD_VIEW = "dashboard.view"
    # signing in with the municipality's identity provider (market.identity)
    IDENTITY_PROVIDER_MANAGE = "identity_provider.manage"  # the OIDC settings (platform)
    IDENTITY_BINDING_MANAGE = "identity_binding.manage"  # binding links for staff
    OUTBOX_MANAGE = "outbox.manage"  # see and retry e-mails and webhooks given up on
    # co-production: associations, volunteers and activities (market.community)
    COMMUNITY_PARTNER_REVIEW = "community.partner.review"  # approve, suspend partners
    COMMUNITY_FIGURES_VIEW = "community.figures.view"  # participation, no personal data
    COMMUNITY_TAKE_PART = "community.take_part"  # ask for company, book a seat
    COMMUNITY_COORDINATE = "community.coordinate"  # a partner's activities and volunteers
    COMMUNITY_VISIT = "community.visit"  # a volunteer's own matches and visits only
    COMMUNITY_REPORT = "community.report"  # a partner's activity-grant export (CSV)


P = Permission
_MUNICIPAL_READ = {P.PROVIDER_DIRECTORY_VIEW, P.STANDARD_VIEW, P.EVIDENCE_VIEW}

ROLE_PERMISSIONS: dict[Role, frozenset[Permission]] = {
    Role.CITIZEN: frozenset(
        {
            P.ACCOUNT_SELF,
            P.VOUCHER_VIEW_OWN,
            P.ORDER_PLACE,
            P.PAYMENT_METHOD_MANAGE,
            P.COMMUNITY_TAKE_PART,
        }
    ),
    Role.PROXY: frozenset(
        {
            P.ACCOUNT_SELF,
            P.VOUCHER_VIEW_OWN,
            P.ORDER_PLACE,
            P.PAYMENT_METHOD_MANAGE,
            P.COMMUNITY_TAKE_PART,
        }
    ),
    Role.CASE_WORKER: frozenset(
        {
            P.ACCOUNT_SELF,
            P.PROVIDER_DIRECTORY_VIEW,
            P.STANDARD_VIEW,
            P.CITIZEN_VIEW,
            P.CITIZEN_EDIT,
            P.GRANT_MANAGE,
            P.PROXY_MANAGE,
            P.ORDER_PLACE,
            P.ALERT_HANDLE,
            P.COPAYMENT_VIEW,
            P.PAYMENT_METHOD_MANAGE,
            P.COMMUNITY_TAKE_PART,
        }
    ),
    Role.MUNICIPAL_ADMIN: frozenset(
        {
            P.ACCOUNT_SELF,
            P.STANDARD_EDIT,
            P.APPLICATION_REVIEW,
            P.APPROVAL_MANAGE,
            P.AUDIT_VIEW,
            P.CITIZEN_VIEW,
            P.COPAYMENT_CAP_MANAGE,
            P.ALERT_HANDLE,
            P.CONTRACT_TERMS_MANAGE,
            P.SETTLEMENT_VIEW,
            P.SETTLEMENT_RUN,
            P.SETTLEMENT_APPROVE,
            P.PAYOUT_MANAGE,
            P.PAYOUT_VIEW,
            P.API_TOKEN_MANAGE,  # finance.read tokens for the municipality's systems
            P.COPAYMENT_STATEMENT_ISSUE,
            P.COPAYMENT_VIEW,
            P.DASHBOARD_VIEW,
            P.STAFF_MANAGE,
            P.MUNICIPALITY_EDIT,
            P.IDENTITY_BINDING_MANAGE,
            P.OUTBOX_MANAGE,
            P.COMMUNITY_PARTNER_REVIEW,
            P.COMMUNITY_FIGURES_VIEW,
            P.COMMUNITY_REPORT,
            *_MUNICIPAL_READ,
        }
    ),
    Role.AUDITOR: frozenset(
        {
            P.ACCOUNT_SELF,
            P.AUDIT_VIEW,
            P.AUDIT_VERIFY,
            P.CITIZEN_VIEW,
            P.SETTLEMENT_VIEW,
            P.PAYOUT_VIEW,
            P.COPAYMENT_VIEW,
            P.DASHBOARD_VIEW,
            P.COMMUNITY_FIGURES_VIEW,
            P.COMMUNITY_REPORT,
            *_MUNICIPAL_READ,
        }
    ),
    Role.PROVIDER_STAFF: frozenset(
        {P.ACCOUNT_SELF, P.STANDARD_VIEW, P.EVIDENCE_VIEW, P.ORDER_FULFIL}
    ),
    Role.PROVIDER_ADMIN: frozenset(
        {
            P.ACCOUNT_SELF,
            P.STANDARD_VIEW,
            P.EVIDENCE_VIEW,
            P.PROVIDER_PROFILE_EDIT,
            P.APPLICATION_SUBMIT,
            P.API_TOKEN_MANAGE,
            P.ORDER_FULFIL,
            P.OFFER_MANAGE,
            P.STAFF_MANAGE,
        }
    ),
    Role.PLATFORM_ADMIN: frozenset(
        {
            P.ACCOUNT_SELF,
            P.USER_MANAGE,
            P.AUDIT_VIEW,
            P.AUDIT_VERIFY,
            P.STANDARD_VIEW,
            P.STAFF_MANAGE,
            P.MUNICIPALITY_CREATE,
            P.MUNICIPALITY_EDIT,
            P.IDENTITY_PROVIDER_MANAGE,
            P.OUTBOX_MANAGE,
        }
    ),
    # An association's coordinator: its activities, volunteers and matches, and
    # its own activity-grant export; never a CPR number or a grant.
    Role.COMMUNITY_COORDINATOR: frozenset(
        {P.ACCOUNT_SELF, P.COMMUNITY_COORDINATE, P.COMMUNITY_REPORT}
    ),
    # A volunteer: only the citizens they are matched with, only what a visit needs.
    Role.VOLUNTEER: frozenset({P.ACCOUNT_SELF, P.COMMUNITY_VISIT}),
}


def allows(role: Role, permission: Permission) -> bool:
    return permission in ROLE_PERMISSIONS.get(role, frozenset())


class TokenScope(StrEnum):
    KITCHEN_ORDERS = "kitchen.orders"
    OFFERS = "offers"
    SETTLEMENT_READ = "settlement.read"
    FINANCE_READ = "finance.read"


# What each scope may do. A token's permissions are its user's role's
# permissions intersected with the union of its scopes' sets.
TOKEN_SCOPES: dict[TokenScope, frozenset[Permission]] = {
    TokenScope.KITCHEN_ORDERS: frozenset({P.ORDER_FULFIL}),
    TokenScope.OFFERS: frozenset({P.OFFER_MANAGE, P.STANDARD_VIEW}),
    TokenScope.SETTLEMENT_READ: frozenset({P.SETTLEMENT_VIEW}),
    TokenScope.FINANCE_READ: frozenset({P.SETTLEMENT_VIEW, P.COPAYMENT_VIEW, P.PAYOUT_VIEW}),
}

# Money details (payout account, IBAN, Stripe account), users, tokens and a
# person's own account change only in a signed-in session, never by a token,
# whatever its scopes: no scope may ever grant one of these (checked below).
NEVER_BY_TOKEN = frozenset(
    {
        P.USER_MANAGE,
        P.API_TOKEN_MANAGE,
        P.ACCOUNT_SELF,
        P.PROVIDER_PROFILE_EDIT,
        P.PAYOUT_MANAGE,
        P.PAYMENT_METHOD_MANAGE,
        P.COPAYMENT_CAP_MANAGE,
        P.CONTRACT_TERMS_MANAGE,
    }
)
if any(permissions & NEVER_BY_TOKEN for permissions in TOKEN_SCOPES.values()):
    raise RuntimeError("a token scope grants a permission that tokens must never have")

# Which scopes a role may give its tokens.
SCOPES_FOR_ROLE: dict[Role, tuple[TokenScope, ...]] = {
    Role.PROVIDER_ADMIN: (
        TokenScope.KITCHEN_ORDERS,
        TokenScope.OFFERS,
        TokenScope.SETTLEMENT_READ,
    ),
    Role.MUNICIPAL_ADMIN: (TokenScope.FINANCE_READ,),
}


def token_permissions(scopes: frozenset[TokenScope]) -> frozenset[Permission]:
    return frozenset().union(*(TOKEN_SCOPES[s] for s in scopes)) - NEVER_BY_TOKEN


@dataclass(frozen=True)
class Actor:
    """The person (or provider system) behind a request."""

    user_id: int
    role: Role
    full_name: str
    municipality_id: int | None = None
    provider_id: int | None = None
    on_behalf_of_user_id: int | None = None
    via_api_token: bool = False
    # Set for a request made with an API token: it may do only what these allow.
    token_scopes: frozenset[TokenScope] | None = None

    def can(self, permission: Permission) -> bool:
        if self.token_scopes is not None and permission not in token_permissions(self.token_scopes):
            return False
        return allows(self.role, permission)


def municipality_scope(
    actor: Actor,
    permission: Permission | None,
    refusal: Callable[[], Exception],
    *,
    outside_municipality: Callable[[], Exception] | None = None,
) -> int:
    """The one rule for "the actor's municipality, if allowed": the actor must
    hold ``permission`` (when given) and belong to a municipality. Each domain
    names its refusal (and, if it differs, the one for an actor outside any
    municipality), so its users keep reading the sentence they read before."""
    if permission is not None and not actor.can(permission):
        raise refusal()
    if actor.municipality_id is None:
        raise (outside_municipality or refusal)()
    return actor.municipality_id


RouteRule = Callable[..., Awaitable[Actor | None]]
RULE_ATTRIBUTE = "__permission_rule__"


RuleFunction = TypeVar("RuleFunction", bound=Callable[..., Awaitable[object]])


def mark_rule(func: RuleFunction, rule: str) -> RuleFunction:
    setattr(func, RULE_ATTRIBUTE, rule)
    return func
