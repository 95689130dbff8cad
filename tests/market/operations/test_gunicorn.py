"""The shipped gunicorn.conf.py and systemd units: gunicorn starts with the
config on a free port and serves a page, with JSON log lines and no Server header."""

import configparser
import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

from market.migrations import upgrade
from tests.conftest import TEST_SECRET

ROOT = Path(__file__).resolve().parents[3]
BIN = Path(sys.executable).parent


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_gunicorn_serves_a_page_with_the_shipped_config(tmp_path):
    url = f"sqlite+aiosqlite:///{tmp_path / 'gunicorn.db'}"
    upgrade(url)
    port = _free_port()
    env = {
        **os.environ,
        "MARKET_DATABASE_URL": url,
        "MARKET_ENVIRONMENT": "test",
        "MARKET_SECRET_KEY": TEST_SECRET,
        "MARKET_UPLOAD_DIR": str(tmp_path / "uploads"),
        "PROMETHEUS_MULTIPROC_DIR": str(tmp_path / "metrics"),
        "GUNICORN_CMD_ARGS": f"--bind 127.0.0.1:{port} --workers 2",
    }
    log = (tmp_path / "gunicorn.log").open("w+")
    server = subprocess.Popen(
        [str(BIN / "gunicorn"), "-c", str(ROOT / "gunicorn.conf.py"), "market.asgi:app"],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 60
        page = None
        while time.monotonic() < deadline and server.poll() is None:
            try:
                page = httpx.get(f"http://127.0.0.1:{port}/login", trust_env=False, timeout=2)
                break
            except httpx.TransportError:
                time.sleep(0.3)
        assert page is not None, (tmp_path / "gunicorn.log").read_text()
        assert page.status_code == 200 and "<form" in page.text
        assert "server" not in page.headers
        assert len(page.headers["x-request-id"]) == 32
        ready = httpx.get(f"http://127.0.0.1:{port}/readyz", trust_env=False, timeout=5)
        assert ready.status_code == 200, ready.text
        metrics = httpx.get(f"http://127.0.0.1:{port}/metrics", trust_env=False, timeout=5)
        assert "market_http_request_duration_seconds_bucket" in metrics.text
        # reuse_port: each worker listens on a socket of its own, none is shared.
        listening = subprocess.run(
            ["ss", "-tlnH", "(", "sport", "=", f":{port}", ")"], capture_output=True, text=True
        ).stdout.splitlines()
        assert len(listening) == 2, listening
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=30)
    log.seek(0)
    lines = [json.loads(line) for line in log.read().splitlines() if line.startswith("{")]
    access = [line for line in lines if line.get("logger") == "market.access"]
    assert any(line["route"] == "/login" and line["status"] == 200 for line in access)
    assert any(line["logger"].startswith(("gunicorn", "uvicorn")) for line in lines)


def test_the_systemd_units_run_the_shipped_commands():
    def unit(name: str) -> configparser.ConfigParser:
        parser = configparser.ConfigParser(strict=False, interpolation=None)
        parser.optionxform = str
        parser.read(ROOT / "deploy" / name)
        return parser

    web = unit("velfaerdsmarked.service")["Service"]
    assert web["ExecStart"].split()[1:] == [
        "-c",
        "/opt/velfaerdsmarked/gunicorn.conf.py",
        "market.asgi:app",
    ]
    assert web["ExecStart"].split()[0].endswith("/.venv/bin/gunicorn")
    tick = unit("velfaerdsmarked-tick.service")["Service"]
    assert tick["ExecStart"].endswith("/.venv/bin/market tick") and tick["Type"] == "oneshot"
    timer = unit("velfaerdsmarked-tick.timer")["Timer"]
    assert timer["OnUnitInactiveSec"] == "1min"
    for name in ("velfaerdsmarked.service", "velfaerdsmarked-tick.service"):
        assert unit(name)["Service"]["EnvironmentFile"] == "/etc/velfaerdsmarked/env"
