"""The portal in Chromium: a contact and staff exchanging documents from the web page."""

from __future__ import annotations

import re

import pytest
import requests

from tests.browser.conftest import sign_in
from tests.conftest import ADMIN, CLIENT, PASSWORD, TEAM


@pytest.fixture
def office(fresh_portal):
    running = fresh_portal(firm_name="Dupont & Søn LLP")
    running.add_staff("sam")
    running.add_client("acme", "Acme Ltd")
    running.add_client("beta", "Beta LLP")
    running.add_contact("alice", "acme")
    sam = running.as_user("sam")
    sam.request("MKCOL", "/acme/Matter/")
    sam.put("/acme/Matter/Internal memo.pdf", b"%PDF private")
    sam.put(f"/acme/{TEAM}/Engagement letter.pdf", b"%PDF-1.4 letter")
    return running


def _pdf(tmp_path, name: str):
    path = tmp_path / name
    path.write_bytes(b"%PDF-1.4\n1 0 obj<</Type/Catalog>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n")
    return path


def test_a_contact_exchanges_documents(office, open_page, tmp_path):
    page = open_page()
    sign_in(page, office.url, "alice", PASSWORD)
    assert "Acme Ltd" in page.inner_text("main") and "Beta" not in page.inner_text("main")
    page.click("text=Acme Ltd")
    folders = page.inner_text("table.entries")
    assert TEAM in folders and CLIENT in folders and "Matter" not in folders
    page.screenshot(path=str(tmp_path / "contact-client.png"), full_page=True)

    page.click(f"text={CLIENT}")
    page.set_input_files("#files", [str(_pdf(tmp_path, "Tax return.pdf")), str(_pdf(tmp_path, "Payslip.pdf"))])
    page.wait_for_selector("#progress li.done >> nth=1")
    bars = page.eval_on_selector_all("#progress progress", "els => els.map(e => String(e.value))")
    assert bars == ["100", "100"]  # both files' progress finished
    page.wait_for_selector("table.entries >> text=Payslip.pdf")
    listing = page.inner_text("table.entries")
    assert "Tax return.pdf" in listing and "alice" in listing
    page.screenshot(path=str(tmp_path / "contact-uploads.png"), full_page=True)

    preview = page.request.get(office.url + "/acme/Client%27s%20shared/Tax%20return.pdf?preview=1")
    assert preview.status == 200 and preview.headers["content-type"] == "application/pdf"
    assert preview.headers["content-disposition"].startswith("inline")
    assert preview.headers["x-content-type-options"] == "nosniff" and "content-security-policy" in preview.headers

    page.on("dialog", lambda dialog: dialog.accept())  # "Delete Payslip.pdf?"
    page.click("tr:has-text('Payslip.pdf') >> text=Delete")
    page.wait_for_selector("p.flash")
    assert "Deleted Payslip.pdf." in page.inner_text("p.flash")
    assert "Payslip.pdf" not in page.inner_text("table.entries")

    exe = tmp_path / "setup.exe"
    exe.write_bytes(b"MZ")
    page.set_input_files("#files", [str(exe)])
    assert "'.exe' files are not accepted here" in page.inner_text("#progress")
    page.set_input_files("#files", [str(_pdf(tmp_path, "TAX RETURN.PDF"))])  # the server's own refusal
    page.wait_for_selector("#progress .error >> text=already here")

    page.goto(office.url + "/acme/Team%27s%20shared/")
    assert page.query_selector("#upload") is None  # no upload where the contact may not write
    status, text = page.evaluate("""async () => {
        const csrf = document.querySelector("input[name=csrf]").value;
        const r = await fetch("x.pdf", {method: "PUT", body: "x", headers: {"X-CSRF-Token": csrf}});
        return [r.status, await r.text()];
    }""")  # fmt: skip
    assert status == 403 and "read and download" in text


def test_staff_receive_copy_and_describe(office, open_page, tmp_path):
    office.as_user("alice").put(f"/acme/{CLIENT}/Bank statement.pdf", b"%PDF statement")
    page = open_page()
    sign_in(page, office.url, "sam", PASSWORD)
    assert "Acme Ltd" in page.inner_text("main") and "Beta LLP" in page.inner_text("main")
    page.fill("input[name=q]", "beta")
    page.click("form.search button")
    assert "Beta LLP" in page.inner_text("table.entries") and "Acme Ltd" not in page.inner_text("table.entries")

    page.click("text=Received")
    row = page.locator("tr:has-text('Bank statement.pdf')")
    assert "alice" in row.inner_text()
    page.screenshot(path=str(tmp_path / "staff-received.png"), full_page=True)
    row.locator("summary").click()
    row.locator("input[name=destination]").fill("/acme/Matter/Bank statement.pdf")
    row.locator("button:has-text('Copy')").click()
    page.wait_for_selector("p.flash")
    assert "Copied Bank statement.pdf" in page.inner_text("p.flash")
    assert office.as_user("sam").request("GET", "/acme/Matter/Bank statement.pdf").content == b"%PDF statement"

    page.goto(office.url + "/acme/Team%27s%20shared/")
    letter = page.locator("tr:has-text('Engagement letter.pdf')")
    letter.locator("summary:has-text('Description')").click()
    letter.locator("textarea[name=text]").fill("Please sign and return by Friday")
    letter.locator("button:has-text('Save')").click()
    page.wait_for_selector("p.flash")
    page.screenshot(path=str(tmp_path / "staff-folder.png"), full_page=True)

    contact = open_page()
    sign_in(contact, office.url, "alice", PASSWORD, "/acme/Team%27s%20shared/")
    assert "Please sign and return by Friday" in contact.inner_text("tr:has-text('Engagement letter.pdf')")


