"""The authorisation matrix: every route, HTML and JSON, as every role, on the
caller's own object, another municipality's and another provider's (and, for
citizens and proxies, another citizen's), checked against ONE table.

The table below is the statement of who may do what; it is written by hand and
read by people, and a route without a row fails the first test, so nobody adds
a route without deciding who may call it. The demo world is the data: the
demo's two municipalities and seven providers, plus a few rows copied from the
demo's own with another owner where the demo has none of a kind (an order, an
alert, a statement, a payout and a payment file in Odense; an order and a
statement of another provider). Every request runs in a transaction that is
rolled back, so the order of the checks does not matter.

What is checked, per route and role:
- a role outside the row is refused: 401/403 (a signed-out browser asking for a
  page is sent to /login);
- a role in the row, on its own objects, is not refused and meets no server error;
- a role in the row, on an object that is not its to see (another
  municipality's, another provider's, another citizen's), gets 403 or 404 —
  never the object, and never a 409 that shows the object's state. A form
  without the fields it needs may answer 422 before it looks (nothing is read
  or changed then)."""

import asyncio
import hashlib
import re
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import MetaData, insert, select, text
from sqlalchemy.ext.asyncio import create_async_engine

from market.app import create_app
from market.config import Settings
from market.openapi import api_routes
from tests.demo_server import DemoServer

ANON = "anonymous"
CIT = "citizen"
PRX = "proxy"
CW = "case_worker"
MA = "municipal_admin"
AU = "auditor"
PS = "provider_staff"
PA = "provider_admin"
PL = "platform_admin"
KT = "kitchen_token"  # a provider's integration token with the kitchen.orders scope
CO = "community_coordinator"  # an association's coordinator (market.community)
VO = "volunteer"  # an association's volunteer, matched with Karen
ROLES = (ANON, CIT, PRX, CW, MA, AU, PS, PA, PL, KT, CO, VO)
EVERYONE = frozenset(ROLES)
# The second-factor pages need a signed-in browser session (a token is not one).
SIGNED_IN = frozenset(frozenset({CIT, PRX, CW, MA, AU, PS, PA, PL, CO, VO}))

