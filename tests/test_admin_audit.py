"""Every admin action is audited once, naming who did it and what changed, whether it came from
the command line or the console: both call the same service, which records the event in the
change's own transaction."""

from __future__ import annotations

import getpass
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner
from sqlalchemy import func, select

from davportal.cli import main
from davportal.core.models import Account, AppPassword, AuditEvent, LoginThrottle
from davportal.services import two_factor
from tests.conftest import PASSWORD, Browser, Running, portal_config, seed_firm, signed_in, start_portal
from tests.test_console_people import confirm, upload

ROOT = Path(__file__).resolve().parents[1]
CONSOLE = "/.davportal-web/admin"
AREAS = "Team's shared, Client's shared"


@dataclass(frozen=True)
class Action:
    """One admin action: what the test sets up first, how the command line and the console ask
    for it (None: the console does not offer it), and the event it must leave."""

    name: str
    event: str
    client: Callable[[str], str | None]
    detail: Callable[[str], str]  # a part of the event's detail that names what changed
    cli: Callable[[Running, str, Path], tuple[list[str], str | None]]  # arguments, standard input
    console: Callable[[Browser, str, str], object] | None
    prepare: Callable[[Running, str], None] = lambda office, tag: None


def form(path: str, data: dict | None = None) -> Callable[[Browser, str, str], object]:
    """A console form, posted as the page sends it: `path` and `data` may name the tag."""

    def send(browser: Browser, url: str, tag: str):
        fields = {key: value.format(tag=tag) for key, value in (data or {}).items()}
        return browser.post(f"{url}{CONSOLE}/{path.format(tag=tag)}", data={"csrf": browser.csrf, **fields})

    return send


def a_client(office: Running, tag: str) -> None:
    office.add_client(tag, f"Firm {tag}")


def a_contact(office: Running, tag: str) -> None:
    office.add_contact(f"{tag}-p", "acme")


def a_blocked_contact(office: Running, tag: str) -> None:
    a_contact(office, tag)
    with office.portal.sessions.begin() as session:
        session.add(LoginThrottle(login=f"{tag}-p", network="203.0.113.0/24", failures=9,
                                  not_before=datetime.now(timezone.utc) + timedelta(hours=1)))  # fmt: skip


def a_contact_with_two_factor(office: Running, tag: str) -> None:
    a_contact(office, tag)
    with office.portal.sessions.begin() as session:
        session.get(Account, f"{tag}-p").totp_secret = two_factor.new_secret()


def a_contact_with_an_app_password(office: Running, tag: str) -> None:
    a_contact(office, tag)
    with office.portal.sessions.begin() as session:
        two_factor.create_app_password(session, f"{tag}-p", "Office laptop")


def app_password_of(office: Running, login: str) -> int:
    with office.portal.sessions() as session:
        return session.scalars(select(AppPassword.id).where(AppPassword.login == login)).one()


def csv_of(tag: str) -> bytes:
    return f"id,name,contact_login,contact_email\n{tag},Imported {tag},{tag}-p,{tag}@example.com\n".encode()


def import_file(office: Running, tag: str, folder: Path) -> tuple[list[str], None]:
    path = folder / f"{tag}.csv"
    path.write_bytes(csv_of(tag))
    return ["client", "import", str(path)], None


def import_in_console(browser: Browser, url: str, tag: str):
    address = f"{url}{CONSOLE}/clients/_import"
    return confirm(browser, address, upload(browser, address, csv_of(tag)))


