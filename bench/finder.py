"""The workload "Finder opens a folder": the listing, a PROPFIND of every entry, a few previews."""

from __future__ import annotations

from urllib.parse import unquote, urljoin, urlsplit

import requests
from lxml import etree

from bench import dataset
from bench.errors import BenchError
from bench.load import XML, Result, concurrently, send
from bench.plan import Plan
from bench.servers import Server

OPENS_FOLDER = "Finder opens a folder (ops/s)"
FOLDER_PATH = f"/{dataset.CLIENT}/{dataset.DATA_FOLDER}/"
PREVIEWED = [FOLDER_PATH + dataset.small_name(index) for index in range(3)]
# The properties Finder asks for, not allprop: what a folder window needs to show its entries.
FINDER_PROPS = (
    b'<?xml version="1.0" encoding="utf-8"?><D:propfind xmlns:D="DAV:"><D:prop>'
    b"<D:getlastmodified/><D:getcontentlength/><D:creationdate/><D:resourcetype/>"
    b"</D:prop></D:propfind>"
)


def opens_folder(server: Server, plan: Plan, name: str) -> Result:
    """One operation is the whole sequence, one request after another on one connection."""

    def one(session: requests.Session) -> None:
        listing = send(server, name, session, "PROPFIND", FOLDER_PATH, {207},
                       headers={"Depth": "1", "Content-Type": XML}, data=FINDER_PROPS)  # fmt: skip
        entries = _entries(listing)
        if len(entries) != dataset.LISTING_ENTRIES - 1:
            raise BenchError(f"{server.label}: {name}: listed {len(entries)} entries besides the folder, "
                             f"expected {dataset.LISTING_ENTRIES - 1}")  # fmt: skip
        for href in entries:
            send(server, name, session, "PROPFIND", urljoin(server.base_url, href), {207},
                 headers={"Depth": "0", "Content-Type": XML}, data=FINDER_PROPS)  # fmt: skip
        for path in PREVIEWED:
            send(server, name, session, "GET", path, {200})

    return concurrently(server, name, plan.count(4), plan.concurrency, one, unit="operation")


def _entries(listing: requests.Response) -> list[str]:
    """The hrefs a Depth 1 listing gave, as sent (path or full URL), less the folder's own."""
    hrefs = [element.text for element in etree.fromstring(listing.content).findall("{DAV:}response/{DAV:}href")]
    return [href for href in hrefs if unquote(urlsplit(href).path).rstrip("/") != FOLDER_PATH.rstrip("/")]
