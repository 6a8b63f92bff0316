"""Redis clients that never wait for ever, and the check that Redis keeps what it is given.

Every connect and every read has a timeout (`redis_timeout_seconds`). The client the locks use
also has a breaker: once Redis has failed to answer, it is not asked again for `PAUSE_SECONDS`, so
the requests that need it answer 503 at once instead of each waiting out the timeout in turn (a
PROPFIND asks for the locks of every entry), and after the pause one request tries again: Redis
back, the portal works again without a restart.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from davportal.core.outages import outage_of, redis_at

_logger = logging.getLogger("davportal")

PAUSE_SECONDS = 5.0


class RedisDown(redis.ConnectionError):
    """Redis failed a moment ago: not asked again until the pause is over."""


class GuardedRedis(redis.Redis):
    def __init__(self, *args: Any, pause_seconds: float = PAUSE_SECONDS, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self._pause = pause_seconds
        self._state = threading.Lock()
        self._down_until = 0.0  # monotonic; 0: up
        self._trying = False  # a request is finding out whether it is back
        self._last_cause = ""

    def execute_command(self, *args: Any, **options: Any) -> Any:
        with self._state:
            if self._down_until:
                if time.monotonic() < self._down_until or self._trying:
                    raise RedisDown(f"paused after a failure: {self._last_cause}")
                self._trying = True  # the pause is over: this request tries; the others are refused meanwhile
        try:
            result = super().execute_command(*args, **options)
        except (redis.ConnectionError, redis.TimeoutError) as exc:
            self._failed(exc)
            raise
        except Exception:
            self._answered()  # an error reply is an answer too
            raise
        self._answered()
        return result

    def _answered(self) -> None:
        with self._state:
            if self._down_until:
                _logger.warning("Redis answers again: documents can be changed again.")
            self._down_until, self._trying = 0.0, False

    def _failed(self, exc: Exception) -> None:
        outage = outage_of(exc)
        with self._state:
            if not self._down_until:
                _logger.warning("Redis does not answer (%s): changes answer 503 until it does.",
                                outage.cause if outage else exc)  # fmt: skip
            self._down_until = time.monotonic() + self._pause
            self._trying = False
            self._last_cause = outage.cause if outage else str(exc)


def connect(url: str, timeout_seconds: float, *, breaker: bool = True) -> redis.Redis:
    """A client for `url` whose connects and reads wait at most `timeout_seconds`.

    One immediate retry on a broken connection (Redis restarted: the pool's connection is stale,
    a fresh one works); none on a timeout, which would only double the wait.
    """
    pool = redis.ConnectionPool.from_url(
        url,
        socket_timeout=timeout_seconds,
        socket_connect_timeout=timeout_seconds,
        retry=Retry(NoBackoff(), 1, supported_errors=(redis.ConnectionError,)),
    )
    client = GuardedRedis(connection_pool=pool) if breaker else redis.Redis(connection_pool=pool)
    client.auto_close_connection_pool = True
    return client


def check(url: str, timeout_seconds: float) -> None:
    """At start: reach Redis (one line naming it if it cannot be reached), and warn, in one log
    line, when it does not keep its data across a restart: WebDAV locks would be lost with it.

    Asks `INFO persistence`, then `CONFIG GET appendonly`; a Redis that refuses both (managed
    services rename CONFIG) is given the benefit of the doubt, with a note in the log.
    """
    client = connect(url, timeout_seconds, breaker=False)
    try:
        aof = _appends_only(client)
    except (redis.ConnectionError, redis.TimeoutError) as exc:
        outage = outage_of(exc)
        assert outage is not None
        raise outage.unreachable(redis_at(url)) from exc
    finally:
        client.close()
    if aof is None:
        _logger.info("Redis at %s does not say whether it persists its data; WebDAV locks need "
                     "appendonly yes (see the README).", redis_at(url))  # fmt: skip
    elif not aof:
        _logger.warning("Redis at %s does not persist its data (appendonly no): WebDAV locks are lost "
                        "when it restarts; set appendonly yes (see the README).", redis_at(url))  # fmt: skip


def _appends_only(client: redis.Redis) -> bool | None:
    try:
        return str(client.info("persistence").get("aof_enabled", "")) == "1"
    except redis.ResponseError:
        pass
    try:
        return client.config_get("appendonly").get("appendonly") == "yes"
    except redis.ResponseError:
        return None
