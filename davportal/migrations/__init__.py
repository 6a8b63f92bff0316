"""Schema changes, as Alembic migrations: every node upgrades the same way, one step at a time."""
