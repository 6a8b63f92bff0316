"""A health check for load balancers: the database, Redis (when used) and the storage answer.

Answers without authentication and says nothing but "ok" or which part is down. `davportal
serve` answers it on a thread of its own (davportal.connections), so a node whose workers are all
busy still says whether it is up.
"""

from __future__ import annotations

import os

import redis
from sqlalchemy import text

from davportal.web.render import WEB

PATH = f"{WEB}/health"  # GET or HEAD; davportal serve knows it by this path before a worker is taken


def check(portal) -> list[str]:
    """The parts that are down (empty when all is well)."""
    down = []
    try:
        with portal.engine.connect() as conn:
            conn.execute(text("SELECT 1"))
    except Exception:
        down.append("database")
    if not os.access(portal.storage.root, os.R_OK | os.W_OK | os.X_OK):
        down.append("storage")
    if portal.settings.redis_url:
        try:
            redis.Redis.from_url(portal.settings.redis_url, socket_timeout=2).ping()
        except Exception:
            down.append("redis")
    return down