# (method, path) -> the roles that may call it. Objects are scoped on top of this.
TABLE: dict[tuple[str, str], frozenset[str]] = {
    ("GET", "/"): EVERYONE,
    ("GET", "/healthz"): EVERYONE,
    ("GET", "/login"): EVERYONE,
    ("POST", "/login"): EVERYONE,
    ("POST", "/logout"): EVERYONE,
    ("GET", "/login/second-factor"): SIGNED_IN,
    ("POST", "/login/second-factor"): SIGNED_IN,
    ("GET", "/account/second-factor"): SIGNED_IN,
    ("POST", "/account/second-factor"): SIGNED_IN,
    ("POST", "/language"): EVERYONE,
    ("GET", "/account/api-tokens"): frozenset({PA, MA}),
    ("POST", "/account/api-tokens"): frozenset({PA, MA}),
    ("POST", "/account/api-tokens/{token_id}/revoke"): frozenset({PA, MA}),
    ("GET", "/audit"): frozenset({MA, AU, PL}),
    ("POST", "/audit/verify"): frozenset({AU, PL}),
    ("GET", "/api/v1/audit/verify"): frozenset({AU, PL}),
    ("GET", "/providers/register"): EVERYONE,
    ("POST", "/providers/register"): EVERYONE,
    ("GET", "/provider"): frozenset({PS, PA}),
    ("GET", "/provider/details"): frozenset({PA}),
    ("POST", "/provider/details"): frozenset({PA}),
    ("POST", "/provider/applications"): frozenset({PA}),
    ("GET", "/provider/applications/{application_id}"): frozenset({MA, AU, PS, PA}),
    ("POST", "/provider/applications/{application_id}"): frozenset({PA}),
    ("POST", "/provider/applications/{application_id}/withdraw"): frozenset({PA}),
    ("GET", "/uploads/{upload_id}"): frozenset({MA, AU, PS, PA}),
    ("GET", "/standards"): frozenset({MA}),
    ("POST", "/standards"): frozenset({MA}),
    ("GET", "/standards/{standard_id}"): frozenset({CW, MA, AU, PS, PA}),
    ("POST", "/standards/{standard_id}/requirements"): frozenset({MA}),
    ("GET", "/standards/{standard_id}/requirements/{requirement_id}"): frozenset({MA}),
    ("POST", "/standards/{standard_id}/requirements/{requirement_id}"): frozenset({MA}),
    ("POST", "/standards/{standard_id}/requirements/{requirement_id}/delete"): frozenset({MA}),
    ("POST", "/standards/{standard_id}/publish"): frozenset({MA}),
    ("GET", "/applications"): frozenset({MA}),
    ("GET", "/applications/{application_id}"): frozenset({MA, AU, PS, PA}),
    ("POST", "/applications/{application_id}/decisions"): frozenset({MA}),
    ("POST", "/applications/{application_id}/approve"): frozenset({MA}),
    ("POST", "/applications/{application_id}/reject"): frozenset({MA}),
    ("GET", "/providers"): frozenset({CW, MA, AU}),
    ("GET", "/providers/{provider_id}"): frozenset({CW, MA, AU}),
    ("POST", "/approvals/{approval_id}/{move}"): frozenset({MA}),
    ("GET", "/approvals/{approval_id}/terms"): frozenset({MA}),
    ("POST", "/approvals/{approval_id}/terms/versions"): frozenset({MA}),
    ("GET", "/provider/offers"): frozenset({PA}),
    ("GET", "/provider/offers/new"): frozenset({PA}),
    ("POST", "/provider/offers/new"): frozenset({PA}),
    ("GET", "/provider/offers/{offer_id}"): frozenset({PA}),
    ("POST", "/provider/offers/{offer_id}"): frozenset({PA}),
    ("GET", "/offers/{offer_id}/photo"): frozenset({CIT, PRX, CW, MA, AU, PS, PA, PL, KT, CO, VO}),
    ("GET", "/provider/ordering"): frozenset({PA}),
    ("POST", "/provider/ordering"): frozenset({PA}),
    ("POST", "/api/v1/providers"): EVERYONE,
    ("GET", "/api/v1/providers"): frozenset({CW, MA, AU}),
    ("GET", "/api/v1/providers/me"): frozenset({PS, PA}),
    ("PUT", "/api/v1/providers/me"): frozenset({PA}),
    ("GET", "/api/v1/providers/{provider_id}"): frozenset({CW, MA, AU}),
    ("GET", "/api/v1/standards"): frozenset({MA}),
    ("POST", "/api/v1/standards"): frozenset({MA}),
    ("GET", "/api/v1/standards/{standard_id}"): frozenset({CW, MA, AU, PS, PA}),
    ("POST", "/api/v1/standards/{standard_id}/requirements"): frozenset({MA}),
    ("PUT", "/api/v1/standards/{standard_id}/requirements/{requirement_id}"): frozenset({MA}),
    ("DELETE", "/api/v1/standards/{standard_id}/requirements/{requirement_id}"): frozenset({MA}),
    ("POST", "/api/v1/standards/{standard_id}/publish"): frozenset({MA}),
    ("GET", "/api/v1/applications"): frozenset({MA, AU, PS, PA}),
    ("POST", "/api/v1/applications"): frozenset({PA}),
    ("GET", "/api/v1/applications/{application_id}"): frozenset({MA, AU, PS, PA}),
    ("PUT", "/api/v1/applications/{application_id}/evidence"): frozenset({PA}),
    ("POST", "/api/v1/applications/{application_id}/uploads"): frozenset({PA}),
    ("POST", "/api/v1/applications/{application_id}/submit"): frozenset({PA}),
    ("POST", "/api/v1/applications/{application_id}/withdraw"): frozenset({PA}),
    ("PUT", "/api/v1/applications/{application_id}/decisions"): frozenset({MA}),
    ("POST", "/api/v1/applications/{application_id}/approve"): frozenset({MA}),
    ("POST", "/api/v1/applications/{application_id}/reject"): frozenset({MA}),
    ("GET", "/api/v1/approvals"): frozenset({CW, MA, AU, PS, PA}),
    ("POST", "/api/v1/approvals/{approval_id}/suspend"): frozenset({MA}),
    ("POST", "/api/v1/approvals/{approval_id}/reinstate"): frozenset({MA}),
    ("POST", "/api/v1/approvals/{approval_id}/revoke"): frozenset({MA}),
    ("GET", "/api/v1/approvals/{approval_id}/terms"): frozenset({MA}),
    ("POST", "/api/v1/approvals/{approval_id}/terms"): frozenset({MA}),
    ("GET", "/citizens"): frozenset({CW, MA, AU}),
    ("POST", "/citizens"): frozenset({CW, MA, AU}),
    ("GET", "/citizens/new"): frozenset({CW}),
    ("POST", "/citizens/new"): frozenset({CW}),
    ("GET", "/citizens/{citizen_id}"): frozenset({CW, MA, AU}),
    ("GET", "/citizens/{citizen_id}/grants/new"): frozenset({CW}),
    ("POST", "/citizens/{citizen_id}/grants/new"): frozenset({CW}),
    ("GET", "/grants/{grant_id}/supersede"): frozenset({CW}),
    ("POST", "/grants/{grant_id}/supersede"): frozenset({CW}),
    ("GET", "/grants/{grant_id}/revoke"): frozenset({CW}),
    ("POST", "/grants/{grant_id}/revoke"): frozenset({CW}),
    ("GET", "/citizens/{citizen_id}/proxies/new"): frozenset({CW}),
    ("POST", "/citizens/{citizen_id}/proxies/new"): frozenset({CW}),
    ("POST", "/citizens/{citizen_id}/proxies/{link_id}/unlink"): frozenset({CW}),
    ("GET", "/citizens/{citizen_id}/letter"): frozenset({CW}),
    ("POST", "/citizens/{citizen_id}/letter-code"): frozenset({CW}),
    ("GET", "/my-voucher"): frozenset({CIT, PRX}),
    ("GET", "/letter-code"): EVERYONE,
    ("POST", "/letter-code"): EVERYONE,
    ("GET", "/letter-code/password"): frozenset({CIT, PRX, CW, MA, AU, PS, PA, PL, CO, VO}),
    ("POST", "/letter-code/password"): frozenset({CIT, PRX, CW, MA, AU, PS, PA, PL, CO, VO}),
    ("GET", "/copayment-caps"): frozenset({MA}),
    ("POST", "/copayment-caps"): frozenset({MA}),
    ("GET", "/api/v1/citizens"): frozenset({CW, MA, AU}),
    ("POST", "/api/v1/citizens/search"): frozenset({CW, MA, AU}),
    ("POST", "/api/v1/citizens"): frozenset({CW}),
    ("GET", "/api/v1/citizens/{citizen_id}"): frozenset({CW, MA, AU}),
    ("POST", "/api/v1/citizens/{citizen_id}/grants"): frozenset({CW}),
    ("POST", "/api/v1/grants/{grant_id}/supersede"): frozenset({CW}),
    ("POST", "/api/v1/grants/{grant_id}/revoke"): frozenset({CW}),
    ("POST", "/api/v1/citizens/{citizen_id}/proxies"): frozenset({CW}),
    ("DELETE", "/api/v1/citizens/{citizen_id}/proxies/{link_id}"): frozenset({CW}),
    ("POST", "/api/v1/citizens/{citizen_id}/letter-code"): frozenset({CW}),
    ("GET", "/api/v1/my-voucher"): frozenset({CIT, PRX}),
    ("GET", "/api/v1/copayment-caps"): frozenset({MA}),
    ("PUT", "/api/v1/copayment-caps/{year}"): frozenset({MA}),
    ("GET", "/order"): frozenset({CIT, PRX, CW}),
    ("GET", "/citizens/{citizen_id}/order"): frozenset({CIT, PRX, CW}),
    ("GET", "/order/{day}"): frozenset({CIT, PRX, CW}),
    ("GET", "/citizens/{citizen_id}/order/{day}"): frozenset({CIT, PRX, CW}),
    ("POST", "/order/{day}"): frozenset({CIT, PRX, CW}),
    ("POST", "/citizens/{citizen_id}/order/{day}"): frozenset({CIT, PRX, CW}),
    ("GET", "/orders"): frozenset({CIT, PRX, CW}),
    ("GET", "/citizens/{citizen_id}/orders"): frozenset({CIT, PRX, CW}),
    ("GET", "/orders/{order_id}"): frozenset({CIT, PRX, CW}),
    ("POST", "/orders/{order_id}/cancel"): frozenset({CIT, PRX, CW}),
    ("POST", "/orders/{order_id}/repeat"): frozenset({CIT, PRX, CW}),
    ("POST", "/orders/{order_id}/rating"): frozenset({CIT, PRX, CW}),
    ("POST", "/standing-orders"): frozenset({CIT, PRX, CW}),
    ("POST", "/standing-orders/{standing_id}/{action}"): frozenset({CIT, PRX, CW}),
    ("GET", "/kitchen"): frozenset({PS, PA, KT}),
    ("POST", "/kitchen/accept"): frozenset({PS, PA, KT}),
    ("POST", "/kitchen/out-for-delivery"): frozenset({PS, PA, KT}),
    ("POST", "/kitchen/orders/{order_id}/reject"): frozenset({PS, PA, KT}),
    ("POST", "/kitchen/orders/{order_id}/delivered"): frozenset({PS, PA, KT}),
    ("POST", "/kitchen/orders/{order_id}/failed"): frozenset({PS, PA, KT}),
    ("GET", "/kitchen/packing"): frozenset({PS, PA, KT}),
    ("GET", "/kitchen/route"): frozenset({PS, PA, KT}),
    ("GET", "/alerts"): frozenset({CW, MA}),
    ("POST", "/alerts/{alert_id}/acknowledge"): frozenset({CW, MA}),
    ("GET", "/payment"): frozenset({CIT, PRX, CW}),
    ("GET", "/citizens/{citizen_id}/payment"): frozenset({CIT, PRX, CW}),
    ("POST", "/payment"): frozenset({CIT, PRX, CW}),
    ("POST", "/citizens/{citizen_id}/payment"): frozenset({CIT, PRX, CW}),
    ("GET", "/api/v1/catalogue"): frozenset({CIT, PRX, CW}),
    ("POST", "/api/v1/orders"): frozenset({CIT, PRX, CW}),
    ("GET", "/api/v1/orders"): frozenset({CIT, PRX, CW}),
    ("GET", "/api/v1/orders/{order_id}"): frozenset({CIT, PRX, CW}),
    ("POST", "/api/v1/orders/{order_id}/cancel"): frozenset({CIT, PRX, CW}),
    ("POST", "/api/v1/orders/{order_id}/rating"): frozenset({CIT, PRX, CW}),
    ("GET", "/api/v1/standing-orders"): frozenset({CIT, PRX, CW}),
    ("POST", "/api/v1/standing-orders"): frozenset({CIT, PRX, CW}),
    ("PATCH", "/api/v1/standing-orders/{standing_id}"): frozenset({CIT, PRX, CW}),
    ("DELETE", "/api/v1/standing-orders/{standing_id}"): frozenset({CIT, PRX, CW}),
    ("GET", "/api/v1/kitchen/orders"): frozenset({PS, PA, KT}),
    ("POST", "/api/v1/kitchen/orders/accept"): frozenset({PS, PA, KT}),
    ("POST", "/api/v1/kitchen/orders/{order_id}/accept"): frozenset({PS, PA, KT}),
    ("POST", "/api/v1/kitchen/orders/{order_id}/reject"): frozenset({PS, PA, KT}),
    ("POST", "/api/v1/kitchen/orders/{order_id}/out-for-delivery"): frozenset({PS, PA, KT}),
    ("POST", "/api/v1/kitchen/orders/{order_id}/delivered"): frozenset({PS, PA, KT}),
    ("POST", "/api/v1/kitchen/orders/{order_id}/failed"): frozenset({PS, PA, KT}),
    ("GET", "/api/v1/alerts"): frozenset({CW, MA}),
    ("POST", "/api/v1/alerts/{alert_id}/acknowledge"): frozenset({CW, MA}),
    ("GET", "/api/v1/citizens/{citizen_id}/payment-method"): frozenset({CIT, PRX, CW}),
    ("PUT", "/api/v1/citizens/{citizen_id}/payment-method"): frozenset({CIT, PRX, CW}),
    ("GET", "/supervision"): frozenset({CW, MA, AU}),
    ("GET", "/settlement"): frozenset({MA, AU}),
    ("POST", "/settlement/run"): frozenset({MA}),
    ("GET", "/settlement/months/{month}"): frozenset({MA, AU}),
    ("POST", "/settlement/months/{month}/approve"): frozenset({MA}),
    ("GET", "/settlement/months/{month}/statements.csv"): frozenset({MA, AU}),
    ("GET", "/settlement/statements/{statement_id}"): frozenset({MA, AU}),
    ("POST", "/settlement/statements/{statement_id}/approve"): frozenset({MA}),
    ("POST", "/settlement/statements/{statement_id}/adjustments"): frozenset({MA}),
    ("GET", "/settlement/statements/{statement_id}/export.csv"): frozenset({MA, AU}),
    ("GET", "/settlement/statements/{statement_id}/export.xlsx"): frozenset({MA, AU}),
    ("GET", "/settlement/statements/{statement_id}/chain-check"): frozenset({MA, AU}),
    ("GET", "/settlement/lines/{line_id}"): frozenset({MA, AU}),
    ("GET", "/settlement/orders/{order_id}"): frozenset({MA, AU}),
    ("GET", "/api/v1/settlement/months/{month}/statements"): frozenset({MA, AU}),
    ("GET", "/api/v1/settlement/statements/{statement_id}"): frozenset({MA, AU}),
    ("POST", "/api/v1/settlement/runs"): frozenset({MA}),
    ("POST", "/api/v1/settlement/statements/{statement_id}/approve"): frozenset({MA}),
    ("POST", "/api/v1/settlement/months/{month}/approve"): frozenset({MA}),
    ("POST", "/webhooks/stripe"): EVERYONE,
    ("GET", "/payouts"): frozenset({MA}),
    ("POST", "/payouts/pay"): frozenset({MA}),
    ("POST", "/payouts/send"): frozenset({MA}),
    ("POST", "/payouts/{payout_id}/bank-refused"): frozenset({MA}),
    ("POST", "/payouts/{payout_id}/requeue"): frozenset({MA}),
    ("POST", "/payouts/files"): frozenset({MA}),
    ("GET", "/payouts/files/{file_id}/download"): frozenset({MA}),
    ("POST", "/payouts/files/{file_id}/paid"): frozenset({MA}),
    ("POST", "/payouts/account"): frozenset({MA}),
    ("GET", "/provider/payout-details"): frozenset({PA}),
    ("POST", "/provider/payout-details"): frozenset({PA}),
    ("GET", "/api/v1/payouts"): frozenset({MA}),
    ("POST", "/api/v1/payouts"): frozenset({MA}),
    ("GET", "/copayments"): frozenset({CW, MA, AU}),
    ("POST", "/copayments/settings"): frozenset({MA}),
    ("POST", "/copayments/issue"): frozenset({MA}),
    ("GET", "/copayments/export.csv"): frozenset({CW, MA, AU}),
    ("GET", "/my-copayments"): frozenset({CIT, PRX}),
    ("GET", "/citizens/{citizen_id}/copayments"): frozenset({CW, MA, AU}),
    ("GET", "/api/v1/copayments/months"): frozenset({CW, MA, AU}),
    ("POST", "/api/v1/copayments/issue"): frozenset({MA}),
    ("GET", "/dashboard"): frozenset({MA, AU}),
    # finance: e-invoices, exports and the read-only finance API
    ("GET", "/api/v1/finance/copayment-statements"): frozenset({CW, MA, AU}),
    ("GET", "/api/v1/finance/credit-notes/{adjustment_id}.xml"): frozenset({MA, AU}),
    ("GET", "/api/v1/finance/einvoices"): frozenset({MA, AU}),
    ("GET", "/api/v1/finance/payment-files"): frozenset({MA, AU}),
    ("GET", "/api/v1/finance/payment-files/{file_id}.xml"): frozenset({MA, AU}),
    ("GET", "/api/v1/finance/statements"): frozenset({MA, AU}),
    ("GET", "/api/v1/finance/statements/{statement_id}/export-da.csv"): frozenset({MA, AU}),
    ("GET", "/api/v1/finance/statements/{statement_id}/export.csv"): frozenset({MA, AU}),
    ("GET", "/api/v1/finance/statements/{statement_id}/export.xlsx"): frozenset({MA, AU}),
    ("GET", "/api/v1/finance/statements/{statement_id}/invoice.xml"): frozenset({MA, AU}),
    ("GET", "/finance"): frozenset({MA, AU}),
    ("GET", "/finance/credit-notes/{adjustment_id}.xml"): frozenset({MA, AU}),
    ("GET", "/finance/statements/{statement_id}/export-da.csv"): frozenset({MA, AU}),
    ("GET", "/finance/statements/{statement_id}/export-machine.csv"): frozenset({MA, AU}),
    ("GET", "/finance/statements/{statement_id}/invoice.xml"): frozenset({MA, AU}),
    ("POST", "/finance/settings"): frozenset({MA}),
    # going live: municipalities, people, invitations, forgotten passwords
    ("GET", "/invitation/{token}"): EVERYONE,
    ("POST", "/invitation/{token}"): EVERYONE,
    ("GET", "/invitation/{token}/staff-login"): EVERYONE,
    ("GET", "/password-reset"): EVERYONE,
    ("POST", "/password-reset"): EVERYONE,
    ("GET", "/password-reset/{token}"): EVERYONE,
    ("POST", "/password-reset/{token}"): EVERYONE,
    ("GET", "/municipalities"): frozenset({PL}),
    ("GET", "/municipalities/new"): frozenset({PL}),
    ("POST", "/municipalities/new"): frozenset({PL}),
    ("GET", "/municipalities/{municipality_id}"): frozenset({PL, MA}),
    ("POST", "/municipalities/{municipality_id}"): frozenset({PL, MA}),
    ("GET", "/people"): frozenset({MA, PA, PL}),
    ("POST", "/people/invite"): frozenset({MA, PA, PL}),
    ("POST", "/people/{user_id}/deactivate"): frozenset({MA, PA, PL}),
    ("POST", "/people/{user_id}/reinvite"): frozenset({MA, PA, PL}),
    ("POST", "/people/{user_id}/role"): frozenset({MA, PA, PL}),
    ("POST", "/people/{user_id}/second-factor-reset"): frozenset({MA, PA, PL}),
    # health, metrics and the outbox's given-up messages
    ("GET", "/livez"): EVERYONE,
    ("GET", "/readyz"): EVERYONE,
    # loopback or the metrics token; the harness calls from loopback
    ("GET", "/metrics"): EVERYONE,
    ("GET", "/operations/dead-letters"): frozenset({MA, PL}),
    ("POST", "/operations/dead-letters/{message_id}/retry"): frozenset({MA, PL}),
    # the API's documentation, served from this site
    ("GET", "/docs"): EVERYONE,
    # the everyday: pauses, cancelling with a question, the driver, welfare notes
    ("GET", "/pause"): frozenset({CIT, PRX, CW}),
    ("POST", "/pause"): frozenset({CIT, PRX, CW}),
    ("GET", "/citizens/{citizen_id}/pause"): frozenset({CIT, PRX, CW}),
    ("POST", "/citizens/{citizen_id}/pause"): frozenset({CIT, PRX, CW}),
    ("POST", "/pauses/{pause_id}/end"): frozenset({CIT, PRX, CW}),
    ("GET", "/orders/{order_id}/cancel"): frozenset({CIT, PRX, CW}),
    ("GET", "/driver"): frozenset({PS, PA, KT}),
    ("POST", "/driver/stops/{order_id}"): frozenset({PS, PA, KT}),
    ("POST", "/welfare-notes/{note_id}/acknowledge"): frozenset({CW, MA}),
    # signing in with the municipality's identity provider and MitID
    ("GET", "/login/oidc/{audience}/{municipality_code}"): EVERYONE,
    ("GET", "/login/oidc/callback"): EVERYONE,
    ("GET", "/login/bind/{token}"): EVERYONE,
    ("GET", "/login/bind/{token}/start"): EVERYONE,
    ("GET", "/identity/providers"): frozenset({PL}),
    ("POST", "/identity/providers"): frozenset({PL}),
    ("GET", "/identity/staff"): frozenset({MA}),
    ("POST", "/identity/staff/{user_id}/binding-link"): frozenset({MA}),
    ("GET", "/citizens/{citizen_id}/proxies/{proxy_user_id}/mitid"): frozenset({CW}),
    ("POST", "/citizens/{citizen_id}/proxies/{proxy_user_id}/mitid"): frozenset({CW}),
    # a provider's webhook signing secret
    ("POST", "/api/v1/provider/webhook-secret/rotate"): frozenset({PA}),
    ("POST", "/provider/ordering/webhook-secret"): frozenset({PA}),
    # co-production: associations, volunteers, meal companions and shared meals
    ("GET", "/community/register"): EVERYONE,
    ("POST", "/community/register"): EVERYONE,
    ("GET", "/community/partners"): frozenset({MA, AU}),
    ("POST", "/community/partners/{partner_id}/{move}"): frozenset({MA}),
    ("GET", "/community/partners/{partner_id}/report.csv"): frozenset({MA, AU, CO}),
    ("GET", "/api/v1/community/participation"): frozenset({MA, AU}),
    ("GET", "/community/partner"): frozenset({CO}),
    ("POST", "/community/partner/activities"): frozenset({CO}),
    ("POST", "/community/partner/volunteers"): frozenset({CO}),
    ("POST", "/community/partner/volunteers/{member_id}/remove"): frozenset({CO}),
    ("POST", "/community/partner/requests/{request_id}/propose"): frozenset({CO}),
    ("POST", "/community/partner/requests/{request_id}/end"): frozenset({CO}),
    ("POST", "/community/partner/bookings/{booking_id}/attended"): frozenset({CO}),
    ("GET", "/community"): frozenset({CIT, PRX, CW}),
    ("GET", "/citizens/{citizen_id}/community"): frozenset({CIT, PRX, CW}),
    ("POST", "/community/companion"): frozenset({CIT, PRX, CW}),
    ("POST", "/community/requests/{request_id}/answer"): frozenset({CIT, PRX, CW}),
    ("POST", "/community/requests/{request_id}/end"): frozenset({CIT, PRX, CW}),
    ("POST", "/community/shared-meals/{activity_id}/book"): frozenset({CIT, PRX, CW}),
    ("POST", "/community/bookings/{booking_id}/cancel"): frozenset({CIT, PRX, CW}),
    ("GET", "/volunteer"): frozenset({VO}),
    ("POST", "/volunteer/visits/{visit_id}"): frozenset({VO}),
}