ACTIONS = [
    Action("add a client", "ADD-CLIENT", lambda t: t,
           lambda t: f"client 'Firm {t}' added as no matter type, with folders: {AREAS}",
           lambda o, t, f: (["client", "add", t, "--name", f"Firm {t}"], None),
           form("clients", {"id": "{tag}", "name": "Firm {tag}", "matter_type": ""})),
    Action("change a client's matter type", "SET-TYPE", lambda t: t,
           lambda t: "matter type none changed to family-law, folders added: ",
           lambda o, t, f: (["client", "set-type", t, "family-law"], None),
           form("clients/{tag}/type", {"matter_type": "family-law"}), a_client),
    Action("add a new contact", "ADD-CONTACT", lambda t: t,
           lambda t: f"new contact {t}-p added to {t} as client",
           lambda o, t, f: (["contact", "add", f"{t}-p", "--client", t, "--password-stdin"], PASSWORD + "\n"),
           form("clients/{tag}/contacts", {"login": "{tag}-p", "participant_type": "client"}), a_client),
    Action("give a contact one more client", "ADD-CONTACT", lambda t: "beta",
           lambda t: f"existing contact {t}-p added to beta as client",
           lambda o, t, f: (["contact", "add", f"{t}-p", "--client", "beta"], None),
           form("contacts/{tag}-p/join", {"client": "beta", "participant_type": "client"}), a_contact),
    Action("add staff", "ADD-STAFF", lambda t: None, lambda t: f"{t}-s added to the staff",
           lambda o, t, f: (["staff", "add", f"{t}-s", "--password-stdin"], PASSWORD + "\n"),
           form("staff", {"login": "{tag}-s"})),
    Action("name a login", "SET-NAME", lambda t: None, lambda t: f"{t}-p renamed from no name to Nina Duval",
           lambda o, t, f: (["user", "name", f"{t}-p", "Nina Duval"], None),
           form("contacts/{tag}-p/name", {"name": "Nina Duval"}), a_contact),
    Action("let a login sign in again", "UNBLOCK", lambda t: None,
           lambda t: f"{t}-p may sign in again (1 network(s) were waiting)",
           lambda o, t, f: (["user", "unblock", f"{t}-p"], None),
           form("contacts/{tag}-p/unblock"), a_blocked_contact),
    Action("import clients", "IMPORT", lambda t: t,
           lambda t: f"client 'Imported {t}' added as no matter type, new contact {t}-p added (line 2)",
           import_file, import_in_console),
    Action("set a login's password", "PASSWORD-CHANGE", lambda t: None,
           lambda t: f"password of {t}-p changed by an admin",
           lambda o, t, f: (["passwd", f"{t}-p", "--password-stdin"], "a brand new password\n"), None, a_contact),
    Action("reset two-factor sign-in", "TWO-FACTOR-OFF", lambda t: None,
           lambda t: f"two-factor sign-in of {t}-p turned off by an admin",
           lambda o, t, f: (["user", "2fa", "reset", f"{t}-p"], None), None, a_contact_with_two_factor),
    Action("revoke an app password", "REVOKE-APP-PASSWORD", lambda t: None,
           lambda t: f"(Office laptop) of {t}-p revoked by an admin",
           lambda o, t, f: (["user", "app-passwords", f"{t}-p", "--revoke", str(app_password_of(o, f"{t}-p"))], None),
           None, a_contact_with_an_app_password),
]  # fmt: skip

WAYS = [
    pytest.param(action, way, id=f"{action.name} ({way})")
    for action in ACTIONS
    for way in ("command line", "console")
    if way == "command line" or action.console is not None
]


@pytest.fixture(scope="module")
def office_config(database_url, tmp_path_factory) -> dict:
    storage = tmp_path_factory.mktemp("storage")
    return portal_config(database_url, storage, matter_types_file=str(ROOT / "config" / "matter-types.yaml"))


@pytest.fixture(scope="module")
def config_file(office_config, tmp_path_factory) -> Path:
    """The command line's config: the same database and folders as the running portal."""
    path = tmp_path_factory.mktemp("config") / "davportal.yaml"
    path.write_text(yaml.safe_dump(office_config))
    return path


@pytest.fixture(scope="module")
def office(office_config):
    """The small firm of seed_firm, with matter types."""
    running = start_portal(office_config)
    try:
        yield seed_firm(running)
    finally:
        running.server.stop()
        running.portal.engine.dispose()


@pytest.fixture(scope="module")
def console(office) -> Browser:
    return signed_in(office.url, "sam")


@pytest.mark.parametrize("action, way", WAYS)
def test_an_admin_action_is_audited_once_by_who_did_it(office, console, config_file, action, way, tmp_path,
                                                        monkeypatch):  # fmt: skip
    tag = f"a{uuid.uuid4().hex[:8]}"
    action.prepare(office, tag)
    before = last_event(office)
    if way == "command line":
        monkeypatch.setenv("DAVPORTAL_CONFIG", str(config_file))
        arguments, given = action.cli(office, tag, tmp_path)
        result = CliRunner().invoke(main, arguments, input=given)
        assert result.exit_code == 0, result.output
        who = f"cli:{getpass.getuser()}"
    else:
        assert action.console is not None
        page = action.console(console, office.url, tag)
        assert page.ok and 'class="flash ok"' in page.text, page.text
        who = "sam"
    with office.portal.sessions() as session:
        # Requests are audited too (with no detail): the admin action is the one event that says what it did.
        events = session.scalars(select(AuditEvent).where(AuditEvent.id > before, AuditEvent.detail.is_not(None))).all()
    assert [(e.action, e.login, e.client_id) for e in events] == [(action.event, who, action.client(tag))]
    assert action.detail(tag) in events[0].detail


def last_event(office: Running) -> int:
    with office.portal.sessions() as session:
        return session.scalar(select(func.max(AuditEvent.id))) or 0
