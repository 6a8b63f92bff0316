"""The upload limit reads the same on the page, in its script's quick refusal and in the server's."""

from __future__ import annotations

from tests.browser.conftest import sign_in
from tests.conftest import CLIENT, PASSWORD


def test_the_limit_is_worded_once(fresh_portal, open_page, tmp_path):
    running = fresh_portal(uploads={"max_bytes": 1536})
    running.add_client("acme", "Acme Ltd")
    running.add_contact("alice", "acme")
    page = open_page()
    sign_in(page, running.url, "alice", PASSWORD, "/acme/Client%27s%20shared/")
    assert "at most 1.5 KiB each" in page.inner_text("#upload")
    big = tmp_path / "big.pdf"
    big.write_bytes(b"%PDF" + b"x" * 2000)
    page.set_input_files("#files", [str(big)])
    assert "too large (the limit is 1.5 KiB)" in page.inner_text("#progress")
    refused = running.as_user("alice").put(f"/acme/{CLIENT}/big.pdf", big.read_bytes())
    assert refused.status_code == 413 and "limit of 1.5 KiB" in refused.text