# Whose objects each role calls with as its own, and whose it must not reach.
PERSPECTIVES: dict[str, tuple[str, tuple[str, ...]]] = {
    ANON: ("aarhus", ()),
    CIT: ("karen", ("poul", "grethe")),
    PRX: ("aase", ("karen", "grethe")),
    CW: ("aarhus", ("odense",)),
    MA: ("aarhus", ("odense",)),
    AU: ("aarhus", ("odense",)),
    PS: ("smagfuldt", ("other_provider",)),
    PA: ("smagfuldt", ("other_provider",)),
    KT: ("smagfuldt", ("other_provider",)),
    PL: ("aarhus", ()),
    CO: ("partner", ("other_partner",)),
    VO: ("volunteer", ("other_volunteer",)),
}
# Objects of a kind a citizen (or the provider) has none of: the municipality's.
FALLBACK = {
    "karen": "aarhus",
    "poul": "aarhus",
    "aase": "aarhus",
    "grethe": "odense",
    "smagfuldt": "aarhus",
    "partner": "aarhus",
    "volunteer": "aarhus",
    "other_partner": "odense",
    "other_volunteer": "odense",
}

# An allowed caller on its own object may meet these on a route, for a reason
# that is not about who asks (named per route).
OWN_ALSO = {
    # the demo's offers have no photo
    ("GET", "/offers/{offer_id}/photo"): {404},
    # the demo's one pause is Jørgen's: a citizen or proxy meets it as another's
    ("POST", "/pauses/{pause_id}/end"): {404},
    # the demo has given up on no message
    ("POST", "/operations/dead-letters/{message_id}/retry"): {404},
    # the demo has no welfare note yet
    ("POST", "/welfare-notes/{note_id}/acknowledge"): {404},
    # the demo has no staff identity provider (market demo --identity-provider adds one)
    ("POST", "/identity/staff/{user_id}/binding-link"): {404},
}

