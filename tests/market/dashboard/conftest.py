"""The kitchen, the diner and orders of an ended month, as in the co-payment tests."""

from tests.market.copayments.conftest import caps, diner, kitchen, month  # noqa: F401
