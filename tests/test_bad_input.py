"""Bad input gets a clear refusal and changes nothing."""

from __future__ import annotations

import pytest

from tests.conftest import ADMIN, CLIENT, TEAM, basic_auth, raw_http

PROPFIND_BODY = b"<?xml version='1.0'?><D:propfind xmlns:D='DAV:'><D:prop><D:getetag/></D:prop></D:propfind>"


@pytest.fixture(scope="module")
def files(firm):
    sam = firm.as_user("sam")
    sam.request("MKCOL", "/beta/Secret/")
    assert sam.put("/beta/Secret/plan.pdf", b"beta's plan").status_code in (201, 204)
    assert sam.put(f"/acme/{TEAM}/letter.pdf", b"letter").status_code in (201, 204)
    return firm


def _raw(firm, method: str, target: str, login="alice", headers="", body=b""):
    head = (
        f"{method} {target} HTTP/1.1\r\nHost: {firm.url.split('//')[1]}\r\n"
        f"Authorization: {basic_auth(login)}\r\n{headers}"
        f"Content-Length: {len(body)}\r\n\r\n"
    ).encode()
    return raw_http(firm.url, head + body)


@pytest.mark.parametrize("target", [
    f"/acme/{TEAM.replace(' ', '%20')}/../../beta/Secret/plan.pdf",
    f"/acme/{TEAM.replace(' ', '%20')}/%2e%2e/%2e%2e/beta/Secret/plan.pdf",
    f"/acme/{TEAM.replace(' ', '%20')}/%2E%2E%2F%2E%2E%2Fbeta/Secret/plan.pdf",
    "/acme/..%5c..%5cbeta/Secret/plan.pdf",
    "/../../../etc/passwd",
    "/acme/%2e%2e/%2e%2e/%2e%2e/etc/passwd",
])  # fmt: skip
def test_dot_dot_paths_are_refused(files, target):
    status, _, body = _raw(files, "GET", target)
    assert status == 400
    assert b"'..'" in body
    assert b"beta's plan" not in body and b"root:" not in body


def test_control_characters_in_paths_are_refused(files):
    status, _, _ = _raw(files, "GET", "/acme/a%00b.pdf")
    assert status == 400


@pytest.mark.parametrize("destination, expected", [
    ("http://elsewhere.example/acme/Client's%20shared/x.pdf", 502),
    ("https://{host}/acme/Client's%20shared/x.pdf", 502),
    ("http://127.0.0.1:1/acme/Client's%20shared/x.pdf", 502),
    ("/beta/Client's%20shared/x.pdf", 404),
    ("/acme/Client's%20shared/../../beta/Client's%20shared/x.pdf", 400),
    ("/acme/Client's%20shared/%2e%2e/%2e%2e/beta/x.pdf", 400),
])  # fmt: skip
def test_bad_destinations_are_refused(files, destination, expected):
    alice = files.as_user("alice")
    source = f"/acme/{CLIENT}/mine-{expected}-{abs(hash(destination))}.pdf"
    assert alice.put(source, b"mine").status_code == 201
    host = files.url.split("//")[1]
    response = alice.request("COPY", source, headers={"Destination": destination.format(host=host)})
    assert response.status_code == expected, response.text
    assert response.text.strip()


def test_x_forwarded_host_from_a_client_is_not_believed(files):
    alice = files.as_user("alice")
    assert alice.put(f"/acme/{CLIENT}/fwd.pdf", b"mine").status_code == 201
    response = alice.request("COPY", f"/acme/{CLIENT}/fwd.pdf", headers={
        "Destination": f"http://evil.example/acme/{CLIENT}/fwd2.pdf", "X-Forwarded-Host": "evil.example",
    })  # fmt: skip
    assert response.status_code == 502


def test_destination_names_keep_semicolons_and_encoded_characters(files):
    sam = files.as_user("sam")
    assert sam.put(f"/acme/{TEAM}/draft.pdf", b"draft").status_code in (201, 204)
    dest = f"/acme/{TEAM}/Minutes; final #2.pdf"
    response = sam.request("MOVE", f"/acme/{TEAM}/draft.pdf", headers={"Destination": sam.url(dest)})
    assert response.status_code == 201
    assert sam.request("GET", dest).content == b"draft"


