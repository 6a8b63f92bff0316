"""The workloads: what every server is timed on, in the order the tables show them."""

from __future__ import annotations

import itertools
import os
from collections.abc import Callable
from dataclasses import dataclass

import requests
from lxml import etree

from bench import dataset, finder
from bench.errors import BenchError
from bench.load import ALLPROP, XML, Result, StreamedBody, concurrently, get_whole, send
from bench.plan import Plan, plan_for
from bench.servers import Server

DATA_PATH = f"/{dataset.CLIENT}/{dataset.DATA_FOLDER}/"
SHARED_PATH = f"/{dataset.CLIENT}/{dataset.SHARED_FOLDER}/"
BIG_PATH = DATA_PATH + dataset.BIG_FILE
HUGE_PATH = DATA_PATH + dataset.HUGE_FILE
ONE_FILE_PATH = DATA_PATH + dataset.small_name(0)
# Fresh folders in the client's private area, where staff may create folders and files: one per
# upload workload, so every PUT creates a file (201) on every server.
SEQUENTIAL_UPLOADS = f"/{dataset.CLIENT}/Upload-1/"
WRITERS_UPLOADS = f"/{dataset.CLIENT}/Upload-2/"
HUGE_UPLOADS = f"/{dataset.CLIENT}/Upload-3/"
# Untimed listings every server must give alike, or the race is not fair: path, Depth 1 entries, as the contact.
SAME_TREE = [
    (DATA_PATH, dataset.LISTING_ENTRIES, False),
    (SHARED_PATH, dataset.SHARED_LISTING_ENTRIES, True),
]
# What Windows Explorer's Mini-Redirector asks for when it lists a folder: the DAV properties a
# window shows, and Microsoft's Win32 ones (times and attributes), which most servers answer 404.
EXPLORER_PROPS = (
    b'<?xml version="1.0" encoding="utf-8"?><D:propfind xmlns:D="DAV:" xmlns:Z="urn:schemas-microsoft-com:">'
    b"<D:prop><D:resourcetype/><D:getcontentlength/><D:getlastmodified/><D:creationdate/><D:displayname/>"
    b"<Z:Win32CreationTime/><Z:Win32LastAccessTime/><Z:Win32LastModifiedTime/><Z:Win32FileAttributes/>"
    b"</D:prop></D:propfind>"
)
LOCKINFO = (
    b'<?xml version="1.0" encoding="utf-8"?><D:lockinfo xmlns:D="DAV:">'
    b"<D:lockscope><D:exclusive/></D:lockscope><D:locktype><D:write/></D:locktype>"
    b"<D:owner><D:href>bench</D:href></D:owner></D:lockinfo>"
)

Run = Callable[[Server, Plan, str], Result]


@dataclass(frozen=True)
class Workload:
    name: str  # for --only and in the JSON
    title: str  # the table's row
    run: Run


def workloads(plan: Plan) -> list[Workload]:
    huge, writers = plan.huge_label, plan.writers
    return [
        Workload("propfind-depth0", "PROPFIND Depth 0, one file, allprop", propfind_one_file),
        Workload("propfind-depth0-nobody", "PROPFIND Depth 0, one file, no body", propfind_one_file_no_body),
        Workload("head", "HEAD, one file", head_one_file),
        Workload("options", "OPTIONS, one file", options_one_file),
        Workload("lock-unlock", "LOCK + UNLOCK, one file, 1 connection (pairs/s)", lock_unlock),
        Workload("get-1mib", f"GET 1 MiB, {writers} connections", get_big_file),
        Workload("get-100mib", f"GET {huge}", get_huge_file),
        Workload("put-10kib", "PUT 10 KiB, 1 writer", put_small_files),
        Workload("put-10kib-writers", f"PUT 10 KiB, {writers} writers", put_small_files_concurrently),
        Workload("put-100mib", f"PUT {huge}", put_huge_files),
        Workload("propfind-depth1", "PROPFIND Depth 1, 1,000 entries, allprop", listing(ALLPROP, False)),
        Workload("propfind-depth1-props", "PROPFIND Depth 1, 1,000 entries, Explorer's props",
                 listing(EXPLORER_PROPS, False)),
        Workload("propfind-depth1-contact", "PROPFIND Depth 1, 1,000 entries, allprop, contact",
                 listing(ALLPROP, True)),
        Workload("propfind-depth1-props-contact", "PROPFIND Depth 1, 1,000 entries, Explorer's props, contact",
                 listing(EXPLORER_PROPS, True)),
        Workload("finder", finder.OPENS_FOLDER, finder.opens_folder),
    ]  # fmt: skip


def check_same_tree(server: Server) -> None:
    """Refuse to race a server whose tree differs: the untimed listings of SAME_TREE."""
    for path, expected, as_contact in SAME_TREE:
        with server.session(as_contact) as session:
            response = send(server, "checking the tree", session, "PROPFIND", path, {207},
                            headers={"Depth": "1", "Content-Type": XML}, data=ALLPROP)  # fmt: skip
        entries = len(etree.fromstring(response.content).findall("{DAV:}response"))
        if entries != expected:
            raise BenchError(f"{server.label}: PROPFIND {path} listed {entries} entries, expected {expected}")


def warm_up(server: Server, plan: Plan) -> None:
    """Untimed Depth 0 PROPFINDs as staff and as the contact over several connections, so that every
    worker process has verified both passwords (argon2, once per process) before anything is timed."""
    for as_contact, path in ((False, ONE_FILE_PATH), (True, SHARED_PATH)):

        def one(session: requests.Session, path: str = path) -> None:
            send(server, "warming up", session, "PROPFIND", path, {207}, headers={"Depth": "0"})

        concurrently(server, "warming up", 8 * plan.writers, plan.writers, one, as_contact=as_contact)


