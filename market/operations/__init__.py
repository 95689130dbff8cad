"""Running the service: the periodic runner, health, metrics, logs, backups and keys.
Like app.py and cli.py it may see every package (it counts orders and alerts)."""
