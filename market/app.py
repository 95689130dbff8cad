"""create_app(settings): the one place that sees every package."""

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import Depends, FastAPI
from fastapi.staticfiles import StaticFiles

from market import errors, pages, tick
from market.audit import pages as audit_pages
from market.audit import router as audit_router
from market.auth import pages as auth_pages
from market.auth.middleware import CsrfCookieMiddleware
from market.config import Settings, get_settings
from market.copayments import pages as copayment_pages
from market.copayments import router as copayment_router
from market.dashboard import pages as dashboard_pages
from market.db import (
    SessionProvider,
    UnitOfWorkMiddleware,
    create_engine,
    create_sessionmaker,
    sessions_from,
)
from market.headers import SecurityHeadersMiddleware
from market.i18n import LanguageMiddleware
from market.operations import pages as operations_pages
from market.operations.logs import RequestContextMiddleware
from market.orders import pages as order_pages
from market.orders import router as order_router
from market.payments import pages as payment_pages
from market.payments import router as payment_router
from market.payouts import pages as payout_pages
from market.payouts import router as payout_router
from market.settlement import pages as settlement_pages
from market.settlement import router as settlement_router
from market.supervision import pages as supervision_pages
from providers import pages as provider_pages
from providers import router as provider_router
from vouchers import pages as voucher_pages
from vouchers import router as voucher_router

STATIC_DIR = Path(__file__).resolve().parent.parent / "static"


def create_app(
    settings: Settings | None = None, session_provider: SessionProvider | None = None
) -> FastAPI:
    """``session_provider`` lets tests run every request inside one rolled-back
    transaction; normally sessions come from the app's own engine."""
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        periodic = None
        if settings.run_periodic and app.state.sessionmaker is not None:
            periodic = asyncio.create_task(tick.run_forever(settings, app.state.sessionmaker))
        yield
        if periodic is not None:
            periodic.cancel()
        if app.state.engine is not None:
            await app.state.engine.dispose()

    app = FastAPI(
        title="Velfærdsmarked",
        version="0.1.0",
        description="Voucher marketplace for municipal welfare services. JSON API under /api/v1.",
        lifespan=lifespan,
        # The open welfare alerts badge in the menu (one COUNT, for alert staff only).
        dependencies=[Depends(order_pages.alert_badge)],
    )
    app.state.settings = settings
    app.state.engine = app.state.sessionmaker = None
    if session_provider is None:
        engine = create_engine(settings)
        app.state.engine = engine
        app.state.sessionmaker = create_sessionmaker(engine)
        session_provider = sessions_from(app.state.sessionmaker)
    app.state.session_provider = session_provider

    errors.install_handlers(app)
    # Added innermost first: the unit of work runs inside the language and CSRF layers.
    app.add_middleware(UnitOfWorkMiddleware, provider=lambda: app.state.session_provider)
    app.add_middleware(CsrfCookieMiddleware, secure=settings.cookie_secure)
    app.add_middleware(LanguageMiddleware, default=settings.default_language)
    app.add_middleware(SecurityHeadersMiddleware)
    # Outermost, so its timing and request id cover every other layer.
    app.add_middleware(RequestContextMiddleware)

    app.mount("/static", StaticFiles(directory=str(STATIC_DIR)), name="static")
    for router in (
        pages.router,
        auth_pages.router,
        audit_pages.router,
        audit_router.router,
        provider_pages.router,
        provider_router.router,
        voucher_pages.router,
        voucher_router.router,
        order_pages.router,
        order_router.router,
        supervision_pages.router,
        settlement_pages.router,
        settlement_router.router,
        payment_pages.router,
        payment_router.router,
        payout_pages.router,
        payout_router.router,
        copayment_pages.router,
        copayment_router.router,
        dashboard_pages.router,
        operations_pages.router,
    ):
        app.include_router(router)
    return app
