"""Digest emails greet people by their display name, else by their login."""

from __future__ import annotations

from provisioning import accounts
from tests.conftest import CLIENT, TEAM
from tests.test_notifications import _documents, _send, firm_mail  # noqa: F401  # firm_mail: the fixture


def test_digests_greet_by_display_name_else_login(firm_mail, inbox):  # noqa: F811
    with firm_mail.portal.sessions.begin() as session:
        accounts.set_name(session, "alice", "Alice Martin")
        accounts.set_name(session, "fiona", "Fiona Rossi")
    assert firm_mail.as_user("sam").put(f"/acme/{TEAM}/Letter.pdf", b"%PDF").status_code == 201
    assert firm_mail.as_user("carol").put(f"/acme/{CLIENT}/Payslip.pdf", b"%PDF").status_code == 201
    _send(firm_mail)
    (to_alice,) = inbox.to("alice@acme.example")
    assert _documents(to_alice).startswith("Hello Alice Martin,")
    assert "Hello Alice Martin," in to_alice.get_body(("html",)).get_content()
    (to_carol,) = inbox.to("carol@acme.example")
    assert _documents(to_carol).startswith("Hello carol,")
    (to_fiona,) = inbox.to("fiona@dupont.example")  # staff assigned to the client
    assert _documents(to_fiona).startswith("Hello Fiona Rossi,")
