"""WsgiDAV's Redis lock storage, on a client with timeouts and a breaker.

WsgiDAV builds its Redis client without any timeout: a frozen Redis would hold every request
that touches a lock, for ever. The storage is WsgiDAV's own; only the client is ours
(`davportal.core.redis_client`).
"""

from __future__ import annotations

from wsgidav.lock_man.lock_storage_redis import LockStorageRedis

from davportal.core.redis_client import connect


class TimedLockStorageRedis(LockStorageRedis):
    def __init__(self, *, url: str, timeout_seconds: float):
        super().__init__()
        self._url = url
        self._timeout = timeout_seconds

    def open(self):
        assert self._redis is None
        self._redis = connect(self._url, self._timeout)
