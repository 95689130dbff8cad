"""The gunicorn worker (gunicorn.conf.py names it): uvicorn's, without the Server
header, with uvicorn's own log lines going to the app's JSON handler."""

import logging
from typing import Any

from uvicorn_worker import UvicornWorker


class Worker(UvicornWorker):
    CONFIG_KWARGS: dict[str, Any] = {
        "loop": "auto",
        "http": "auto",
        "server_header": False,
        "proxy_headers": True,
    }

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # UvicornWorker hands uvicorn.error to gunicorn's handlers; the logging
        # config (market.operations.logs) has one handler, on the root logger.
        error = logging.getLogger("uvicorn.error")
        error.handlers, error.propagate = [], True