def test_destination_with_an_encoded_question_mark_is_refused_not_truncated(files):
    sam = files.as_user("sam")
    assert sam.put(f"/acme/{TEAM}/q.pdf", b"q").status_code in (201, 204)
    response = sam.request("COPY", f"/acme/{TEAM}/q.pdf",
                           headers={"Destination": f"/acme/{TEAM.replace(' ', '%20')}/what%3Fnow.pdf"})  # fmt: skip
    assert response.status_code == 400
    assert sam.request("HEAD", f"/acme/{TEAM}/what").status_code == 404


@pytest.mark.parametrize("body, reason", [
    (b"<D:propfind xmlns:D='DAV:'><D:prop>", b"not well-formed"),
    (b"not xml at all", b"not well-formed"),
    (b"<?xml version='1.0'?><!DOCTYPE d [<!ENTITY x SYSTEM 'file:///etc/passwd'>]>"
     b"<D:propfind xmlns:D='DAV:'><D:prop><D:x>&x;</D:x></D:prop></D:propfind>", b"DOCTYPE"),
    (b"<?xml version='1.0'?><!DOCTYPE lolz [<!ENTITY lol 'lol'><!ENTITY lol2 '&lol;&lol;&lol;&lol;'>]>"
     b"<D:propfind xmlns:D='DAV:'><D:prop><D:x>&lol2;</D:x></D:prop></D:propfind>", b"DOCTYPE"),
])  # fmt: skip
def test_bad_xml_bodies_are_refused(files, body, reason):
    status, _, text = _raw(files, "PROPFIND", "/acme/", headers="Depth: 1\r\n", body=body)
    assert status == 400
    assert reason in text
    assert b"root:" not in text


def test_xml_bodies_over_the_limit_are_refused_before_reading(files):
    head = (
        f"PROPFIND /acme/ HTTP/1.1\r\nHost: t\r\nAuthorization: {basic_auth('alice')}\r\nDepth: 1\r\n"
        f"Content-Length: {2 * 1024 * 1024}\r\n\r\n"
    ).encode()
    status, _, _ = raw_http(files.url, head)  # no body sent: the answer must not wait for it
    assert status == 413


def test_chunked_xml_bodies_are_parsed_not_ignored(files):
    chunks = [PROPFIND_BODY[:40], PROPFIND_BODY[40:]]
    body = b"".join(b"%x\r\n%s\r\n" % (len(c), c) for c in chunks) + b"0\r\n\r\n"
    head = (
        f"PROPFIND /acme/{TEAM.replace(' ', '%20')}/letter.pdf HTTP/1.1\r\nHost: t\r\n"
        f"Authorization: {basic_auth('alice')}\r\nDepth: 0\r\nTransfer-Encoding: chunked\r\n\r\n"
    ).encode()
    status, _, text = raw_http(files.url, head + body)
    assert status == 207
    assert b"getetag" in text
    assert b"getcontentlength" not in text  # only the property asked for: the body was read


def test_unknown_and_disabled_logins(files):
    assert files.as_user("nobody").propfind("/").status_code == 401
    files.add_contact("dora", "acme")
    with files.portal.sessions.begin() as session:
        from provisioning import accounts

        accounts.disable(session, "dora", actor=ADMIN)
    assert files.as_user("dora").propfind("/").status_code == 401


def test_errors_never_show_internals(files):
    response = files.as_user("alice").request("GET", "/beta/Secret/plan.pdf")
    assert response.status_code == 404
    for leak in ("Traceback", "storage", "sqlite", "WsgiDAV/", "beta's plan"):
        assert leak not in response.text


def test_forwarded_headers_are_believed_from_a_trusted_proxy_only(fresh_portal):
    behind_proxy = fresh_portal(trusted_proxies=["127.0.0.1/32"])
    behind_proxy.add_staff("sam")
    behind_proxy.add_client("acme")
    sam = behind_proxy.as_user("sam")
    assert sam.put(f"/acme/{TEAM}/a.pdf", b"a").status_code == 201
    proxied = {"X-Forwarded-Proto": "https", "X-Forwarded-Host": "portal.example", "X-Forwarded-For": "203.0.113.9"}
    destination = f"https://portal.example/acme/{TEAM.replace(' ', '%20')}/b.pdf"
    response = sam.request("COPY", f"/acme/{TEAM}/a.pdf", headers={"Destination": destination, **proxied})
    assert response.status_code == 201
    assert sam.request("COPY", f"/acme/{TEAM}/a.pdf", headers={"Destination": destination}).status_code == 502
