"""Long work shown as it goes: it runs in a thread of its own while its page is sent step by step.

The work goes on at its pace, and to its end, however slowly the page is read (or if the admin
leaves it); the page lists each step as it is done, then how the work ended.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from davportal.core.errors import PortalError

_logger = logging.getLogger("davportal.console")
FAILED = "Something went wrong on the server (its log says what)."


@dataclass
class Job:
    total: int  # steps expected; 0 when not known beforehand
    steps: queue.Queue = field(default_factory=queue.Queue)
    done: Any = None  # what the work returned, once it has ended well
    failure: str = ""  # why it stopped, in words for the page

    def __iter__(self) -> Iterator[tuple[int, Any]]:
        """Each step as it is done, numbered from 1; ends when the work does."""
        count = 0
        while (step := self.steps.get()) is not None:
            count += 1
            yield count, step


def start(name: str, total: int, work: Callable[[Callable[[Any], None]], Any]) -> Job:
    """Run `work(on_step)` beside the page; `name` says in the log which work stopped, if one does."""
    job = Job(total)

    def run() -> None:
        try:
            job.done = work(job.steps.put)
        except PortalError as refused:
            job.failure = refused.reason
        except Exception:
            _logger.exception("%s stopped", name)
            job.failure = FAILED
        finally:
            job.steps.put(None)

    threading.Thread(target=run, name=f"davportal-{name}", daemon=True).start()
    return job
