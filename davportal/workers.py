"""`davportal serve --workers N`: N processes serving one port, and the parent that keeps them.

The parent builds the portal and binds the port once, then forks the workers: each serves the
inherited socket with its own cheroot server (threads, the connection gate, the health lane), so
the kernel hands each new connection to whichever worker accepts it first, and a node uses as many
cores as it has workers. The parent serves nothing and starts no thread (a process forked from a
threaded one can inherit a lock some other thread held): it only waits for signals. A worker that
ends is replaced (after a growing pause when workers keep dying at start); SIGTERM or SIGINT stops
every worker, each finishing the requests it has, and then the parent. A worker whose parent is
gone stops on its own.

Which worker sends the emails and purges the trash is settled among them by the node's
housekeeping lock (`davportal.services.housekeeping`), as it is among gunicorn's workers.
"""

from __future__ import annotations

import logging
import os
import signal
import sys
import threading
import time
from collections.abc import Callable

_logger = logging.getLogger("davportal")

STOP_SIGNALS = {signal.SIGTERM, signal.SIGINT}
_WATCHED = STOP_SIGNALS | {signal.SIGCHLD}
STOP_SECONDS = 30.0  # how long stopping workers may finish their requests before they are killed
_STEADY_SECONDS = 10.0  # a worker that ran this long is replaced at once
_LONGEST_PAUSE = 30.0  # between replacements of workers that die at start
_ORPHAN_CHECK_SECONDS = 1.0


class Supervisor:
    def __init__(self, count: int, serve_worker: Callable[[], None]):
        """`serve_worker` runs in each forked worker and returns when the worker has stopped."""
        self.count = count
        self.serve_worker = serve_worker
        self.workers: dict[int, float] = {}  # pid: when it started
        self._due: list[float] = []  # when each missing worker is to be started
        self._quick_deaths = 0

    def run(self, on_ready: Callable[[], None] | None = None) -> None:
        """Start the workers and keep them until a stop signal; then stop them all."""
        # Signals wait for sigtimedwait below, never interrupting the parent mid-fork.
        signal.pthread_sigmask(signal.SIG_BLOCK, _WATCHED)
        try:
            for _ in range(self.count):
                self._start()
            if on_ready:
                on_ready()
            self._supervise()
            _logger.info("Stopping the %d worker(s).", len(self.workers))
        finally:
            self._stop_all()  # also when the parent fails: no worker is left behind
            signal.pthread_sigmask(signal.SIG_UNBLOCK, _WATCHED)

    def _supervise(self) -> None:
        while True:
            now = time.monotonic()
            while self._due and self._due[0] <= now:
                self._due.pop(0)
                try:
                    self._start()
                except OSError as exc:  # no process to be had just now (EAGAIN, ENOMEM): later
                    _logger.error("Could not start a worker (%s); trying again in %g s.", exc, _LONGEST_PAUSE)
                    self._due.append(now + _LONGEST_PAUSE)
                    self._due.sort()
            timeout = self._due[0] - now if self._due else 3600.0
            received = signal.sigtimedwait(_WATCHED, max(0.0, timeout))
            if received and received.si_signo in STOP_SIGNALS:
                return
            self._reap(replace=True)

    def _start(self) -> None:
        parent = os.getpid()
        sys.stdout.flush()
        sys.stderr.flush()
        pid = os.fork()
        if pid == 0:
            os._exit(self._worker(parent))
        self.workers[pid] = time.monotonic()
        _logger.info("Worker %d started.", pid)

    def _worker(self, parent: int) -> int:
        code = 0
        try:
            for signum in STOP_SIGNALS:
                signal.signal(signum, _interrupt)
            signal.signal(signal.SIGCHLD, signal.SIG_DFL)
            signal.pthread_sigmask(signal.SIG_UNBLOCK, _WATCHED)
            threading.Thread(target=_stop_when_orphaned, args=(parent,), name="davportal-orphan", daemon=True).start()
            self.serve_worker()
        except KeyboardInterrupt:
            pass  # a stop signal before the server ran
        except BaseException:
            _logger.exception("Worker %d failed.", os.getpid())
            code = 1
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
        return code

    def _reap(self, *, replace: bool) -> None:
        while self.workers:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            started = self.workers.pop(pid, None)
            if started is None or not replace:
                continue
            lived = time.monotonic() - started
            self._quick_deaths = self._quick_deaths + 1 if lived < _STEADY_SECONDS else 0
            pause = min(_LONGEST_PAUSE, 0.5 * 2 ** (self._quick_deaths - 1)) if self._quick_deaths else 0.0
            _logger.warning("Worker %d %s after %.0f s; another starts%s.", pid, _ending(status), lived,
                            f" in {pause:g} s" if pause else "")  # fmt: skip
            self._due.append(time.monotonic() + pause)
            self._due.sort()

    def _stop_all(self) -> None:
        self._due.clear()
        for pid in self.workers:
            _signal(pid, signal.SIGTERM)
        deadline = time.monotonic() + STOP_SECONDS
        while True:
            self._reap(replace=False)
            left = deadline - time.monotonic()
            if not self.workers or left <= 0:
                break
            signal.sigtimedwait({signal.SIGCHLD}, left)
        for pid in list(self.workers):
            _logger.warning("Worker %d did not stop within %g s: killed.", pid, STOP_SECONDS)
            _signal(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            del self.workers[pid]


def _interrupt(signum, frame) -> None:
    # The worker's server stops as on Ctrl-C: the requests in hand are finished. Once: a second
    # signal (Ctrl-C reaches the parent and every worker) must not cut that short.
    for stop in STOP_SIGNALS:
        signal.signal(stop, signal.SIG_IGN)
    raise KeyboardInterrupt


def _stop_when_orphaned(parent: int) -> None:
    """A worker whose parent was killed (nothing left to replace it or stop it) stops itself."""
    while os.getppid() == parent:
        time.sleep(_ORPHAN_CHECK_SECONDS)
    os.kill(os.getpid(), signal.SIGTERM)


def _signal(pid: int, signum: int) -> None:
    try:
        os.kill(pid, signum)
    except ProcessLookupError:
        pass


def _ending(status: int) -> str:
    if os.WIFSIGNALED(status):
        return f"was ended by {signal.Signals(os.WTERMSIG(status)).name}"
    return f"exited with status {os.waitstatus_to_exitcode(status)}"
