"""A health check for load balancers: the database, Redis (when used) and the storage answer.

Answers without authentication and says nothing but "ok" or which part is down.
"""

from __future__ import annotations

import os

from sqlalchemy import text


def check(portal, config: dict) -> list[str]:
    """The parts that are down (empty when all is well)."""
    down = []
    try:
        with portal.engine.connect() as conn:
            conn.execute(text("SELECT 1"))
    except Exception:
        down.append("database")
    if not os.access(portal.storage.root, os.R_OK | os.W_OK | os.X_OK):
        down.append("storage")
    lock_storage = config.get("lock_storage")
    if isinstance(lock_storage, dict) and "redis" in str(lock_storage.get("class", "")).lower():
        import redis

        kwargs = lock_storage.get("kwargs", {})
        try:
            redis.Redis(host=kwargs.get("host", "127.0.0.1"), port=kwargs.get("port", 6379), db=kwargs.get("db", 0),
                        password=kwargs.get("password"), socket_timeout=2).ping()  # fmt: skip
        except Exception:
            down.append("redis")
    return down
