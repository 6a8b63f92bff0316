"""The admin console's Clients, Contacts and Staff pages, over HTTP against a running portal:
every change they make is the CLI's own, and a refusal comes back to the page as a sentence."""

from __future__ import annotations

import html
import re
import uuid
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import select

from davportal.core.models import Account, Client, LoginThrottle, Membership, OutboxMessage
from tests.conftest import TEAM, Browser, signed_in

CONSOLE = "/.davportal-web/admin"


@pytest.fixture(scope="module")
def admin(firm) -> Browser:
    return signed_in(firm.url, "sam")


def new_id(prefix: str = "c") -> str:
    return f"{prefix}{uuid.uuid4().hex[:8]}"


def post(browser: Browser, url: str, data: dict | None = None, **kwargs):
    """A console form as the page sends it (with the session's token), followed to the page after."""
    return browser.post(url, data={"csrf": browser.csrf, **(data or {})}, **kwargs)


def message(page) -> str:
    found = re.search(r'<p class="flash (ok|error)" role="status">(.*?)</p>', page.text, re.S)
    assert found, f"no message on the page ({page.status_code})"
    return found.group(1) + ": " + html.unescape(found.group(2))


def row(firm, model, *key):
    with firm.portal.sessions() as session:
        return session.get(model, key if len(key) > 1 else key[0])


def test_an_admin_adds_a_client_with_its_folders(firm, admin):
    client_id = new_id()
    page = post(admin, f"{firm.url}{CONSOLE}/clients", {"id": client_id, "name": "Dupont & Fils", "matter_type": ""})
    assert page.ok and message(page) == "ok: Client Dupont & Fils added, with its folders."
    assert row(firm, Client, client_id).name == "Dupont & Fils"
    assert TEAM in firm.as_user("sam").names(f"/{client_id}/")
    again = post(admin, f"{firm.url}{CONSOLE}/clients", {"id": client_id, "name": "Other", "matter_type": ""})
    assert message(again) == f"error: There is already a client '{client_id}'."
    assert row(firm, Client, client_id).name == "Dupont & Fils"


@pytest.mark.parametrize(
    "fields, reason",
    [
        ({"id": "Not Valid", "name": "X"}, "is not a valid client id"),
        ({"id": "ok-id-but-no-name", "name": "  "}, "must not be empty"),
    ],
)
def test_a_client_the_portal_refuses_is_a_sentence_and_nothing_is_added(firm, admin, fields, reason):
    page = post(admin, f"{firm.url}{CONSOLE}/clients", fields | {"matter_type": ""})
    assert page.status_code == 200 and message(page).startswith("error:") and reason in message(page)
    assert row(firm, Client, fields["id"]) is None


def test_the_client_page_shows_its_contacts_and_when_they_last_signed_in(firm, admin):
    with firm.portal.sessions.begin() as session:
        session.get(Account, "carol").last_sign_in_at = datetime(2026, 3, 4, 9, 30, tzinfo=timezone.utc)
    page = admin.get(f"{firm.url}{CONSOLE}/clients/acme")
    assert page.ok and "Acme Ltd" in page.text
    contacts = page.text.split("<h2>Contacts</h2>")[1].split("</table>")[0]
    assert "alice" in contacts and "carol" in contacts and "bob" not in contacts
    carol = contacts.split("carol</a>")[1].split("</tr>")[0]
    assert "<td>client</td>" in carol and "4 Mar 2026, 09:30 UTC" in carol


def invitations_to(firm, address: str) -> int:
    with firm.portal.sessions() as session:
        return len(session.scalars(select(OutboxMessage.id).where(OutboxMessage.recipient == address)).all())


def test_an_admin_adds_a_contact_to_a_client(firm, admin):
    login = new_id("p")
    fields = {"login": login, "name": "Ana Lima", "email": f"{login}@example.com", "participant_type": "accountant"}
    page = post(admin, f"{firm.url}{CONSOLE}/clients/beta/contacts", fields)
    assert message(page) == f"ok: Contact {login} added to beta as accountant."
    assert row(firm, Membership, login, "beta").participant_type == "accountant"
    assert (row(firm, Account, login).email, row(firm, Account, login).name) == (f"{login}@example.com", "Ana Lima")
    assert invitations_to(firm, f"{login}@example.com") == 0  # the box was not ticked


