"""gunicorn -c gunicorn.conf.py market.asgi:app

Production serving: gunicorn manages the processes, uvicorn runs the app in each.
Override any value without editing this file, e.g.
GUNICORN_CMD_ARGS="--bind 127.0.0.1:8001 --workers 4". See docs/operations.md."""

import os
import shutil
from pathlib import Path

from market.config import get_settings
from market.operations.logs import logging_config

# Behind the reverse proxy on the same machine; the proxy terminates TLS.
bind = "127.0.0.1:8000"
# Two per core is a good start; every worker opens its own database pool.
workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
worker_class = "market.operations.gunicorn_worker.Worker"
# X-Forwarded-For and X-Forwarded-Proto are believed only from the proxy.
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1,::1")
# A request that takes longer than this restarts its worker.
timeout = 60
graceful_timeout = 30
keepalive = 5
# Each worker listens on a socket of its own (SO_REUSEPORT: gunicorn binds them
# after forking) and the kernel spreads new connections over them by a hash. On
# one shared socket the worker that woke first accepted a whole burst of
# keep-alive connections and kept them (bench/order_rush: 24 of 32 on one worker,
# 31 of 32 once), leaving the other idle. See bench/README.md for the figures.
reuse_port = True
# Logs: the app's JSON lines on stderr (journald keeps them); the app writes its own
# access line (without the query string, which may carry personal data).
accesslog = None
logconfig_dict = logging_config(get_settings())


def on_starting(server: object) -> None:
    """Prometheus' multiprocess mode keeps one file per worker; start from none."""
    directory = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if directory:
        shutil.rmtree(directory, ignore_errors=True)
        Path(directory).mkdir(parents=True, exist_ok=True)


def child_exit(server: object, worker: object) -> None:
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)  # type: ignore[attr-defined]