# Routes that commit part-way and open units of work of their own (to call a
# payment provider with no transaction open). The harness keeps every request in
# one transaction that is rolled back, which such a route cannot run inside on
# SQLite; who may call them is still checked, and their own tests cover the rest.
SELF_COMMITTING = {("POST", "/payouts/send")}
# An id that no row has, for kinds of object the demo has none of.
NOWHERE = 2_000_000_000


def _in_thread(func: Any, *args: Any) -> Any:
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(func, *args).result()


async def _build_world(database_url: str) -> dict[str, dict[str, Any]]:
    """The ids of each owner's objects, adding the rows the demo lacks."""
    engine = create_async_engine(database_url)
    meta = MetaData()
    try:
        async with engine.begin() as conn:
            await conn.run_sync(meta.reflect)
            tables = meta.tables

            async def one(sql: str, **params: Any) -> Any:
                return (await conn.execute(text(sql), params)).scalars().first()

            async def clone(name: str, row_id: int, **changes: Any) -> int:
                table = tables[name]
                row = (await conn.execute(select(table).where(table.c.id == row_id))).mappings()
                data = {k: v for k, v in row.one().items() if k != "id"}
                data.update(changes)
                result = await conn.execute(insert(table).values(**data).returning(table.c.id))
                return int(result.scalar_one())

            def citizen(name: str) -> Any:
                return one("SELECT id FROM citizen WHERE full_name = :n", n=name)

            aarhus = await one("SELECT id FROM municipality WHERE code = '0751'")
            odense = await one("SELECT id FROM municipality WHERE code = '0461'")
            smagfuldt = await one("SELECT id FROM provider WHERE name LIKE 'Smagfuldt%'")
            frokost = await one("SELECT id FROM provider WHERE name LIKE 'Frokost%'")
            mormor = await one("SELECT id FROM provider WHERE name LIKE 'Mormor%'")
            karen = await citizen("Karen Margrethe Jensen")
            poul = await citizen("Poul Erik Andersen")
            aase = await citizen("Aase Sørensen")
            grethe = await citizen("Grethe Hansen")

            def grant_of(citizen_id: int) -> Any:
                return one(
                    "SELECT id FROM voucher_grant WHERE citizen_id = :c AND status = 'active'",
                    c=citizen_id,
                )

            karen_order = await one(
                "SELECT id FROM service_order WHERE citizen_id = :c ORDER BY id", c=karen
            )
            poul_order = await one(
                "SELECT id FROM service_order WHERE citizen_id = :c ORDER BY id", c=poul
            )
            odense_approval = await one(
                "SELECT id FROM approval WHERE provider_id = :p AND municipality_id = :m",
                p=smagfuldt,
                m=odense,
            )
            frokost_approval = await one(
                "SELECT id FROM approval WHERE provider_id = :p", p=frokost
            )
            aarhus_approval = await one(
                "SELECT id FROM approval WHERE provider_id = :p AND municipality_id = :m",
                p=smagfuldt,
                m=aarhus,
            )

            def copy_order(citizen_id: int, key: str, **changes: Any) -> Any:
                return clone(
                    "service_order",
                    karen_order,
                    citizen_id=citizen_id,
                    idempotency_key=f"authz-matrix:{key}",
                    standing_order_id=None,
                    **changes,
                )

            grethe_order = await copy_order(
                grethe,
                "grethe",
                municipality_id=odense,
                grant_id=await grant_of(grethe),
                approval_id=odense_approval,
            )
            aase_order = await copy_order(aase, "aase", grant_id=await grant_of(aase))
            frokost_order = await copy_order(
                poul, "frokost", provider_id=frokost, approval_id=frokost_approval
            )
            aarhus_alert = await one(
                "SELECT id FROM welfare_alert WHERE municipality_id = :m ORDER BY id", m=aarhus
            )
            odense_alert = await clone(
                "welfare_alert",
                aarhus_alert,
                municipality_id=odense,
                citizen_id=grethe,
                order_id=grethe_order,
            )
            statement = await one(
                "SELECT id FROM settlement_statement WHERE status = 'approved' ORDER BY id"
            )
            month_on = await one(
                "SELECT month_on FROM settlement_statement WHERE id = :s", s=statement
            )
            odense_statement = await clone(
                "settlement_statement",
                statement,
                municipality_id=odense,
                approval_id=odense_approval,
            )
            frokost_statement = await clone(
                "settlement_statement",
                statement,
                provider_id=frokost,
                approval_id=frokost_approval,
            )
            line = await one(
                "SELECT id FROM settlement_statement_line WHERE statement_id = :s ORDER BY id",
                s=statement,
            )
            lines = {
                "aarhus": line,
                "smagfuldt": line,
                "odense": await clone(
                    "settlement_statement_line", line, statement_id=odense_statement
                ),
                "other_provider": await clone(
                    "settlement_statement_line", line, statement_id=frokost_statement
                ),
            }
            payment_file = await one("SELECT id FROM settlement_payment_file ORDER BY id")
            odense_file = await clone(
                "settlement_payment_file",
                payment_file,
                municipality_id=odense,
                message_id="authz-matrix-odense",
            )
            payout = await one("SELECT id FROM settlement_payout ORDER BY id")
            odense_payout = await clone(
                "settlement_payout",
                payout,
                municipality_id=odense,
                statement_id=odense_statement,
                payment_file_id=odense_file,
                idempotency_key="authz-matrix:odense",
            )
            offer = await one(
                "SELECT id FROM offer WHERE provider_id = :p ORDER BY id", p=smagfuldt
            )
            offer_other = await one(
                "SELECT id FROM offer WHERE provider_id = :p ORDER BY id", p=mormor
            )
            standing = {}
            for who, citizen_id in (
                ("karen", karen),
                ("poul", poul),
                ("aase", aase),
                ("grethe", grethe),
            ):
                result = await conn.execute(
                    insert(tables["standing_order"])
                    .values(
                        citizen_id=citizen_id,
                        offer_id=offer,
                        weekdays="0",
                        active=True,
                        created_by_user_id=await one(
                            "SELECT id FROM app_user WHERE email = 'sagsbehandler@aarhus.example'"
                        ),
                        created_at=datetime.now(UTC),
                    )
                    .returning(tables["standing_order"].c.id)
                )
                standing[who] = result.scalar_one()
            application = await one(
                "SELECT id FROM provider_application"
                " WHERE provider_id = :p AND municipality_id = :m",
                p=smagfuldt,
                m=aarhus,
            )
            application_odense = await one(
                "SELECT id FROM provider_application WHERE municipality_id = :m ORDER BY id",
                m=odense,
            )
            application_other = await one(
                "SELECT id FROM provider_application WHERE provider_id = :p ORDER BY id", p=mormor
            )

            def upload_of(provider_id: int) -> Any:
                return one(
                    "SELECT id FROM evidence_upload WHERE provider_id = :p ORDER BY id",
                    p=provider_id,
                )

            def standard_of(municipality_id: int) -> Any:
                return one(
                    "SELECT id FROM quality_standard WHERE municipality_id = :m"
                    " AND status = 'published' ORDER BY id",
                    m=municipality_id,
                )

            aarhus_standard = await standard_of(aarhus)
            odense_standard = await standard_of(odense)

            def requirement_of(standard_id: int) -> Any:
                return one(
                    "SELECT id FROM standard_requirement WHERE standard_id = :s ORDER BY id",
                    s=standard_id,
                )

            def link_of(citizen_id: int) -> Any:
                return one(
                    "SELECT id FROM proxy_link WHERE citizen_id = :c AND revoked_at IS NULL",
                    c=citizen_id,
                )

            edith = await citizen("Edith Poulsen")
            token = await one(
                "SELECT t.id FROM api_token t JOIN app_user u ON u.id = t.user_id"
                " WHERE u.provider_id = :p ORDER BY t.id",
                p=smagfuldt,
            )
            other_admin = await one(
                "SELECT id FROM app_user WHERE provider_id = :p AND role = 'provider_admin'",
                p=mormor,
            )
            other_token = (
                await conn.execute(
                    insert(tables["api_token"])
                    .values(
                        user_id=other_admin,
                        name="another provider's token",
                        prefix="vm_other",
                        token_hash=hashlib.sha256(b"authz-matrix").hexdigest(),
                        created_at=datetime.now(UTC),
                    )
                    .returning(tables["api_token"].c.id)
                )
            ).scalar_one()
            finance_token = (
                await conn.execute(
                    insert(tables["api_token"])
                    .values(
                        user_id=await one(
                            "SELECT id FROM app_user WHERE email = 'admin@aarhus.example'"
                        ),
                        name="the finance system",
                        prefix="vm_financ",
                        token_hash=hashlib.sha256(b"authz-matrix-finance").hexdigest(),
                        scopes="finance.read",
                        created_at=datetime.now(UTC),
                        expires_at=datetime.now(UTC) + timedelta(days=30),
                    )
                    .returning(tables["api_token"].c.id)
                )
            ).scalar_one()
            month = str(month_on)[:7]
            common = {"month": month, "year": date.today().year, "token": "not-a-real-link"}

            def user(email: str) -> Any:
                return one("SELECT id FROM app_user WHERE email = :e", e=email)

            adjustment = await one(
                "SELECT id FROM settlement_adjustment WHERE municipality_id = :m ORDER BY id",
                m=aarhus,
            )
            community = await _community_world(conn, one, clone, odense, grethe, aase)
            world = {
                "aarhus": {
                    "citizen_id": karen,
                    "grant_id": await grant_of(karen),
                    "link_id": await link_of(aase),
                    "link_citizen_id": aase,
                    "order_id": karen_order,
                    "standing_id": standing["karen"],
                    "alert_id": aarhus_alert,
                    "standard_id": aarhus_standard,
                    "requirement_id": await requirement_of(aarhus_standard),
                    "application_id": application,
                    "approval_id": aarhus_approval,
                    "provider_id": smagfuldt,
                    "offer_id": offer,
                    "upload_id": await upload_of(smagfuldt),
                    "statement_id": statement,
                    "line_id": lines["aarhus"],
                    "payout_id": payout,
                    "file_id": payment_file,
                    "token_id": finance_token,
                    "adjustment_id": adjustment,
                    "pause_id": await one("SELECT id FROM citizen_pause ORDER BY id") or NOWHERE,
                    "note_id": await one("SELECT id FROM welfare_note ORDER BY id") or NOWHERE,
                    "message_id": NOWHERE,
                    "proxy_user_id": await one(
                        "SELECT proxy_user_id FROM proxy_link WHERE citizen_id = :c", c=aase
                    ),
                    "municipality_id": aarhus,
                    "user_id": await user("admin2@aarhus.example"),
                    **community["aarhus"],
                    **common,
                },
                "odense": {
                    "citizen_id": grethe,
                    "grant_id": await grant_of(grethe),
                    "link_id": await link_of(edith),
                    "link_citizen_id": edith,
                    "order_id": grethe_order,
                    "standing_id": standing["grethe"],
                    "alert_id": odense_alert,
                    "standard_id": odense_standard,
                    "requirement_id": await requirement_of(odense_standard),
                    "application_id": application_odense,
                    "approval_id": odense_approval,
                    "provider_id": await one(
                        "SELECT provider_id FROM provider_application WHERE municipality_id = :m"
                        " AND provider_id NOT IN (SELECT provider_id FROM provider_application"
                        " WHERE municipality_id = :a)",
                        m=odense,
                        a=aarhus,
                    ),
                    "statement_id": odense_statement,
                    "line_id": lines["odense"],
                    "payout_id": odense_payout,
                    "file_id": odense_file,
                    "municipality_id": odense,
                    "proxy_user_id": await one(
                        "SELECT proxy_user_id FROM proxy_link WHERE citizen_id = :c", c=edith
                    ),
                    "user_id": await user("sagsbehandler@odense.example"),
                    **community["odense"],
                },
                **{name: community[name] for name in COMMUNITY_OWNERS},
                "karen": {
                    **community["karen"],
                    "citizen_id": karen,
                    "grant_id": await grant_of(karen),
                    "order_id": karen_order,
                    "standing_id": standing["karen"],
                },
                "poul": {
                    "citizen_id": poul,
                    "grant_id": await grant_of(poul),
                    "order_id": poul_order,
                    "standing_id": standing["poul"],
                },
                "aase": {
                    **community["aase"],
                    "citizen_id": aase,
                    "grant_id": await grant_of(aase),
                    "link_id": await link_of(aase),
                    "link_citizen_id": aase,
                    "order_id": aase_order,
                    "standing_id": standing["aase"],
                },
                "grethe": {
                    **community["odense"],
                    "citizen_id": grethe,
                    "grant_id": await grant_of(grethe),
                    "order_id": grethe_order,
                    "standing_id": standing["grethe"],
                },
                "smagfuldt": {
                    "order_id": karen_order,
                    "approval_id": aarhus_approval,
                    "application_id": application,
                    "offer_id": offer,
                    "upload_id": await upload_of(smagfuldt),
                    "statement_id": statement,
                    "line_id": lines["smagfuldt"],
                    "token_id": token,
                    "provider_id": smagfuldt,
                    "user_id": await user("kok@smagfuldt.example"),
                },
                "other_provider": {
                    "order_id": frokost_order,
                    "approval_id": frokost_approval,
                    "application_id": application_other,
                    "offer_id": offer_other,
                    "upload_id": await upload_of(mormor),
                    "statement_id": frokost_statement,
                    "line_id": lines["other_provider"],
                    "token_id": other_token,
                    "provider_id": frokost,
                    "user_id": await user("admin@mormorskoekken.example"),
                },
            }
    finally:
        await engine.dispose()
    return world