def listing(body: bytes, as_contact: bool) -> Run:
    """Depth 1 of a folder of 1,000 files: the client's private Data as staff, or Team's shared as the
    contact (on the other servers the same folder, anonymously)."""
    path = SHARED_PATH if as_contact else DATA_PATH

    def run(server: Server, plan: Plan, name: str) -> Result:
        def one(session: requests.Session) -> None:
            send(server, name, session, "PROPFIND", path, {207},
                 headers={"Depth": "1", "Content-Type": XML}, data=body)  # fmt: skip

        return concurrently(server, name, plan.count(20), plan.concurrency, one, as_contact=as_contact)

    return run


def propfind_one_file(server: Server, plan: Plan, name: str) -> Result:
    def one(session: requests.Session) -> None:
        send(server, name, session, "PROPFIND", ONE_FILE_PATH, {207},
             headers={"Depth": "0", "Content-Type": XML}, data=ALLPROP)  # fmt: skip

    return concurrently(server, name, plan.count(1000), plan.concurrency, one)


def propfind_one_file_no_body(server: Server, plan: Plan, name: str) -> Result:
    """No body means allprop (RFC 4918, 9.1): what Windows sends with Content-Length: 0."""

    def one(session: requests.Session) -> None:
        send(server, name, session, "PROPFIND", ONE_FILE_PATH, {207}, headers={"Depth": "0"})

    return concurrently(server, name, plan.count(1000), plan.concurrency, one)


def head_one_file(server: Server, plan: Plan, name: str) -> Result:
    def one(session: requests.Session) -> None:
        send(server, name, session, "HEAD", ONE_FILE_PATH, {200})

    return concurrently(server, name, plan.count(1000), plan.concurrency, one)


def options_one_file(server: Server, plan: Plan, name: str) -> Result:
    def one(session: requests.Session) -> None:
        send(server, name, session, "OPTIONS", ONE_FILE_PATH, {200})

    return concurrently(server, name, plan.count(1000), plan.concurrency, one)


def lock_unlock(server: Server, plan: Plan, name: str) -> Result:
    """An exclusive write lock taken and released, as Office and Finder do around a save, on one connection.

    One connection, not several: Apache's mod_dav_fs loses locks taken at once by several connections
    (its UNLOCK then answers 400, "this resource has no outstanding locks").
    """
    files = itertools.cycle(range(dataset.SMALL_FILES))

    def one(session: requests.Session) -> None:
        path = DATA_PATH + dataset.small_name(next(files))
        locked = send(server, name, session, "LOCK", path, {200},
                      headers={"Depth": "0", "Timeout": "Second-600", "Content-Type": XML}, data=LOCKINFO)  # fmt: skip
        token = locked.headers.get("Lock-Token")
        if not token:
            raise BenchError(f"{server.label}: {name}: LOCK {path} answered without a Lock-Token")
        send(server, name, session, "UNLOCK", path, {204}, headers={"Lock-Token": token})

    return concurrently(server, name, plan.count(400), 1, one, unit="pair")


def get_big_file(server: Server, plan: Plan, name: str) -> Result:
    def one(session: requests.Session) -> None:
        get_whole(server, name, session, BIG_PATH, dataset.BIG_SIZE)

    return concurrently(server, name, plan.count(600), plan.writers, one, bytes_each=dataset.BIG_SIZE)


def get_huge_file(server: Server, plan: Plan, name: str) -> Result:
    def one(session: requests.Session) -> None:
        get_whole(server, name, session, HUGE_PATH, plan.huge_size)

    return concurrently(server, name, plan.count(8), plan.concurrency, one, bytes_each=plan.huge_size)


def put_small_files(server: Server, plan: Plan, name: str) -> Result:
    """Sequential on one connection, whatever --concurrency says: the upload of a folder of files."""
    return _put_small_files(server, plan, name, SEQUENTIAL_UPLOADS, writers=1, count=plan.count(300))


def put_small_files_concurrently(server: Server, plan: Plan, name: str) -> Result:
    """The same upload by several writers at once into one folder: a team filling a shared folder."""
    return _put_small_files(server, plan, name, WRITERS_UPLOADS, writers=plan.writers, count=plan.count(600))


def put_huge_files(server: Server, plan: Plan, name: str) -> Result:
    """Sequential uploads of the huge size, each streamed from a generator."""
    with server.session() as session:
        send(server, name, session, "MKCOL", HUGE_UPLOADS, {201})
    indexes = itertools.count()

    def one(session: requests.Session) -> None:
        path = HUGE_UPLOADS + f"huge-{next(indexes)}.pdf"
        send(server, name, session, "PUT", path, {201}, data=StreamedBody(plan.huge_size))

    return concurrently(server, name, plan.count(3), 1, one, bytes_each=plan.huge_size)


def _put_small_files(server: Server, plan: Plan, name: str, folder: str, writers: int, count: int) -> Result:
    payload = os.urandom(dataset.SMALL_SIZE)
    with server.session() as session:
        send(server, name, session, "MKCOL", folder, {201})
    # next() on a count is atomic under the GIL: every writer gets names no other writer uses.
    indexes = itertools.count()

    def one(session: requests.Session) -> None:
        send(server, name, session, "PUT", folder + dataset.small_name(next(indexes)), {201}, data=payload)

    return concurrently(server, name, count, writers, one)


# The names, for --help and --only: the same whatever the plan (only the titles say its sizes).
NAMES = [workload.name for workload in workloads(plan_for(quick=False, scale=None, concurrency=1))]
