"""The workloads: timed requests against one server, every answer checked."""

from __future__ import annotations

import math
import os
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import requests
from lxml import etree

from bench import dataset
from bench.errors import BenchError
from bench.servers import Server

PROPFIND = "PROPFIND Depth 1, 1,000 entries"
GET = "GET 1 MiB"
PUT = "PUT 10 KiB x 1,000"

DATA_PATH = f"/{dataset.CLIENT}/{dataset.DATA_FOLDER}/"
BIG_PATH = DATA_PATH + dataset.BIG_FILE
# A fresh folder in the client's private area, where staff may create folders and files.
UPLOAD_PATH = f"/{dataset.CLIENT}/Upload-1/"
ALLPROP = b'<?xml version="1.0" encoding="utf-8"?><propfind xmlns="DAV:"><allprop/></propfind>'
TIMEOUT_SECONDS = 60
READ_CHUNK = 1024 * 1024


@dataclass(frozen=True)
class Result:
    workload: str
    server: str
    latencies: list[float]  # seconds, one per request
    wall_seconds: float

    @property
    def requests(self) -> int:
        return len(self.latencies)

    @property
    def rps(self) -> float:
        return self.requests / self.wall_seconds

    def percentile_ms(self, percent: float) -> float:
        # Nearest rank: defined for a single sample too, as in a tiny --scale run.
        ordered = sorted(self.latencies)
        rank = max(1, math.ceil(percent / 100 * len(ordered)))
        return ordered[rank - 1] * 1000


def scaled(base: int, scale: float) -> int:
    return max(1, round(base * scale))


def propfind_listing(server: Server, scale: float, concurrency: int) -> Result:
    headers = {"Depth": "1", "Content-Type": "application/xml"}
    with server.session() as session:
        # Checked once, untimed: both servers must list the same entries for the race to be fair.
        response = _send(server, PROPFIND, session, "PROPFIND", DATA_PATH, {207}, headers=headers, data=ALLPROP)
        entries = len(etree.fromstring(response.content).findall("{DAV:}response"))
        if entries != dataset.LISTING_ENTRIES:
            raise BenchError(f"{server.name}: {PROPFIND}: listed {entries} entries, expected {dataset.LISTING_ENTRIES}")

    def one(session: requests.Session) -> None:
        _send(server, PROPFIND, session, "PROPFIND", DATA_PATH, {207}, headers=headers, data=ALLPROP)

    return _concurrently(server, PROPFIND, scaled(40, scale), concurrency, one)


def get_big_file(server: Server, scale: float, concurrency: int) -> Result:
    def one(session: requests.Session) -> None:
        response = _send(server, GET, session, "GET", BIG_PATH, {200}, stream=True)
        try:
            received = sum(len(chunk) for chunk in response.iter_content(READ_CHUNK))
        except requests.RequestException as exc:
            raise BenchError(f"{server.name}: {GET}: reading GET {BIG_PATH} failed: {exc}") from None
        if received != dataset.BIG_SIZE:
            raise BenchError(f"{server.name}: {GET}: got {received} bytes of {BIG_PATH}, expected {dataset.BIG_SIZE}")

    return _concurrently(server, GET, scaled(200, scale), concurrency, one)


def put_small_files(server: Server, scale: float, concurrency: int) -> Result:
    """Sequential on one connection, whatever --concurrency says: the upload of a folder of files."""
    payload = os.urandom(dataset.SMALL_SIZE)
    count = scaled(dataset.SMALL_FILES, scale)
    latencies = []
    with server.session() as session:
        _send(server, PUT, session, "MKCOL", UPLOAD_PATH, {201})
        start = time.perf_counter()
        for index in range(count):
            path = UPLOAD_PATH + dataset.small_name(index)
            began = time.perf_counter()
            _send(server, PUT, session, "PUT", path, {201}, data=payload)
            latencies.append(time.perf_counter() - began)
        wall = time.perf_counter() - start
    return Result(PUT, server.name, latencies, wall)


WORKLOADS: dict[str, Callable[[Server, float, int], Result]] = {
    PROPFIND: propfind_listing,
    GET: get_big_file,
    PUT: put_small_files,
}


def _concurrently(server: Server, workload: str, count: int, concurrency: int,
                  one: Callable[[requests.Session], None]) -> Result:  # fmt: skip
    """`count` requests spread over `concurrency` workers, each with its own keep-alive session."""
    shares = [share for i in range(concurrency) if (share := count // concurrency + (i < count % concurrency))]

    def worker(share: int) -> list[float]:
        latencies = []
        with server.session() as session:
            for _ in range(share):
                began = time.perf_counter()
                one(session)
                latencies.append(time.perf_counter() - began)
        return latencies

    start = time.perf_counter()
    with ThreadPoolExecutor(len(shares)) as pool:
        latencies = [latency for part in pool.map(worker, shares) for latency in part]
    return Result(workload, server.name, latencies, time.perf_counter() - start)


def _send(server: Server, workload: str, session: requests.Session, method: str, path: str,
          expected: set[int], **kwargs) -> requests.Response:  # fmt: skip
    try:
        response = session.request(method, server.url(path), timeout=TIMEOUT_SECONDS, **kwargs)
    except requests.RequestException as exc:
        raise BenchError(f"{server.name}: {workload}: {method} {path} failed: {exc}") from None
    if response.status_code not in expected:
        raise BenchError(
            f"{server.name}: {workload}: {method} {path} answered {response.status_code}, "
            f"expected {' or '.join(map(str, sorted(expected)))}:\n{response.text[:500]}"
        )
    return response