def test_a_contact_added_with_an_invitation_is_sent_one_and_can_be_sent_another(firm, admin):
    login = new_id("p")
    address = f"{login}@example.com"
    page = post(admin, f"{firm.url}{CONSOLE}/clients/beta/contacts",
                {"login": login, "email": address, "participant_type": "client", "invite": "1"})  # fmt: skip
    assert message(page) == f"ok: Contact {login} added to beta as client; an invitation is on its way to {address}."
    assert invitations_to(firm, address) == 1
    assert "Send the invitation again" in admin.get(f"{firm.url}{CONSOLE}/contacts/{login}").text
    again = post(admin, f"{firm.url}{CONSOLE}/contacts/{login}/invite")
    assert message(again) == f"ok: An invitation is on its way to {address}."
    assert invitations_to(firm, address) == 2


def test_a_contact_who_cannot_be_invited_is_not_added(firm, admin):
    """No email to send the invitation to: the contact is not added either (nothing half done)."""
    login = new_id("p")
    page = post(admin, f"{firm.url}{CONSOLE}/clients/beta/contacts",
                {"login": login, "participant_type": "client", "invite": "1"})  # fmt: skip
    assert message(page) == f"error: {login} has no email address to send the invitation to."
    assert row(firm, Account, login) is None


def test_a_contact_of_another_client_is_not_joined_from_a_client_page(firm, admin):
    """A mistyped login must not open beta's folders to acme's contact."""
    page = post(admin, f"{firm.url}{CONSOLE}/clients/beta/contacts", {"login": "alice", "participant_type": "client"})
    assert message(page).startswith("error: 'alice' already exists")
    assert row(firm, Membership, "alice", "beta") is None


def test_an_existing_contact_is_added_to_another_client_from_their_page(firm, admin):
    login = new_id("p")
    firm.add_contact(login, "acme")
    assert firm.as_user(login).propfind("/beta/").status_code == 404
    page = post(admin, f"{firm.url}{CONSOLE}/contacts/{login}/join", {"client": "beta", "participant_type": "client"})
    assert message(page) == f"ok: {login} now belongs to beta as client."
    assert firm.as_user(login).propfind("/beta/").status_code == 207
    assert "beta" in admin.get(f"{firm.url}{CONSOLE}/contacts/{login}").text


def test_an_admin_lets_a_held_back_login_try_again(firm, admin):
    login = new_id("p")
    firm.add_contact(login, "acme")
    with firm.portal.sessions.begin() as session:
        session.add(LoginThrottle(login=login, network="203.0.113.0/24", failures=9,
                                  not_before=datetime.now(timezone.utc) + timedelta(hours=1)))  # fmt: skip
    page = post(admin, f"{firm.url}{CONSOLE}/contacts/{login}/unblock")
    assert message(page) == f"ok: {login} may sign in again now."
    with firm.portal.sessions() as session:
        assert session.scalars(select(LoginThrottle).where(LoginThrottle.login == login)).all() == []


def test_an_admin_adds_staff(firm, admin):
    login = new_id("s")
    page = post(admin, f"{firm.url}{CONSOLE}/staff",
                {"login": login, "name": "Nina Duval", "email": f"{login}@firm.example", "invite": "1"})  # fmt: skip
    assert message(page) == f"ok: {login} added to the staff; an invitation is on its way to {login}@firm.example."
    assert invitations_to(firm, f"{login}@firm.example") == 1 and row(firm, Account, login).name == "Nina Duval"
    assert row(firm, Account, login).role == "staff" and not row(firm, Account, login).is_admin
    taken = post(admin, f"{firm.url}{CONSOLE}/staff", {"login": "alice"})
    assert message(taken).startswith("error: The login 'alice' is already taken")
    assert row(firm, Account, "alice").role == "contact"


def test_an_admin_assigns_staff_to_a_client(firm, admin):
    client_id = new_id()
    firm.add_client(client_id)
    page = post(admin, f"{firm.url}{CONSOLE}/clients/{client_id}/assign", {"staff": "sam"})
    assert message(page) == f"ok: sam is assigned to {client_id}."
    assert row(firm, Client, client_id).assigned_staff == "sam"
    nobody = post(admin, f"{firm.url}{CONSOLE}/clients/{client_id}/assign", {"staff": ""})
    assert message(nobody) == f"ok: Nobody is assigned to {client_id} now."
    assert row(firm, Client, client_id).assigned_staff is None


