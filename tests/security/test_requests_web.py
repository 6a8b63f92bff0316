"""Document requests' pages: staff's pages do not exist for contacts, a request that is not a
contact's is not found, an action without the session's token changes nothing, and whatever
staff or a client typed is shown as text."""

from __future__ import annotations

from urllib.parse import quote

import pytest
from markupsafe import escape
from sqlalchemy import func, select

from davportal.core.models import AuditEvent, DocumentRequest, RequestItem
from tests.conftest import Browser, signed_in
from tests.test_web_requests import HTML, WEB, items_of, make, start_office, upload

REQUESTS = WEB + "/requests"
MARKUP = "<script>alert(1)</script>"

# Every staff route, with the form an action sends ({mine}: a request of acme's; {item}: one of its items).
STAFF_ROUTES = [
    ("GET", "", None),
    ("GET", "?client=acme&overdue=1&page=2", None),
    ("GET", "/new?client=acme", None),
    ("GET", "/new?client=acme&template=annual-tax-return", None),
    ("POST", "/new", {"client": "acme", "title": "Sneaky", "item-0-name": "X", "contact": "alice", "send": "yes"}),
    ("GET", "/{mine}/cancel", None),
    ("POST", "/{mine}/accept", {"item": "{item}"}),
    ("POST", "/{mine}/reject", {"item": "{item}", "reason": "no", "keep": "no"}),
    ("POST", "/{mine}/add-item", {"name": "More"}),
    ("POST", "/{mine}/remove-item", {"item": "{item}"}),
    ("POST", "/{mine}/due", {"due": "2030-01-01"}),
    ("POST", "/{mine}/cancel", {"confirm": "yes"}),
    ("POST", "/{mine}/send", {}),
    ("POST", "/{mine}", {}),
    ("GET", "/{mine}/nothing-here", None),
]


@pytest.fixture(scope="module")
def office(database_url, tmp_path_factory):
    running = start_office(database_url, tmp_path_factory.mktemp("office"))
    try:
        yield running
    finally:
        running.server.stop()
        running.portal.engine.dispose()


@pytest.fixture(scope="module")
def people(office) -> dict[str, Browser]:
    return {login: signed_in(office.url, login) for login in ("sam", "nina", "alice", "ben", "bob")}


@pytest.fixture(scope="module")
def ids(office, people) -> dict[str, int]:
    """acme's request for its client-type contacts (one item sent), and beta's."""
    mine = make(office, "acme", title="Mine", items=["P60", "Bank"], participants=["client"])
    theirs = make(office, "beta", title="Theirs", items=["Ledger"])
    upload(people["alice"], office, "acme", items_of(office, mine)["P60"].folder, "p60.pdf")
    return {"mine": mine, "item": items_of(office, mine)["P60"].id, "theirs": theirs,
            "their_item": items_of(office, theirs)["Ledger"].id}  # fmt: skip


def _state(office) -> tuple:
    """What an action could change: every request and item, and the request steps audited."""
    with office.portal.sessions() as session:
        requests = session.execute(select(DocumentRequest.id, DocumentRequest.status, DocumentRequest.due_on,
                                          DocumentRequest.items_total).order_by(DocumentRequest.id)).all()  # fmt: skip
        items = session.execute(select(RequestItem.id, RequestItem.name, RequestItem.status,
                                       RequestItem.rejected_reason).order_by(RequestItem.id)).all()  # fmt: skip
        steps = session.scalar(select(func.count()).select_from(AuditEvent)
                               .where(AuditEvent.action.startswith("REQUEST-")))  # fmt: skip
    return tuple(requests), tuple(items), steps


def _send(browser: Browser, office, ids, method: str, route: str, form: dict | None, *, csrf: str | None = None):
    url = office.url + REQUESTS + route.format(**ids)
    data = None if form is None else {"csrf": browser.csrf if csrf is None else csrf,
                                      **{k: str(v).format(**ids) for k, v in form.items()}}  # fmt: skip
    return browser.request(method, url, data=data, headers=HTML, allow_redirects=False)


@pytest.mark.parametrize("method, route, form", STAFF_ROUTES)
@pytest.mark.parametrize("who", ["alice", "ben", "bob"])
def test_contacts_find_no_staff_page(office, people, ids, who, method, route, form):
    before = _state(office)
    answer = _send(people[who], office, ids, method, route, form)
    assert answer.status_code == 404 and "Outstanding" not in answer.text
    assert _state(office) == before


@pytest.mark.parametrize("who", ["alice", "ben", "bob"])
def test_contacts_are_not_offered_staff_tools(office, people, who):
    page = people[who].get(office.url + "/", headers=HTML).text
    assert f'href="{REQUESTS}"' not in page and "New request" not in page
    client = {"alice": "acme", "ben": "acme", "bob": "beta"}[who]
    assert "New request" not in people[who].get(office.url + f"/{client}/", headers=HTML).text


