"""The admin console in Chromium: a matter type pushed from the browser, the trash and the outbox."""

from __future__ import annotations

from pathlib import Path

from provisioning import clients
from tests.browser.conftest import sign_in
from tests.conftest import ADMIN, PASSWORD, TEAM

ROOT = Path(__file__).resolve().parents[2]


def test_an_admin_pushes_a_matter_type_and_restores_from_the_trash(fresh_portal, open_page, tmp_path):
    types = tmp_path / "types.yaml"
    types.write_text((ROOT / "config" / "matter-types.yaml").read_text())
    office = fresh_portal(matter_types_file=str(types))
    office.add_staff("sam", admin=True)
    office.add_client("acme", "Acme Ltd")
    with office.portal.sessions.begin() as session:
        clients.set_type(session, office.portal.storage, "acme", office.portal.matter_types["family-law"], actor=ADMIN)
    court = "      - path: Court documents\n"
    types.write_text(types.read_text().replace(court, court + "      - path: Archive\n", 1))
    sam = office.as_user("sam")
    assert sam.put(f"/acme/{TEAM}/Letter.pdf", b"%PDF").status_code == 201
    assert sam.request("DELETE", f"/acme/{TEAM}/Letter.pdf").status_code == 204

    page = open_page()
    sign_in(page, office.url, "sam", PASSWORD)
    page.click("text=Administration")
    page.click("nav.console >> text=Matter types")
    page.click("text=Give the folders to every client… >> nth=0")
    assert "Archive for 1 client" in page.inner_text("main")
    page.click("text=Create these folders now")
    page.wait_for_selector("#outcome p.flash")  # the page streams: the outcome comes last
    assert "1 of 1: acme: created Archive" in page.inner_text("#progress")
    assert "1 client, 1 folder created, 0 left alone" in page.inner_text("#outcome")
    assert (office.portal.storage.root / "acme" / "Archive").is_dir()

    page.click("nav.console >> text=Trash")
    page.click('button:has-text("Restore")')
    assert page.inner_text("p.flash") == f"Restored to acme/{TEAM}/Letter.pdf."
    assert sam.request("GET", f"/acme/{TEAM}/Letter.pdf").content == b"%PDF"
