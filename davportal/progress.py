"""Progress of long commands: a bar with counts on a terminal, plain lines otherwise."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import click
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn


@dataclass
class Reporter:
    say: Callable[[str], None]  # a line of the report (printed above the bar on a terminal)
    step: Callable[[], None]  # one more item done


@contextmanager
def progress(total: int, label: str) -> Iterator[Reporter]:
    if not sys.stdout.isatty():
        yield Reporter(say=click.echo, step=lambda: None)
        return
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
    with Progress(*columns, transient=True) as bar:
        task = bar.add_task(label, total=total)
        yield Reporter(say=lambda line: bar.console.print(line, markup=False, highlight=False),
                       step=lambda: bar.advance(task))  # fmt: skip
