"""Alembic environment: always runs on a connection handed in by ``analytics_ext.store.schema``.

The packaged migrations never read an alembic.ini or a URL of their own, so the server, the
``jupyter analytics db`` command and the tests all migrate exactly the store they were given.
"""

from alembic import context

from analytics_ext.store.models import Base

connection = context.config.attributes["connection"]
context.configure(
    connection=connection,
    target_metadata=Base.metadata,
    render_as_batch=connection.dialect.name == "sqlite",
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
