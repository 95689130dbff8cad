"""Prometheus metrics. Request latency is counted in each process (in gunicorn's
multiprocess mode when PROMETHEUS_MULTIPROC_DIR is set); the figures about the
data (orders, alerts, outbox, periodic work) are read from the database at each
scrape, so every app machine reports the same."""

import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Histogram,
    generate_latest,
)
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

CONTENT_TYPE = CONTENT_TYPE_LATEST

REQUEST_LATENCY = Histogram(
    "market_http_request_duration_seconds",
    "Time to answer an HTTP request, by route template and status.",
    ["method", "route", "status"],
)


def observe_request(method: str, route: str, status: int, seconds: float) -> None:
    REQUEST_LATENCY.labels(method, route, str(status)).observe(seconds)


@dataclass
class DataFigures:
    orders_by_status: dict[str, int] = field(default_factory=dict)
    open_alerts: int = 0
    oldest_open_alert_age_seconds: float = 0.0
    outbox_backlog: int = 0
    outbox_dead_letters: int = 0
    last_periodic_run: datetime | None = None
    last_periodic_success: datetime | None = None


class _Figures(Collector):
    def __init__(self, figures: DataFigures) -> None:
        self.figures = figures

    def collect(self) -> Iterable[GaugeMetricFamily]:
        f = self.figures
        orders = GaugeMetricFamily("market_orders", "Orders by status.", labels=["status"])
        for status, count in sorted(f.orders_by_status.items()):
            orders.add_metric([status], count)
        yield orders
        yield GaugeMetricFamily(
            "market_welfare_alerts_open", "Welfare alerts nobody acknowledged.", f.open_alerts
        )
        yield GaugeMetricFamily(
            "market_welfare_alert_oldest_open_age_seconds",
            "Age of the oldest unacknowledged welfare alert (0 when none).",
            f.oldest_open_alert_age_seconds,
        )
        yield GaugeMetricFamily(
            "market_outbox_backlog", "E-mails and webhooks waiting to go out.", f.outbox_backlog
        )
        yield GaugeMetricFamily(
            "market_outbox_dead_letters",
            "E-mails and webhooks given up on (see /operations/dead-letters).",
            f.outbox_dead_letters,
        )
        for name, when, text in (
            ("market_periodic_last_run_timestamp_seconds", f.last_periodic_run, "ended"),
            (
                "market_periodic_last_success_timestamp_seconds",
                f.last_periodic_success,
                "succeeded",
            ),
        ):
            yield GaugeMetricFamily(
                name,
                f"Unix time the periodic work last {text} (0 when never).",
                when.timestamp() if when else 0,
            )


def render(figures: DataFigures) -> bytes:
    if "PROMETHEUS_MULTIPROC_DIR" in os.environ:
        from prometheus_client import multiprocess

        process_registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(process_registry)
    else:
        process_registry = REGISTRY
    data_registry = CollectorRegistry()
    data_registry.register(_Figures(figures))
    return generate_latest(process_registry) + generate_latest(data_registry)