@pytest.mark.parametrize(
    "path, data, sentence",
    [
        ("clients/nobody-here", None, "There is no client 'nobody-here'."),
        ("contacts/nobody-here", None, "There is no contact 'nobody-here'."),
        ("contacts/sam", None, "There is no contact 'sam'."),  # staff, not a contact
        ("clients/nobody-here/assign", {"staff": "sam"}, "There is no client 'nobody-here'."),
        ("clients/acme/assign", {"staff": "alice"}, "There is no staff login 'alice'."),
        ("clients/acme/type", {"matter_type": "no-such-type"}, "There is no matter type 'no-such-type'."),
        ("contacts/bob/join", {"client": "nobody-here"}, "There is no client 'nobody-here'."),
        ("staff/alice/unblock", {}, "There is no member of staff 'alice'."),
        ("contacts/sam/unblock", {}, "There is no contact 'sam'."),
    ],
)
def test_a_name_that_is_not_there_is_not_found_with_a_sentence(firm, admin, path, data, sentence):
    url = f"{firm.url}{CONSOLE}/{path}"
    page = admin.get(url) if data is None else post(admin, url, data)
    assert page.status_code == 404 and sentence in html.unescape(page.text)


# --- import ---------------------------------------------------------------------------------------


def upload(browser: Browser, url: str, csv: bytes, name: str = "clients.csv", *, invite: bool = False):
    fields = {"csrf": browser.csrf, "step": "preview"} | ({"invite": "1"} if invite else {})
    return browser.post(url, data=fields, files={"file": (name, csv, "text/csv")})


def hidden(page, name: str) -> str:
    return html.unescape(re.search(rf'name="{name}" value="([^"]*)"', page.text).group(1))


def confirm(browser: Browser, url: str, preview):
    fields = {name: (None, hidden(preview, name)) for name in ("csrf", "step", "name", "file", "fingerprint", "invite")}
    return browser.post(url, files=fields)


def clients_named(firm, ids) -> set[str]:
    with firm.portal.sessions() as session:
        return set(session.scalars(select(Client.id).where(Client.id.in_(list(ids)))))


def test_an_import_shows_what_it_would_create_and_every_bad_row_before_writing(firm, admin):
    url = f"{firm.url}{CONSOLE}/clients/_import"
    good, other = new_id(), new_id()
    csv = (f"id,name,contact_login,contact_email\n{good},Good Co,{good}-p,{good}@example.com\n"
           f"NOT VALID,Bad Co,,\n{other},Other Co,,\n{good},Twice,,\n,No Id,,\n").encode()  # fmt: skip
    preview = upload(admin, url, csv)
    assert preview.ok
    bad = preview.text.split('class="entries bad"')[1].split("</table>")[0]
    assert "'NOT VALID' is not a valid client id" in html.unescape(bad)
    assert f"the client '{good}' is already on line 2" in html.unescape(bad)
    assert "<td>6</td>" in bad  # the row with no id
    shown = preview.text.split('class="entries good"')[1].split("</table>")[0]
    assert good in shown and other in shown and f"{good}@example.com" in shown
    assert clients_named(firm, [good, other]) == set()  # nothing written yet

    done = confirm(admin, url, preview)
    assert message(done) == "ok: 2 client(s) added, 1 contact(s) added, 3 bad row(s) left out."
    assert clients_named(firm, [good, other]) == {good, other}
    assert row(firm, Membership, f"{good}-p", good) is not None


def test_an_import_can_invite_every_new_contact(firm, admin):
    url = f"{firm.url}{CONSOLE}/clients/_import"
    one, two = new_id(), new_id()
    csv = (f"id,name,contact_login,contact_email,contact_name\n{one},One,{one}-p,{one}@example.com,Eva Roux\n"
           f"{two},Two,{two}-p,,\n")  # fmt: skip
    preview = upload(admin, url, csv.encode(), invite=True)
    assert f"&#39;{two}-p&#39; cannot be invited without a contact_email" in preview.text and "Eva Roux" in preview.text
    done = confirm(admin, url, preview)
    assert (
        message(done)
        == "ok: 1 client(s) added, 1 contact(s) added, 1 invitation(s) on their way, 1 bad row(s) left out."
    )
    assert invitations_to(firm, f"{one}@example.com") == 1 and row(firm, Account, f"{one}-p").name == "Eva Roux"


def test_an_import_imports_only_what_was_shown(firm, admin):
    """Someone took a login the file adds between the preview and the confirmation: the rows are
    shown again, with that one now bad, and nothing is imported."""
    url = f"{firm.url}{CONSOLE}/clients/_import"
    client_id, login = new_id(), new_id("p")
    preview = upload(admin, url, f"id,name,contact_login\n{client_id},New Co,{login}\n".encode())
    firm.add_contact(login, "beta")
    again = confirm(admin, url, preview)
    assert again.ok and "Something changed since the file was checked" in again.text
    assert f"&#39;{login}&#39; already exists" in again.text
    assert clients_named(firm, [client_id]) == set()


