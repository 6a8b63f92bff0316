"""The workloads: what every server is timed on, in the order the table shows them."""

from __future__ import annotations

import itertools
import os
from collections.abc import Callable

import requests
from lxml import etree

from bench import dataset, finder
from bench.errors import BenchError
from bench.load import ALLPROP, XML, Result, StreamedBody, concurrently, get_whole, send
from bench.plan import Plan
from bench.servers import Server

PROPFIND_LISTING = "PROPFIND Depth 1, 1,000 entries"
PROPFIND_ONE = "PROPFIND Depth 0, one file"
GET_BIG = "GET 1 MiB"
PUT_SEQUENTIAL = "PUT 10 KiB x 1,000"

DATA_PATH = f"/{dataset.CLIENT}/{dataset.DATA_FOLDER}/"
BIG_PATH = DATA_PATH + dataset.BIG_FILE
HUGE_PATH = DATA_PATH + dataset.HUGE_FILE
ONE_FILE_PATH = DATA_PATH + dataset.small_name(0)
TREE_PATH = f"/{dataset.CLIENT}/{dataset.TREE_FOLDER}/"
# Fresh folders in the client's private area, where staff may create folders and files: one per
# upload workload, so every PUT creates a file (201) on every server.
SEQUENTIAL_UPLOADS = f"/{dataset.CLIENT}/Upload-1/"
WRITERS_UPLOADS = f"/{dataset.CLIENT}/Upload-2/"
HUGE_UPLOADS = f"/{dataset.CLIENT}/Upload-3/"
# Untimed listings every server must give alike, or the race is not fair: path, Depth 1 entries.
SAME_TREE = [
    (DATA_PATH, dataset.LISTING_ENTRIES),
    (TREE_PATH, dataset.TREE_LISTING_ENTRIES),
    (f"{TREE_PATH}{dataset.tree_folder_name(dataset.TREE_FOLDERS - 1)}/", 1 + dataset.TREE_FILES_PER_FOLDER),
]

Workload = Callable[[Server, Plan, str], Result]


def workloads(plan: Plan) -> dict[str, Workload]:
    """Name to workload; the names of the huge-file and writer workloads say the plan's sizes."""
    return {
        PROPFIND_LISTING: propfind_listing,
        PROPFIND_ONE: propfind_one_file,
        GET_BIG: get_big_file,
        f"GET {plan.huge_label}": get_huge_file,
        PUT_SEQUENTIAL: put_small_files,
        f"PUT 10 KiB x 1,000, {plan.writers} writers": put_small_files_concurrently,
        f"PUT {plan.huge_label}": put_huge_files,
        finder.OPENS_FOLDER: finder.opens_folder,
    }


def check_same_tree(server: Server) -> None:
    """Refuse to race a server whose tree differs: the untimed listings of SAME_TREE."""
    with server.session() as session:
        for path, expected in SAME_TREE:
            response = send(server, "checking the tree", session, "PROPFIND", path, {207},
                            headers={"Depth": "1", "Content-Type": XML}, data=ALLPROP)  # fmt: skip
            entries = len(etree.fromstring(response.content).findall("{DAV:}response"))
            if entries != expected:
                raise BenchError(f"{server.name}: PROPFIND {path} listed {entries} entries, expected {expected}")


def propfind_listing(server: Server, plan: Plan, name: str) -> Result:
    def one(session: requests.Session) -> None:
        send(server, name, session, "PROPFIND", DATA_PATH, {207},
             headers={"Depth": "1", "Content-Type": XML}, data=ALLPROP)  # fmt: skip

    return concurrently(server, name, plan.count(40), plan.concurrency, one)


def propfind_one_file(server: Server, plan: Plan, name: str) -> Result:
    def one(session: requests.Session) -> None:
        send(server, name, session, "PROPFIND", ONE_FILE_PATH, {207},
             headers={"Depth": "0", "Content-Type": XML}, data=ALLPROP)  # fmt: skip

    return concurrently(server, name, plan.count(500), plan.concurrency, one)


def get_big_file(server: Server, plan: Plan, name: str) -> Result:
    def one(session: requests.Session) -> None:
        get_whole(server, name, session, BIG_PATH, dataset.BIG_SIZE)

    return concurrently(server, name, plan.count(200), plan.concurrency, one, bytes_each=dataset.BIG_SIZE)


def get_huge_file(server: Server, plan: Plan, name: str) -> Result:
    def one(session: requests.Session) -> None:
        get_whole(server, name, session, HUGE_PATH, plan.huge_size)

    return concurrently(server, name, plan.count(6), plan.concurrency, one, bytes_each=plan.huge_size)


def put_small_files(server: Server, plan: Plan, name: str) -> Result:
    """Sequential on one connection, whatever --concurrency says: the upload of a folder of files."""
    return _put_small_files(server, plan, name, SEQUENTIAL_UPLOADS, writers=1)


def put_small_files_concurrently(server: Server, plan: Plan, name: str) -> Result:
    """The same upload by several writers at once into one folder: a team filling a shared folder."""
    return _put_small_files(server, plan, name, WRITERS_UPLOADS, writers=plan.writers)


def put_huge_files(server: Server, plan: Plan, name: str) -> Result:
    """Sequential uploads of the huge size, each streamed from a generator."""
    with server.session() as session:
        send(server, name, session, "MKCOL", HUGE_UPLOADS, {201})
    indexes = itertools.count()

    def one(session: requests.Session) -> None:
        path = HUGE_UPLOADS + f"huge-{next(indexes)}.pdf"
        send(server, name, session, "PUT", path, {201}, data=StreamedBody(plan.huge_size))

    return concurrently(server, name, plan.count(3), 1, one, bytes_each=plan.huge_size)


def _put_small_files(server: Server, plan: Plan, name: str, folder: str, writers: int) -> Result:
    payload = os.urandom(dataset.SMALL_SIZE)
    with server.session() as session:
        send(server, name, session, "MKCOL", folder, {201})
    # next() on a count is atomic under the GIL: every writer gets names no other writer uses.
    indexes = itertools.count()

    def one(session: requests.Session) -> None:
        send(server, name, session, "PUT", folder + dataset.small_name(next(indexes)), {201}, data=payload)

    return concurrently(server, name, plan.count(dataset.SMALL_FILES), writers, one)
