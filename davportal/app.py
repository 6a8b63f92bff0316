"""The WSGI app: WsgiDAV with the portal wired in through its own config keys."""

from __future__ import annotations

import copy
import sys
from typing import Any
from urllib.parse import urlsplit

from wsgidav import util
from wsgidav.wsgidav_app import WsgiDAVApp

from wsgidav_ext.runtime import Portal


def make_app(config: dict[str, Any]) -> WsgiDAVApp:
    config = copy.deepcopy(config)
    redis_url = (config.get("davportal") or {}).get("redis_url")
    if redis_url:
        # Locks every node sees: WsgiDAV's own Redis lock storage.
        url = urlsplit(redis_url)
        config["lock_storage"] = {"class": "wsgidav.lock_man.lock_storage_redis.LockStorageRedis", "kwargs": {
            "host": url.hostname or "127.0.0.1", "port": url.port or 6379, "password": url.password,
            "db": int(url.path.strip("/") or 0)}}  # fmt: skip
    if config.get("suppress_version_info", True):
        # WsgiDAV applies this only in its own CLI; embedded, we do it ourselves.
        util.public_wsgidav_info = "WsgiDAV"
        util.public_python_info = f"Python/{sys.version_info[0]}"
    return WsgiDAVApp(config)


def portal_of(app: WsgiDAVApp) -> Portal:
    return Portal.of(app.config)
