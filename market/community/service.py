"""The co-production package's API for the rest of the application: what the
routes, pages, the demo and the tests call. Associations register against the
municipality's community standard and are approved (or suspended) like a
provider; their coordinator publishes activities and matches volunteers with
citizens who asked for a meal companion; volunteers see only what a visit
needs; a seat at a shared meal may skip that day's home delivery. The rules
live in the parts:

- partners: registration, approval, the coordinator's page and volunteers
- activities: publishing activities, the citizen's page that lists them
- companions: requests, proposals, matches and planned visits
- visits: the volunteer's matches and held visits (observations)
- seats: shared-meal bookings and skipping that day's delivery
- figures: participation per partner and area, and the CSV
- access: who acts (staff, coordinator, volunteer, citizen) and shared steps
"""

from market.community.activities.service import (
    MAX_SEATS,
    ActivityInput,
    ActivityLine,
    CommunityView,
    community_view,
    create_activity,
)
from market.community.companions.service import (
    PLAN_DAYS_AHEAD,
    CitizenRequest,
    answer_proposal,
    ask_for_companion,
    end_match_by_citizen,
    end_match_by_partner,
    matched_request_ids,
    plan_visits,
    plan_visits_for_match,
    propose_volunteer,
)
from market.community.figures.service import (
    CSV_HEADER,
    FigureRow,
    csv_lines,
    participation,
    report_rows,
)
from market.community.partners.service import (
    COMMUNITY_STANDARD,
    CoordinatorView,
    PartnerRegistration,
    Registered,
    RequestLine,
    VolunteerAdded,
    add_volunteer,
    coordinator_view,
    decide_partner,
    municipalities_to_choose,
    partners,
    register_partner,
    remove_volunteer,
)
from market.community.seats.service import (
    Booked,
    MyOrdersSection,
    book_seat,
    cancel_booking,
    mark_attended,
    my_orders_section,
    skip_delivery_for_shared_meal,
)
from market.community.visits.service import (
    VISIT_OBSERVATIONS,
    Match,
    record_visit,
    volunteer_matches,
)

__all__ = [
    "ActivityInput",
    "ActivityLine",
    "Booked",
    "COMMUNITY_STANDARD",
    "CSV_HEADER",
    "CitizenRequest",
    "CommunityView",
    "CoordinatorView",
    "FigureRow",
    "MAX_SEATS",
    "Match",
    "MyOrdersSection",
    "PLAN_DAYS_AHEAD",
    "PartnerRegistration",
    "Registered",
    "RequestLine",
    "VISIT_OBSERVATIONS",
    "VolunteerAdded",
    "add_volunteer",
    "answer_proposal",
    "ask_for_companion",
    "book_seat",
    "cancel_booking",
    "community_view",
    "coordinator_view",
    "create_activity",
    "csv_lines",
    "decide_partner",
    "end_match_by_citizen",
    "end_match_by_partner",
    "mark_attended",
    "municipalities_to_choose",
    "my_orders_section",
    "participation",
    "partners",
    "matched_request_ids",
    "plan_visits",
    "plan_visits_for_match",
    "propose_volunteer",
    "record_visit",
    "register_partner",
    "remove_volunteer",
    "report_rows",
    "skip_delivery_for_shared_meal",
    "volunteer_matches",
]
