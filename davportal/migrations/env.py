"""Alembic's environment: the portal's models, and the connection davportal.core.db hands over."""

from alembic import context

from davportal.core.models import Base

connection = context.config.attributes["connection"]
context.configure(connection=connection, target_metadata=Base.metadata, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