COMMUNITY_OWNERS = ("partner", "volunteer", "other_partner", "other_volunteer")


async def _community_world(
    conn: Any, one: Any, clone: Any, odense: int, grethe: int, aase: int
) -> dict[str, dict[str, Any]]:
    """The demo's association in Aarhus (Karen matched with its volunteer, her
    seat booked), and a copy in Odense with Grethe matched with another volunteer."""
    partner = await one("SELECT id FROM community_partner WHERE status = 'approved' ORDER BY id")
    member = await one("SELECT id FROM community_member WHERE role = 'volunteer' ORDER BY id")
    request = await one("SELECT id FROM companion_request ORDER BY id")
    visit = await one("SELECT id FROM community_visit WHERE request_id = :r ORDER BY id", r=request)
    booking = await one("SELECT id FROM seat_booking ORDER BY id")
    activity = await one("SELECT activity_id FROM seat_booking WHERE id = :b", b=booking)
    companion = await one("SELECT activity_id FROM companion_request WHERE id = :r", r=request)
    volunteer_user = await one("SELECT user_id FROM community_member WHERE id = :m", m=member)
    o_partner = await clone("community_partner", partner, municipality_id=odense)
    o_user = await clone(
        "app_user", volunteer_user, email="frivillig@odense-forening.example", full_name="Olaf O"
    )
    o_member = await clone("community_member", member, partner_id=o_partner, user_id=o_user)
    o_activity = await clone(
        "community_activity", activity, partner_id=o_partner, municipality_id=odense
    )
    o_companion = await clone(
        "community_activity", companion, partner_id=o_partner, municipality_id=odense
    )
    o_request = await clone(
        "companion_request",
        request,
        municipality_id=odense,
        partner_id=o_partner,
        activity_id=o_companion,
        citizen_id=grethe,
        volunteer_member_id=o_member,
    )
    o_visit = await clone("community_visit", visit, request_id=o_request)
    o_booking = await clone(
        "seat_booking", booking, activity_id=o_activity, citizen_id=grethe, municipality_id=odense
    )
    aase_request = await clone("companion_request", request, citizen_id=aase, status="asked")
    aase_booking = await clone("seat_booking", booking, citizen_id=aase)
    aarhus = {
        "partner_id": partner,
        "member_id": member,
        "request_id": request,
        "visit_id": visit,
        "booking_id": booking,
        "activity_id": activity,
    }
    odense_ = {
        "partner_id": o_partner,
        "member_id": o_member,
        "request_id": o_request,
        "visit_id": o_visit,
        "booking_id": o_booking,
        "activity_id": o_activity,
    }
    return {
        "aarhus": aarhus,
        "odense": odense_,
        "partner": aarhus,
        "volunteer": aarhus,
        "other_partner": odense_,
        "other_volunteer": odense_,
        "karen": {"request_id": request, "booking_id": booking},
        "aase": {"request_id": aase_request, "booking_id": aase_booking},
    }


