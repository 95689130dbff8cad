from tests.market.orders.conftest import caps, diner, kitchen  # noqa: F401 (fixtures)