@pytest.mark.parametrize("who, which, found", [
    ("alice", "mine", True),
    ("alice", "theirs", False),  # another client's
    ("bob", "mine", False),
    ("ben", "mine", False),  # acme's bookkeeper: the request is for its client-type contacts
    ("alice", "99999999", False),
    ("alice", "abc", False),
    ("alice", "-1", False),
    ("alice", "1e3", False),
])  # fmt: skip
def test_a_request_that_is_not_theirs_is_not_found(office, people, ids, who, which, found):
    number = ids.get(which, which)
    answer = people[who].get(office.url + f"{REQUESTS}/{number}", headers=HTML, allow_redirects=False)
    if found:
        assert answer.status_code == 303 and answer.headers["Location"] == f"/acme/#request-{number}"
    else:
        assert answer.status_code == 404
    page = people[who].get(office.url + "/", headers=HTML).text
    assert (f'id="request-{number}"' in page) is found


@pytest.mark.parametrize("action", ["accept", "reject", "remove-item"])
@pytest.mark.parametrize("item", ["their_item", "99999999", "x", ""])
def test_staff_cannot_reach_another_requests_item_through_this_one(office, people, ids, action, item):
    before = _state(office)
    form = {"item": "{" + item + "}" if item in ids else item, "reason": "because", "keep": "no"}
    answer = _send(people["nina"], office, ids, "POST", f"/{{mine}}/{action}", form)
    assert answer.status_code == 404
    assert _state(office) == before


@pytest.mark.parametrize("method, route, form", [r for r in STAFF_ROUTES if r[0] == "POST"])
@pytest.mark.parametrize("token", ["", "not-the-token", None])
def test_an_action_without_the_token_changes_nothing(office, people, ids, method, route, form, token):
    before = _state(office)
    browser = people["nina"]
    if token is None:  # no token at all in the form
        url = office.url + REQUESTS + route.format(**ids)
        answer = browser.post(url, data={k: str(v).format(**ids) for k, v in form.items()}, headers=HTML,
                              allow_redirects=False)  # fmt: skip
    else:
        answer = _send(browser, office, ids, method, route, form, csrf=token)
    expected = 404 if route == "/{mine}" else 403  # no such action, whatever the token
    assert answer.status_code == expected
    if expected == 403:
        assert "out of date" in answer.text
    assert _state(office) == before


def test_a_contacts_page_upload_needs_the_token(office, people, ids):
    alice = people["alice"]
    folder = items_of(office, ids["mine"])["Bank"].folder
    answer = alice.put(office.url + quote(f"/acme/{folder}/x.pdf"), data=b"%PDF", headers={"X-CSRF-Token": "nope"})
    assert answer.status_code == 403
    assert items_of(office, ids["mine"])["Bank"].files == 0


def test_before_sign_in_a_request_link_asks_for_a_sign_in_and_comes_back(office, ids):
    answer = Browser().get(office.url + f"{REQUESTS}/{ids['mine']}", headers=HTML, allow_redirects=False)
    assert answer.status_code == 303
    assert answer.headers["Location"] == f"{WEB}/login?next={quote(REQUESTS)}/{ids['mine']}"


def test_hostile_words_are_shown_as_text_everywhere(office, people):
    sam, alice = people["sam"], people["alice"]
    hostile = make(office, "acme", title=f"Title {MARKUP}", message=f"Message {MARKUP}",
                   items=[(f"Item {MARKUP}", f"Note {MARKUP}"), ("Other",)])  # fmt: skip
    items = items_of(office, hostile)
    upload(alice, office, "acme", items[f"Item {MARKUP}"].folder, "scan.pdf")
    answer = _send(sam, office, {"mine": hostile}, "POST", "/{mine}/reject",
                   {"item": str(items[f"Item {MARKUP}"].id), "reason": f"Reason {MARKUP}"})  # fmt: skip
    assert answer.status_code == 303
    pages = {
        "contact home": alice.get(office.url + "/", headers=HTML),
        "contact client page": alice.get(office.url + "/acme/", headers=HTML),
        "staff client page": sam.get(office.url + "/acme/", headers=HTML),
        "request page (with the flash)": sam.get(office.url + answer.headers["Location"], headers=HTML),
        "outstanding": sam.get(office.url + REQUESTS, params={"client": "acme"}, headers=HTML),
        "cancel": sam.get(office.url + f"{REQUESTS}/{hostile}/cancel", headers=HTML),
        "new form, refused": sam.post(office.url + f"{REQUESTS}/new", headers=HTML, data={
            "csrf": sam.csrf, "client": "acme", "title": f"Title {MARKUP}", "message": MARKUP, "contact": "alice",
            "item-0-note": f"Note {MARKUP}"}),
    }  # fmt: skip
    for where, page in pages.items():
        assert page.status_code in (200, 400), where
        assert MARKUP not in page.text and str(escape(MARKUP)) in page.text, where
        assert "<script>" not in page.text.replace(f'<script src="{WEB}/static/portal.js"></script>', ""), where
    assert "Reason " + str(escape(MARKUP)) in pages["contact home"].text
    history = pages["request page (with the flash)"].text
    assert history.count(str(escape(MARKUP))) >= 4  # title, item, reason, history, the flash
