"""Imports every table so SQLModel.metadata is complete (Alembic, drift test).
Like app.py and cli.py, this module may see every package."""


def import_all_models() -> None:
    import market.audit.models
    import market.auth.models
    import market.community.models
    import market.copayments.models
    import market.finance.models
    import market.identity.models
    import market.municipalities.models
    import market.operations.models
    import market.orders.models
    import market.outbox.models
    import market.payments.models
    import market.payouts.models
    import market.people.models
    import market.settlement.models  # noqa: F401
    import providers.models  # noqa: F401
    import vouchers.models  # noqa: F401