@dataclass
class Matrix:
    server: DemoServer
    world: dict[str, dict[str, Any]]
    clients: dict[str, httpx.Client]


@pytest.fixture(scope="session")
def matrix(demo_server: DemoServer) -> Iterator[Matrix]:
    world = _in_thread(asyncio.run, _build_world(demo_server.settings.database_url))
    clients = {role: demo_server.client(role) for role in ROLES}
    yield Matrix(server=demo_server, world=world, clients=clients)
    for client in clients.values():
        client.close()


# Values for the parameters that are not objects.
def _plain_values() -> dict[str, Any]:
    day = date.today() + timedelta(days=3)
    while day.weekday() >= 5:
        day += timedelta(days=1)
    return {
        "day": day.isoformat(),
        "move": "suspend",
        "action": "stop",
        "audience": "citizen",
        "municipality_code": "0751",
    }


def _path_values(
    route_path: str, owner: str, world: dict[str, dict[str, Any]]
) -> dict[str, Any] | None:
    """The path filled with ``owner``'s objects (a citizen's own, else the
    municipality's), or None when the owner has no object of a needed kind."""
    names = re.findall(r"\{(\w+)(?::[^}]*)?\}", route_path)
    values: dict[str, Any] = {}
    plain = _plain_values()
    for name in names:
        if name in plain:
            values[name] = plain[name]
            continue
        found = world.get(owner, {}).get(name)
        if found is None and owner in FALLBACK:
            found = world[FALLBACK[owner]].get(name)
        if found is None and name in ("month", "year"):
            found = world["aarhus"][name]
        if found is None and owner == "aarhus":
            found = NOWHERE
        if found is None:
            return None
        values[name] = found
    if ("link_id" in values or "proxy_user_id" in values) and "citizen_id" in values:
        source = (
            world[owner]
            if "link_citizen_id" in world.get(owner, {})
            else world[FALLBACK.get(owner, owner)]
        )
        values["citizen_id"] = source["link_citizen_id"]
    return values


