"""Alembic's entry point. `Store.migrate()` runs it on the store's own connection."""

from __future__ import annotations

from alembic import context

from triage.errors import StoreError
from triage.store.tables import metadata

connection = context.config.attributes.get("connection")
if connection is None:
    raise StoreError("migrations run through Store.migrate(), which supplies the connection")

context.configure(
    connection=connection,
    target_metadata=metadata,
    # SQLite alters tables by copying them; batch mode does that for us.
    render_as_batch=connection.dialect.name == "sqlite",
)
with context.begin_transaction():
    context.run_migrations()