def test_an_import_of_2000_rows_is_more_than_a_form_and_goes_through(firm, admin):
    url = f"{firm.url}{CONSOLE}/clients/_import"
    prefix = new_id("bulk")
    csv = "id,name,matter_type,contact_login,contact_email\n" + "".join(
        f"{prefix}-{i:04},Client number {i} of a long list,,{prefix}-p{i:04},{prefix}-p{i:04}@example.com\n"
        for i in range(2000)
    )
    assert len(csv) > 64 * 1024
    preview = upload(admin, url, csv.encode())
    assert preview.ok and "2000 rows to import" in preview.text and 'class="entries bad"' not in preview.text
    done = confirm(admin, url, preview)
    assert message(done) == "ok: 2000 client(s) added, 2000 contact(s) added."
    assert len(clients_named(firm, [f"{prefix}-{i:04}" for i in range(2000)])) == 2000


@pytest.mark.parametrize(
    "content, reason",
    [
        (b"login,name\nx,y\n", "the header must name the columns"),
        ("id,name\nacme,Caf\u00e9\n".encode("latin-1"), "saved as UTF-8"),
    ],
)
def test_a_file_that_is_not_an_import_says_why(firm, admin, content, reason):
    page = upload(admin, f"{firm.url}{CONSOLE}/clients/_import", content)
    assert page.status_code == 400 and reason in html.unescape(page.text)


def test_a_file_too_large_is_refused_before_it_is_read(firm, admin):
    page = upload(admin, f"{firm.url}{CONSOLE}/clients/_import", b"id,name\n" + b"x" * (6 * 1024 * 1024))
    assert page.status_code == 413 and "too large" in page.text


# --- a client's life, a login's state -------------------------------------------------------------


def test_the_list_finds_clients_and_leaves_archived_ones_out_unless_asked(firm, admin):
    tag = new_id("find")
    firm.add_client(f"{tag}-open", "Open & Co")
    firm.add_client(f"{tag}-gone", "Gone Ltd")
    post(admin, f"{firm.url}{CONSOLE}/clients/{tag}-gone/archive")
    found = admin.get(f"{firm.url}{CONSOLE}/clients", params={"q": tag.upper()})
    assert f"{tag}-open" in found.text and f"{tag}-gone" not in found.text and "1 client matching" in found.text
    with_archived = admin.get(f"{firm.url}{CONSOLE}/clients", params={"q": tag, "archived": "1"})
    assert f"{tag}-gone" in with_archived.text and "archived" in with_archived.text
    by_name = admin.get(f"{firm.url}{CONSOLE}/clients", params={"q": "open & co"})
    assert f"{tag}-open" in by_name.text


def test_an_archived_client_is_closed_to_its_contacts_and_can_come_back(firm, admin):
    client_id, login = new_id(), new_id("p")
    firm.add_client(client_id)
    firm.add_contact(login, client_id)
    contact = firm.as_user(login)
    assert contact.propfind(f"/{client_id}/").status_code == 207
    page = post(admin, f"{firm.url}{CONSOLE}/clients/{client_id}/archive")
    assert message(page) == f"ok: {client_id} is archived: its contacts can no longer open its folders."
    assert row(firm, Client, client_id).archived_at is not None
    assert firm.as_user("sam").propfind(f"/{client_id}/").status_code == 207  # staff keep its folders
    again = post(admin, f"{firm.url}{CONSOLE}/clients/{client_id}/archive")
    assert message(again) == f"ok: {client_id} already was archived."
    back = post(admin, f"{firm.url}{CONSOLE}/clients/{client_id}/unarchive")
    assert message(back).startswith(f"ok: {client_id} is back from the archive")
    assert row(firm, Client, client_id).archived_at is None


def test_a_contact_taken_off_one_client_keeps_the_other(firm, admin):
    login = new_id("p")
    firm.add_contact(login, "acme")
    firm.add_contact(login, "beta")
    page = post(admin, f"{firm.url}{CONSOLE}/clients/acme/remove", {"login": login})
    assert message(page) == f"ok: {login} no longer has access to acme."
    assert row(firm, Membership, login, "acme") is None and row(firm, Membership, login, "beta") is not None
    from_their_page = post(admin, f"{firm.url}{CONSOLE}/contacts/{login}/remove", {"client": "beta"})
    assert message(from_their_page) == f"ok: {login} no longer has access to beta."
    assert row(firm, Membership, login, "beta") is None


