"""Alembic environment of the ops store (data/ops_store.py): run with the connection that
``ops_store.upgrade`` passes in ``config.attributes['connection']`` (no alembic.ini, no URL
here: the URL is the ``ops_url`` setting)."""
from alembic import context

connection = context.config.attributes.get("connection")
if connection is None:  # pragma: no cover - `alembic` CLI without data.ops_store
    raise SystemExit("run migrations through `python -m data.ops_store upgrade`")
context.configure(connection=connection, target_metadata=None, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
