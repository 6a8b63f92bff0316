"""The commands that invite contacts and staff, and name them: exit codes, stderr, what is queued."""

from __future__ import annotations

import email
import email.policy

import pytest
from sqlalchemy import select

from davportal.core.models import Account, AccountLink, AuditEvent, OutboxMessage
from davportal.core.settings import load_config, settings_of
from davportal.services.portal import Portal
from tests.test_cli import cli  # noqa: F401  # the fixture


@pytest.fixture
def firm_cli(cli):  # noqa: F811
    assert cli("init").exit_code == 0
    assert cli("client", "add", "acme", "--name", "Acme Ltd").exit_code == 0
    portal = Portal(settings_of(*load_config(None)))
    yield cli, portal
    portal.engine.dispose()


def _outbox(portal) -> list[email.message.EmailMessage]:
    with portal.sessions() as session:
        raws = session.scalars(select(OutboxMessage.raw).order_by(OutboxMessage.id)).all()
    return [email.message_from_string(raw, policy=email.policy.default) for raw in raws]


def _account(portal, login) -> Account:
    with portal.sessions() as session:
        return session.get(Account, login)


def test_contact_add_with_invite_asks_no_password_and_queues_the_email(firm_cli):
    run, portal = firm_cli
    result = run("contact", "add", "alice", "--client", "acme", "--email", "alice@acme.example",
                 "--name", "Alice Martin", "--invite")  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "Invitation queued to alice@acme.example" in result.stdout
    account = _account(portal, "alice")
    assert account.name == "Alice Martin" and account.password_hash is None
    (message,) = _outbox(portal)
    assert message["To"] == "alice@acme.example"
    assert message.get_body(("plain",)).get_content().startswith("Hello Alice Martin,")
    with portal.sessions() as session:
        (event,) = session.scalars(select(AuditEvent).where(AuditEvent.action == "INVITE")).all()
        assert event.login.startswith("cli:")


def test_resend_replaces_the_link_and_staff_are_invited_the_same_way(firm_cli):
    run, portal = firm_cli
    run("contact", "add", "alice", "--client", "acme", "--email", "alice@acme.example", "--invite")
    for args in (("contact", "resend", "alice"), ("contact", "invite", "alice")):
        result = run(*args)
        assert result.exit_code == 0, result.output
        assert "the link works for 72 hours" in result.stdout
    with portal.sessions() as session:
        links = session.scalars(select(AccountLink)).all()
    assert len(links) == 3 and sum(link.used_at is None for link in links) == 1
    result = run("staff", "add", "fiona", "--email", "fiona@firm.example", "--name", "Fiona Rossi", "--invite")
    assert result.exit_code == 0, result.output
    assert _account(portal, "fiona").name == "Fiona Rossi"
    assert run("staff", "invite", "fiona").exit_code == 0
    assert [m["To"] for m in _outbox(portal)][-2:] == ["fiona@firm.example"] * 2


@pytest.mark.parametrize(
    "args, sentence",
    [
        (("contact", "invite", "ghost"), "There is no login 'ghost'."),
        (("contact", "resend", "nomail"), "nomail has no email address to send the invitation to."),
        (("contact", "add", "zed", "--client", "acme", "--invite"), "zed has no email address"),
        (("staff", "add", "sue", "--invite"), "sue has no email address"),
    ],
)
def test_an_invitation_that_cannot_go_is_one_line_and_exit_1_and_changes_nothing(firm_cli, args, sentence):
    run, portal = firm_cli
    run("contact", "add", "nomail", "--client", "acme", "--password-stdin", input="a long password\n")
    result = run(*args)
    assert result.exit_code == 1
    assert result.stderr.startswith("davportal: ") and sentence in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert _outbox(portal) == []
    assert _account(portal, "zed") is None and _account(portal, "sue") is None


def test_passwd_by_an_admin_meets_the_password_rules(firm_cli):
    run, _ = firm_cli
    run("contact", "add", "alice", "--client", "acme", "--password-stdin", input="a long password\n")
    result = run("passwd", "alice", "--password-stdin", input="password1234\n")
    assert result.exit_code == 1 and "most common" in result.stderr
    result = run("passwd", "alice", "--password-stdin", input="Alice-2024!\n")
    assert result.exit_code == 1 and "contain your login or your name" in result.stderr


def test_import_names_and_invites_new_contacts(firm_cli, tmp_path):
    run, portal = firm_cli
    rows = tmp_path / "clients.csv"
    rows.write_text("id,name,contact_login,contact_email,contact_name\n"
                    "beta,Beta LLP,bob,bob@beta.example,Bob Durand\n"
                    "gamma,Gamma SA,,,\n")  # fmt: skip
    result = run("client", "import", str(rows), "--invite")
    assert result.exit_code == 0, result.output
    assert "1 invitation(s) queued" in result.stdout
    assert _account(portal, "bob").name == "Bob Durand"
    (message,) = _outbox(portal)
    assert message["To"] == "bob@beta.example" and "Hello Bob Durand," in message.get_body(("plain",)).get_content()


def test_import_with_invite_needs_an_email_for_each_new_contact(firm_cli, tmp_path):
    run, portal = firm_cli
    rows = tmp_path / "clients.csv"
    rows.write_text("id,name,contact_login\nbeta,Beta LLP,bob\n")
    result = run("client", "import", str(rows), "--invite")
    assert result.exit_code == 1
    assert "line 2: 'bob' cannot be invited without a contact_email" in result.stderr
    assert _account(portal, "bob") is None and _outbox(portal) == []


def test_user_name_sets_and_clears_a_display_name(firm_cli):
    run, portal = firm_cli
    run("contact", "add", "alice", "--client", "acme", "--password-stdin", input="a long password\n")
    result = run("user", "name", "alice", "Alice Martin")
    assert result.exit_code == 0 and result.stdout == "alice is now called Alice Martin.\n"
    assert _account(portal, "alice").name == "Alice Martin"
    assert run("user", "name", "alice", "").stdout == "alice has no name now.\n"
    assert _account(portal, "alice").name is None
    missing = run("user", "name", "ghost", "Ghost")
    assert missing.exit_code == 1 and missing.stderr == "davportal: There is no login 'ghost'.\n"
