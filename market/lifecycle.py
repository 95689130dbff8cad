"""The one lifecycle check. Every lifecycle is an enum with a transition
table (status -> the statuses it may become); every service checks a move
through ``check_transition`` and names the refusal its users should read."""

from collections.abc import Callable, Mapping
from collections.abc import Set as AbstractSet
from enum import Enum
from typing import TypeVar

from market.errors import AppError

S = TypeVar("S", bound=Enum)


def may_become(transitions: Mapping[S, AbstractSet[S]], current: S, wanted: S) -> bool:
    return wanted in transitions[current]


def check_transition(
    transitions: Mapping[S, AbstractSet[S]],
    current: S,
    wanted: S,
    refusal: Callable[[S, S], AppError],
) -> None:
    """Raises ``refusal(current, wanted)`` unless the table allows the move."""
    if not may_become(transitions, current, wanted):
        raise refusal(current, wanted)


def terminal_statuses(transitions: Mapping[S, AbstractSet[S]]) -> frozenset[S]:
    """The statuses nothing follows."""
    return frozenset(status for status, moves in transitions.items() if not moves)