def test_a_login_is_turned_off_and_on(firm, admin):
    login = new_id("p")
    firm.add_contact(login, "acme")
    off = post(admin, f"{firm.url}{CONSOLE}/contacts/{login}/disable")
    assert message(off) == f"ok: {login} can no longer sign in." and row(firm, Account, login).disabled
    assert "turned off" in off.text
    unblocked = post(admin, f"{firm.url}{CONSOLE}/contacts/{login}/unblock")
    assert message(unblocked) == f"ok: {login} is still turned off: turn the login on for them to sign in."
    on = post(admin, f"{firm.url}{CONSOLE}/contacts/{login}/enable")
    assert message(on) == f"ok: {login} can sign in again." and not row(firm, Account, login).disabled


def test_staff_are_made_admin_or_not_but_the_last_admin_stays(firm, admin):
    login = new_id("s")
    firm.add_staff(login)
    made = post(admin, f"{firm.url}{CONSOLE}/staff/{login}/admin", {"admin": "1"})
    assert message(made) == f"ok: {login} is now an administrator." and row(firm, Account, login).is_admin
    taken = post(admin, f"{firm.url}{CONSOLE}/staff/{login}/admin", {"admin": "0"})
    assert message(taken) == f"ok: {login} is no longer an administrator." and not row(firm, Account, login).is_admin
    last = post(admin, f"{firm.url}{CONSOLE}/staff/sam/admin", {"admin": "0"})
    assert message(last).startswith("error: 'sam' is the last enabled admin")
    assert row(firm, Account, "sam").is_admin


def test_an_erasure_shows_what_would_go_and_needs_the_client_id_typed(firm, admin):
    client_id, only_here, also_beta = new_id(), new_id("p"), new_id("p")
    firm.add_client(client_id, "To Be Forgotten")
    firm.add_contact(only_here, client_id)
    firm.add_contact(also_beta, client_id)
    firm.add_contact(also_beta, "beta")
    firm.as_user("sam").put(f"/{client_id}/{TEAM}/letter.pdf", b"%PDF letter")
    plan = admin.get(f"{firm.url}{CONSOLE}/clients/{client_id}/erase")
    assert plan.ok and "1 file and" in plan.text
    assert f'<strong class="contacts-erased">{only_here}</strong>' in plan.text and also_beta in plan.text
    wrong = post(admin, f"{firm.url}{CONSOLE}/clients/{client_id}/erase", {"confirm": client_id.upper()})
    assert message(wrong).startswith("error: Nothing was erased")
    assert row(firm, Client, client_id) is not None
    done = post(admin, f"{firm.url}{CONSOLE}/clients/{client_id}/erase", {"confirm": client_id})
    assert message(done).startswith(f"ok: {client_id} was erased: 1 file(s)")
    assert f'<li value="1">removed {client_id}/' in done.text  # each step shown as it was done
    assert row(firm, Client, client_id) is None and row(firm, Account, only_here) is None
    assert row(firm, Account, also_beta) is not None and row(firm, Membership, also_beta, "beta") is not None
    assert admin.get(f"{firm.url}{CONSOLE}/clients/{client_id}").status_code == 404


def test_a_matter_type_is_given_at_creation_or_later(fresh_portal, tmp_path):
    types = tmp_path / "types.yaml"
    types.write_text("matter_types:\n  tax:\n    name: Tax return\n    folders:\n      - path: Payslips\n")
    office = fresh_portal(matter_types_file=str(types))
    office.add_staff("sam", admin=True)
    office.add_client("plain")
    admin = signed_in(office.url, "sam")
    added = post(admin, f"{office.url}{CONSOLE}/clients", {"id": "taxed", "name": "Taxed", "matter_type": "tax"})
    assert message(added) == "ok: Client Taxed added, with its folders." and "Tax return" in added.text
    assert "Payslips" in office.as_user("sam").names("/taxed/")
    page = admin.get(f"{office.url}{CONSOLE}/clients/plain")
    assert '<option value="" selected>Choose…</option>' in page.text
    changed = post(admin, f"{office.url}{CONSOLE}/clients/plain/type", {"matter_type": "tax"})
    assert message(changed).startswith("ok: plain is now Tax return.")
    assert row(office, Client, "plain").matter_type == "tax" and "Payslips" in office.as_user("sam").names("/plain/")