def _fill(route_path: str, values: dict[str, Any]) -> str:
    path = route_path
    for name, value in values.items():
        path = path.replace("{" + name + "}", str(value))
    return path


def _routes() -> list[tuple[str, str]]:
    app = create_app(Settings(environment="test", secret_key="x" * 40))
    return sorted(
        (method, route.path)
        for route in api_routes(app.routes)
        for method in route.methods
        if method != "HEAD"
    )


ROUTES = _routes()


def test_every_route_has_a_row_and_every_row_a_route() -> None:
    missing = [route for route in ROUTES if route not in TABLE]
    stale = [row for row in TABLE if row not in ROUTES]
    assert len(ROUTES) > 100
    assert not missing, "routes without a row in the authorisation matrix:\n" + "\n".join(
        f'    ("{m}", "{p}"): ...,' for m, p in missing
    )
    assert not stale, f"rows for routes that no longer exist: {stale}"


def _send(client: httpx.Client, method: str, path: str) -> httpx.Response:
    if method in ("GET", "DELETE"):
        return client.request(method, path)
    return client.request(method, path, data={})


def _gist(response: httpx.Response) -> str:
    """What the answer said, on one line: a JSON error's sentence or a page's title."""
    body = response.text
    if "<title>" in body:
        return body.split("<title>", 1)[1].split("</title>", 1)[0].strip()
    return " ".join(body.split())[:160]


