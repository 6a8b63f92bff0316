"""Timed requests against one server, every answer checked: the parts every workload is made of."""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import requests

from bench import dataset
from bench.errors import BenchError
from bench.servers import Server

TIMEOUT_SECONDS = 60
READ_CHUNK = 1024 * 1024
ALLPROP = b'<?xml version="1.0" encoding="utf-8"?><propfind xmlns="DAV:"><allprop/></propfind>'
XML = "application/xml"


@dataclass(frozen=True)
class Result:
    workload: str
    server: str
    latencies: list[float]  # seconds, one per request (or per operation)
    wall_seconds: float
    bytes_moved: int = 0  # body bytes sent or received, where throughput in MB/s means something
    unit: str = "request"  # what one latency times: "request", "pair", or "operation" for a sequence
    database: str | None = None  # the portal's; None for the other servers
    server_cpu_seconds: float | None = None  # user + system CPU of the server's processes during the workload

    @property
    def requests(self) -> int:
        return len(self.latencies)

    @property
    def rps(self) -> float:
        return self.requests / self.wall_seconds

    @property
    def mb_per_s(self) -> float | None:
        return self.bytes_moved / self.wall_seconds / 1e6 if self.bytes_moved else None

    @property
    def cpu_ms_per_unit(self) -> float | None:
        return None if self.server_cpu_seconds is None else self.server_cpu_seconds * 1000 / self.requests

    def percentile_ms(self, percent: float) -> float:
        # Nearest rank: defined for a single sample too, as in a tiny --scale run.
        ordered = sorted(self.latencies)
        rank = max(1, math.ceil(percent / 100 * len(ordered)))
        return ordered[rank - 1] * 1000


def concurrently(server: Server, workload: str, count: int, workers: int, one: Callable[[requests.Session], None],
                 *, bytes_each: int = 0, unit: str = "request", as_contact: bool = False) -> Result:  # fmt: skip
    """`count` calls of `one` spread over `workers` threads, each with its own keep-alive session."""
    shares = [share for i in range(workers) if (share := count // workers + (i < count % workers))]

    def worker(share: int) -> list[float]:
        latencies = []
        with server.session(as_contact) as session:
            for _ in range(share):
                began = time.perf_counter()
                one(session)
                latencies.append(time.perf_counter() - began)
        return latencies

    start = time.perf_counter()
    with ThreadPoolExecutor(len(shares)) as pool:
        latencies = [latency for part in pool.map(worker, shares) for latency in part]
    wall = time.perf_counter() - start
    return Result(workload, server.name, latencies, wall, bytes_moved=bytes_each * count, unit=unit,
                  database=server.database)  # fmt: skip


def send(server: Server, workload: str, session: requests.Session, method: str, path: str,
         expected: set[int], **kwargs) -> requests.Response:  # fmt: skip
    """One request, by path or by the full URL a listing gave; any other status voids the run."""
    url = path if path.startswith("http") else server.url(path)
    try:
        response = session.request(method, url, timeout=TIMEOUT_SECONDS, **kwargs)
    except requests.RequestException as exc:
        raise BenchError(f"{server.label}: {workload}: {method} {path} failed: {exc}") from None
    if response.status_code not in expected:
        raise BenchError(
            f"{server.label}: {workload}: {method} {path} answered {response.status_code}, "
            f"expected {' or '.join(map(str, sorted(expected)))}:\n{response.text[:500]}"
        )
    return response


def get_whole(server: Server, workload: str, session: requests.Session, path: str, size: int) -> None:
    """GET a file in chunks, as a download to disk would, and check that all of it arrived."""
    response = send(server, workload, session, "GET", path, {200}, stream=True)
    try:
        received = sum(len(chunk) for chunk in response.iter_content(READ_CHUNK))
    except requests.RequestException as exc:
        raise BenchError(f"{server.label}: {workload}: reading GET {path} failed: {exc}") from None
    if received != size:
        raise BenchError(f"{server.label}: {workload}: got {received} bytes of {path}, expected {size}")


class StreamedBody:
    """A request body made block by block from a generator, so 100 MiB never sits in the client's memory.

    It has a length, so requests sends a Content-Length as most clients do for a file (Finder
    alone sends chunked), and the servers can refuse an oversized upload before reading it.
    """

    def __init__(self, size: int):
        self.size = size

    def __len__(self) -> int:
        return self.size

    def __iter__(self) -> Iterator[bytes]:
        return dataset.blocks(self.size)