def test_names_and_descriptions_render_as_text(office, open_page):
    """A name or description full of HTML is shown as the text it is, never run."""
    folder = office.portal.storage.path_of(("acme", TEAM))
    # Uploads refuse < and > (Windows cannot store them), but a file can arrive outside the portal.
    (folder / "<img src=x onerror=alert(1)>.pdf").write_bytes(b"%PDF")
    describe = ("<D:propertyupdate xmlns:D='DAV:' xmlns:p='urn:davportal'><D:set><D:prop><p:description>"
                "&lt;script&gt;alert(2)&lt;/script&gt;</p:description>"
                "</D:prop></D:set></D:propertyupdate>")  # fmt: skip
    office.as_user("sam").request("PROPPATCH", f"/acme/{TEAM}/Engagement letter.pdf", data=describe.encode())
    page = open_page()
    dialogs = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    sign_in(page, office.url, "alice", PASSWORD, "/acme/Team%27s%20shared/")
    text = page.inner_text("table.entries")
    assert "<img src=x onerror=alert(1)>.pdf" in text and "<script>alert(2)</script>" in text
    assert dialogs == [] and page.query_selector("table.entries script, table.entries img") is None


def test_forms_without_the_token_are_refused(office):
    session = requests.Session()
    session.get(office.url + "/.davportal-web/login")
    refused = session.post(office.url + "/.davportal-web/login", data={"login": "alice", "password": PASSWORD},
                           allow_redirects=False)  # fmt: skip
    assert refused.status_code == 403
    token = re.search(r'name="csrf" value="([^"]+)"', refused.text).group(1)  # the page as shown again
    signed = session.post(office.url + "/.davportal-web/login", data={"csrf": token, "login": "alice",
                          "password": PASSWORD}, allow_redirects=False)  # fmt: skip
    assert signed.status_code == 303
    cookie = signed.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Secure" not in cookie  # plain HTTP here
    forged = session.post(office.url + "/.davportal-web/do",
                          data={"action": "delete", "path": f"/acme/{CLIENT}/x.pdf"})  # fmt: skip
    assert forged.status_code == 403 and "out of date" in forged.text
    assert session.put(office.url + f"/acme/{CLIENT}/x.pdf", data=b"x").status_code == 403  # no X-CSRF-Token
    page = session.get(office.url + "/acme/", headers={"Accept": "text/html"})
    csrf = re.search(r'name="csrf" value="([^"]+)"', page.text).group(1)
    with_token = session.put(office.url + f"/acme/{CLIENT}/x.pdf", data=b"x", headers={"X-CSRF-Token": csrf})
    assert with_token.status_code == 201


@pytest.mark.parametrize("path", ["/acme/Matter/", "/acme/Matter/Internal%20memo.pdf", "/beta/",
                                  "/beta/Team%27s%20shared/", "/.davportal-web/received"])  # fmt: skip
def test_a_contact_guessing_urls_gets_404(office, open_page, path):
    page = open_page()
    sign_in(page, office.url, "alice", PASSWORD)
    response = page.goto(office.url + path)
    assert response.status == 404
    assert "Internal memo" not in page.content()


def test_a_session_ends_when_the_password_changes_or_the_login_is_disabled(office, open_page):
    from provisioning import accounts

    page = open_page()
    sign_in(page, office.url, "alice", PASSWORD, "/acme/")
    assert page.url.endswith("/acme/")
    with office.portal.sessions.begin() as session:
        accounts.set_password(session, "alice", "a completely new password", actor=ADMIN)
    page.goto(office.url + "/acme/")
    assert "/.davportal-web/login" in page.url


def test_two_factor_sign_in_in_the_browser(office, open_page):
    """A contact with two-factor sign-in on enters the password, then the code from the app."""
    import pyotp

    from davportal.services import two_factor

    secret = two_factor.new_secret()
    with office.portal.sessions.begin() as session:
        two_factor.enable(session, "alice", secret, pyotp.TOTP(secret).now())
    page = open_page()
    sign_in(page, office.url, "alice", PASSWORD, "/acme/")
    assert "/.davportal-web/login/code" in page.url
    page.fill("input[name=code]", pyotp.TOTP(secret).now())
    page.click("button[type=submit]")
    page.wait_for_load_state()
    assert page.url.endswith("/acme/") and CLIENT in page.inner_text("table.entries")
