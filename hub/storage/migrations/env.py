"""Alembic environment: always handed a live connection by hub.storage.migrate."""

from __future__ import annotations

from alembic import context

from hub.storage.schema import metadata

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("run migrations through hub.storage.migrate (community-hub migrate)")

context.configure(
    connection=connection,
    target_metadata=metadata,
    render_as_batch=connection.dialect.name == "sqlite",  # SQLite alters tables by copying
)
with context.begin_transaction():
    context.run_migrations()