def _refused(role: str, method: str, response: httpx.Response) -> bool:
    """Refused, or told there is nothing to see (a 404 shows nothing either)."""
    if response.status_code in (401, 403, 404):
        return True
    # A caller with no browser session asking for a page is sent to the sign-in page.
    return (
        role in (ANON, KT)
        and method == "GET"
        and response.status_code == 303
        and response.headers.get("location", "").startswith("/login")
    )


@pytest.mark.parametrize(("method", "route_path"), ROUTES, ids=[f"{m} {p}" for m, p in ROUTES])
def test_route_as_every_role(matrix: Matrix, method: str, route_path: str) -> None:
    allowed = TABLE.get((method, route_path))
    if allowed is None:
        pytest.fail(f"{method} {route_path} has no row in the authorisation matrix")
    problems: list[str] = []
    for role in ROLES:
        client = matrix.clients[role]
        own_owner, foreign_owners = PERSPECTIVES[role]
        own = _path_values(route_path, own_owner, matrix.world)
        if own is None:
            problems.append(f"{role}: no object of its own to call {route_path} with")
            continue
        if role in allowed and (method, route_path) in SELF_COMMITTING:
            continue
        response = _send(client, method, _fill(route_path, own))
        status = response.status_code
        if status >= 500:
            problems.append(f"{role} own: server error {status}")
            continue
        if allowed is EVERYONE:
            continue  # public: anyone may call it, so only a server error is a fault
        if role not in allowed:
            if not _refused(role, method, response):
                problems.append(f"{role}: not in the row but got {status}: {_gist(response)}")
            continue
        if status in (401, 403) or (
            status == 404 and 404 not in OWN_ALSO.get((method, route_path), set())
        ):
            problems.append(f"{role} own: refused with {status}: {_gist(response)}")
        for owner in foreign_owners:
            foreign = _path_values(route_path, owner, matrix.world)
            if foreign is None or foreign == own:
                continue
            response = _send(client, method, _fill(route_path, foreign))
            ok = {403, 404} | ({422} if method not in ("GET", "DELETE") else set())
            if response.status_code not in ok:
                problems.append(
                    f"{role} on {owner}'s object: {response.status_code}: {_gist(response)}"
                )
    assert not problems, f"{method} {route_path}:\n" + "\n".join(problems)
