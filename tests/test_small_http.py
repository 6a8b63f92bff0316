"""Small HTTP matters through the real server: how answers may be cached, PROPPATCH with a Depth."""

from __future__ import annotations

import uuid

import pytest
import requests
from lxml import etree
from webdav3.client import Client

from tests.conftest import CLIENT, PASSWORD, TEAM

NO_SHARED_CACHE = "private, no-cache"


@pytest.fixture
def document(firm):
    path = f"/acme/{TEAM}/cache-{uuid.uuid4().hex[:6]}.pdf"
    assert firm.as_user("sam").put(path, b"%PDF-1.4\n").status_code == 201
    return path


@pytest.mark.parametrize("login", ["sam", "alice"])
@pytest.mark.parametrize("method", ["GET", "HEAD"])
def test_a_document_may_be_kept_by_no_shared_cache(firm, document, login, method):
    response = firm.as_user(login).request(method, document)
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == NO_SHARED_CACHE
    assert response.headers["ETag"]  # what the reader's own client revalidates with


def test_revalidating_an_unchanged_document_answers_not_modified_and_keeps_the_connection(firm, document):
    sam = firm.as_user("sam")
    etag = sam.request("GET", document).headers["ETag"]
    again = sam.request("GET", document, headers={"If-None-Match": etag})
    assert again.status_code == 304 and again.content == b""
    assert again.headers["Content-Length"] == "0" and again.headers["ETag"] == etag
    assert again.headers["Cache-Control"] == NO_SHARED_CACHE
    # The same kept-alive connection answers the next request, not a stray body.
    assert sam.request("GET", document).content == b"%PDF-1.4\n"


def test_a_contact_upload_may_be_kept_by_no_shared_cache(firm):
    path = f"/acme/{CLIENT}/scan-{uuid.uuid4().hex[:6]}.pdf"
    assert firm.as_user("alice").put(path, b"%PDF-1.4\n").status_code == 201
    assert firm.as_user("sam").request("GET", path).headers["Cache-Control"] == NO_SHARED_CACHE


def test_listings_and_pages_may_be_kept_by_no_shared_cache(firm, document):
    alice = firm.as_user("alice")
    assert alice.propfind(f"/acme/{TEAM}/").headers["Cache-Control"] == NO_SHARED_CACHE
    page = requests.get(firm.url + "/acme/", auth=("alice", PASSWORD), headers={"Accept": "text/html"}, timeout=30)
    assert page.status_code == 200 and "text/html" in page.headers["Content-Type"]
    assert page.headers["Cache-Control"] == "no-store"  # a page says so itself, more strictly


PROPERTY = (
    "<?xml version='1.0'?><D:propertyupdate xmlns:D='DAV:' xmlns:Z='urn:example'>"
    "<D:set><D:prop><Z:colour>red</Z:colour></D:prop></D:set></D:propertyupdate>"
)


def _colour(firm, path: str) -> str | None:
    body = "<D:propfind xmlns:D='DAV:' xmlns:Z='urn:example'><D:prop><Z:colour/></D:prop></D:propfind>"
    response = firm.as_user("sam").request("PROPFIND", path, headers={"Depth": "0"}, data=body)
    assert response.status_code == 207
    return etree.fromstring(response.content).findtext(".//{urn:example}colour")


@pytest.mark.parametrize("depth", ["1", "infinity"])
def test_proppatch_with_a_depth_sets_the_property_of_the_one_resource(firm, document, depth):
    response = firm.as_user("sam").request("PROPPATCH", document, headers={"Depth": depth}, data=PROPERTY)
    assert response.status_code == 207
    assert "200 OK" in response.text
    assert _colour(firm, document) == "red"


def test_webdavclient3_sets_a_property(firm, document):
    sam = Client({"webdav_hostname": firm.url, "webdav_login": "sam", "webdav_password": PASSWORD,
                  "disable_check": True})  # fmt: skip
    sam.set_property(document, {"namespace": "urn:example", "name": "colour", "value": "blue"})
    assert sam.get_property(document, {"namespace": "urn:example", "name": "colour"}) == "blue"
