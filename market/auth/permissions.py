"""Every permission rule lives here: which role may do what. Scoping (which
municipality or provider) is checked by the services against the Actor.
Every route declares exactly one rule through ``require(...)`` or ``public``;
a test walks all routes and fails when one has none."""

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from enum import StrEnum

from market.auth.models import Role


class Permission(StrEnum):
    ACCOUNT_SELF = "account.self"
    USER_MANAGE = "user.manage"
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
    COPAYMENT_STATEMENT_ISSUE = "copayment_statement.issue"
    COPAYMENT_VIEW = "copayment.view"  # citizens' co-payment statements (staff)
    PAYMENT_METHOD_MANAGE = "payment_method.manage"  # invoice or card for a citizen
    DASHBOARD_VIEW = "dashboard.view"
    OUTBOX_MANAGE = "outbox.manage"  # see and retry e-mails and webhooks given up on


P = Permission
_MUNICIPAL_READ = {P.PROVIDER_DIRECTORY_VIEW, P.STANDARD_VIEW, P.EVIDENCE_VIEW}

ROLE_PERMISSIONS: dict[Role, frozenset[Permission]] = {
    Role.CITIZEN: frozenset(
        {P.ACCOUNT_SELF, P.VOUCHER_VIEW_OWN, P.ORDER_PLACE, P.PAYMENT_METHOD_MANAGE}
    ),
    Role.PROXY: frozenset(
        {P.ACCOUNT_SELF, P.VOUCHER_VIEW_OWN, P.ORDER_PLACE, P.PAYMENT_METHOD_MANAGE}
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
            P.COPAYMENT_STATEMENT_ISSUE,
            P.COPAYMENT_VIEW,
            P.DASHBOARD_VIEW,
            P.OUTBOX_MANAGE,
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
            P.COPAYMENT_VIEW,
            P.DASHBOARD_VIEW,
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
        }
    ),
    Role.PLATFORM_ADMIN: frozenset(
        {
            P.ACCOUNT_SELF,
            P.USER_MANAGE,
            P.AUDIT_VIEW,
            P.AUDIT_VERIFY,
            P.STANDARD_VIEW,
            P.OUTBOX_MANAGE,
        }
    ),
}


def allows(role: Role, permission: Permission) -> bool:
    return permission in ROLE_PERMISSIONS.get(role, frozenset())


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

    def can(self, permission: Permission) -> bool:
        return allows(self.role, permission)


RouteRule = Callable[..., Awaitable[Actor | None]]
RULE_ATTRIBUTE = "__permission_rule__"


def mark_rule(func: RouteRule, rule: str) -> RouteRule:
    setattr(func, RULE_ATTRIBUTE, rule)
    return func
