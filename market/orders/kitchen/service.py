"""The provider's kitchen: the day's orders with the citizens they are for, the
packing list and the route list. A provider sees only citizens who have
ordered from it; citizens are loaded in one query per list, never one per order."""

from dataclasses import dataclass
from datetime import date

from sqlalchemy.ext.asyncio import AsyncSession

from market.auth.permissions import Actor
from market.errors import N_, InvalidInput, PermissionDenied
from market.orders import repository
from market.orders.models import FailureReason, Order, OrderStatus
from market.orders.moves.service import HOLDS_UNITS
from providers import service as providers
from providers.models import Offer, OrderingProfile
from vouchers import service as vouchers
from vouchers.models import Citizen, VoucherGrant

# Meals the kitchen cooks, packs and drives for a day (both lists).
TO_COOK = frozenset(
    {
        OrderStatus.ACCEPTED,
        OrderStatus.OUT_FOR_DELIVERY,
        OrderStatus.DELIVERED,
        OrderStatus.FAILED,
    }
)


@dataclass(frozen=True)
class KitchenLine:
    order: Order
    citizen: Citizen
    grant: VoucherGrant | None
    offer: Offer | None

    @property
    def diet_form(self) -> str:
        return self.grant.diet_form.value if self.grant else self.citizen.diet_form.value

    @property
    def allergies(self) -> list[str]:
        return sorted(set(self.citizen.allergies) | set(self.grant.allergies if self.grant else []))

    @property
    def offer_name(self) -> str:
        return self.offer.name if self.offer else f"#{self.order.offer_id}"


@dataclass(frozen=True)
class KitchenBoard:
    day: date
    lines: list[KitchenLine]
    profile: OrderingProfile

    def having(self, *statuses: OrderStatus) -> list[KitchenLine]:
        return [line for line in self.lines if line.order.status in statuses]

    @property
    def placed(self) -> list[KitchenLine]:
        return self.having(OrderStatus.PLACED)

    @property
    def accepted(self) -> list[KitchenLine]:
        return self.having(OrderStatus.ACCEPTED)

    @property
    def out_for_delivery(self) -> list[KitchenLine]:
        return self.having(OrderStatus.OUT_FOR_DELIVERY)

    @property
    def finished(self) -> list[KitchenLine]:
        return [line for line in self.lines if line.order.status not in HOLDS_UNITS]


@dataclass(frozen=True)
class PackingGroup:
    """One offer on the packing list: how many, in which diet forms, with which allergens."""

    offer_name: str
    allergens: list[str]
    diet_forms: list[tuple[str, int]]
    lines: list[KitchenLine]

    @property
    def count(self) -> int:
        return sum(line.order.units for line in self.lines)


def kitchen_provider(actor: Actor) -> int:
    if actor.provider_id is None:
        raise PermissionDenied(N_("Only a provider's kitchen can see its orders."))
    return actor.provider_id


async def _kitchen_lines(
    session: AsyncSession, actor: Actor, orders: list[Order]
) -> list[KitchenLine]:
    citizens = await vouchers.citizens_by_ids(
        session, citizen_ids=sorted({o.citizen_id for o in orders})
    )
    grants = await vouchers.grants_by_ids(session, grant_ids=sorted({o.grant_id for o in orders}))
    offers = {o.id: o for o in await providers.offers_of_own_provider(session, actor=actor)}
    return [
        KitchenLine(
            order=order,
            citizen=citizens[order.citizen_id],
            grant=grants.get(order.grant_id),
            offer=offers.get(order.offer_id),
        )
        for order in orders
    ]


async def kitchen_board(session: AsyncSession, *, actor: Actor, day: date) -> KitchenBoard:
    """Every order of the actor's provider for one delivery day, by status."""
    provider_id = kitchen_provider(actor)
    orders = list(await repository.orders_of_provider(session, provider_id, day=day, limit=5000))
    lines = await _kitchen_lines(session, actor, orders)
    lines.sort(key=lambda line: (line.citizen.postal_code, line.citizen.address, line.order.id))
    profile = await providers.own_ordering_profile(session, actor=actor)
    return KitchenBoard(day=day, lines=lines, profile=profile)


async def kitchen_orders(
    session: AsyncSession, *, actor: Actor, day: date | None, status: OrderStatus | None
) -> list[KitchenLine]:
    """For kitchen systems: the provider's orders, optionally for one day and status."""
    provider_id = kitchen_provider(actor)
    orders = list(
        await repository.orders_of_provider(
            session,
            provider_id,
            day=day,
            statuses=frozenset({status}) if status else None,
            limit=5000,
        )
    )
    return await _kitchen_lines(session, actor, orders)


def packing_groups(board: KitchenBoard) -> list[PackingGroup]:
    groups: dict[str, list[KitchenLine]] = {}
    for line in board.having(*TO_COOK):
        groups.setdefault(line.offer_name, []).append(line)
    result = []
    for name in sorted(groups):
        lines = sorted(groups[name], key=lambda line: line.citizen.full_name)
        forms: dict[str, int] = {}
        for line in lines:
            forms[line.diet_form] = forms.get(line.diet_form, 0) + line.order.units
        offer = lines[0].offer
        result.append(
            PackingGroup(
                offer_name=name,
                allergens=sorted(offer.allergens) if offer else [],
                diet_forms=sorted(forms.items()),
                lines=lines,
            )
        )
    return result


def route_groups(board: KitchenBoard) -> list[tuple[str, list[KitchenLine]]]:
    """The meals on the packing list, by postal code and then address: the two
    lists hold the same orders, so no packed meal is left without a stop."""
    groups: dict[str, list[KitchenLine]] = {}
    for line in board.having(*TO_COOK):
        groups.setdefault(line.citizen.postal_code, []).append(line)
    return [(code, groups[code]) for code in sorted(groups)]


def parse_order_status(value: str | None) -> OrderStatus | None:
    if value is None or not value.strip():
        return None
    try:
        return OrderStatus(value.strip())
    except ValueError as exc:
        raise InvalidInput(N_("{value} is not an order status."), value=value) from exc


def parse_failure_reason(value: str) -> FailureReason:
    try:
        return FailureReason(value.strip())
    except ValueError as exc:
        raise InvalidInput(N_("Please choose why the meal was not delivered.")) from exc
