"""The admin console in Chromium: an admin runs clients, contacts and logins without a terminal."""

from __future__ import annotations

from sqlalchemy import select

from davportal.core.models import Account, Client, OutboxMessage
from tests.browser.conftest import sign_in, until
from tests.conftest import PASSWORD

CONSOLE = "/.davportal-web/admin"


def flash(page) -> str:
    return page.inner_text("p.flash")


def test_an_admin_runs_clients_contacts_and_logins(fresh_portal, open_page):
    office = fresh_portal(firm_name="Dupont & Søn LLP")
    office.add_staff("sam", admin=True)
    office.add_client("acme", "Acme Ltd")
    office.add_client("beta", "Beta LLP")
    office.add_contact("alice", "acme")
    office.add_contact("alice", "beta")
    alice = office.as_user("alice")
    page = open_page()
    sign_in(page, office.url, "sam", PASSWORD)

    # A client, then a contact with an invitation.
    page.click("text=Administration")
    page.click("nav.console >> text=Clients")
    page.fill("input[name=id]", "gamma")
    page.fill("input[name=name]", "Gamma & Co")
    page.click("text=Add the client")
    assert flash(page) == "Client Gamma & Co added, with its folders."
    page.fill("input[name=login]", "dora")
    page.fill("input[name=name]", "Dora Martin")
    page.fill("input[name=email]", "dora@example.com")
    assert page.is_checked("input[name=invite]")  # inviting is the default
    page.click("text=Add the contact")
    assert flash(page) == "Contact dora added to gamma as client; an invitation is on its way to dora@example.com."
    assert "Dora Martin" in page.inner_text("table.entries")
    with office.portal.sessions() as session:
        assert session.scalars(select(OutboxMessage.recipient)).all() == ["dora@example.com"]

    # A contact of two clients taken off one: no access there, the other unchanged.
    assert alice.propfind("/acme/").status_code == 207
    page.goto(office.url + CONSOLE + "/contacts/alice")
    page.click("tr:has-text('acme') >> text=Take off this client")
    assert flash(page) == "alice no longer has access to acme."
    until(lambda: alice.propfind("/acme/").status_code == 404, "alice's acme is gone")
    assert alice.propfind("/beta/").status_code == 207

    # A login turned off, and on again.
    page.click("text=Turn the login off")
    assert flash(page) == "alice can no longer sign in."
    until(lambda: alice.propfind("/beta/").status_code == 401, "alice is refused")
    page.click("text=Turn the login on")
    assert flash(page) == "alice can sign in again."
    until(lambda: alice.propfind("/beta/").status_code == 207, "alice is let in again")

    # A client archived, then erased behind its typed id.
    page.goto(office.url + CONSOLE + "/clients/gamma")
    page.click("button:has-text('Archive')")
    assert flash(page) == "gamma is archived: its contacts can no longer open its folders."
    page.click("text=Erase this client and its documents for good")
    assert page.inner_text(".contacts-erased") == "dora"
    page.fill("input[name=confirm]", "gama")
    page.click("text=Erase gamma for good")
    assert flash(page).startswith("Nothing was erased")
    page.fill("input[name=confirm]", "gamma")
    page.click("text=Erase gamma for good")
    assert flash(page).startswith("gamma was erased:")
    with office.portal.sessions() as session:
        assert session.get(Client, "gamma") is None and session.get(Account, "dora") is None
    assert not (office.portal.storage.root / "gamma").exists()
    assert office.as_user("sam").propfind("/gamma/").status_code == 404
