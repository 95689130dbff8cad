"""The ASGI entry point for uvicorn/gunicorn: `market.asgi:app`."""

from market.app import create_app

app = create_app()
