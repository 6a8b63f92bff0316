"""Matter types: template checks, client add/set-type, push, import, on a real database and folders."""

from __future__ import annotations

import os
import textwrap
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner
from sqlalchemy import create_engine, text

from davportal.cli import main
from davportal.core.errors import ConfigError
from provisioning.matter_types import MatterTypesFile
from tests.conftest import ADMIN

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "config" / "matter-types.yaml"
AREAS = {"team_shared": "Team's shared", "client_shared": "Client's shared"}


def _templates(tmp_path: Path, body: str | bytes) -> Path:
    path = tmp_path / "types.yaml"
    if isinstance(body, bytes):
        path.write_bytes(body)
    else:
        path.write_text(textwrap.dedent(body))
    return path


@pytest.mark.parametrize("body, message", [
    ("""
     matter_types:
       probate:
         name: Probate
         folders:
           - path: Wills
             rule: {area: wills, reed: [client]}
     """, "line 7: matter_types.probate.folders.0.rule.reed: Extra inputs are not permitted"),
    ("""
     matter_types:
       probate:
         folders: []
     """, "line 3: matter_types.probate.name: Field required"),
    ("""
     matter_types:
       probate:
         name: Probate
         folders:
           - path: Wills
           - path: wills
     """, "the folder 'wills' is listed twice"),
    ("""
     matter_types:
       probate:
         name: Probate
         folders:
           - path: "Bad: name"
     """, "line 6: matter_types.probate.folders.0.path: 'Bad: name' cannot be a folder name"),
    ("""
     matter_types:
       Probate Law:
         name: Probate
     """, "'Probate Law' is not a valid matter type id"),
    ("""
     matter_types:
       probate:
         name: Probate
         folders:
           - path: Team's shared
     """, "'Team's shared' is a folder every client already has"),
    ("""
     matter_types:
       probate:
         name: Probate
         folders:
           - path: Estate
           - path: Estate/For the executor
             rule: {area: executor, read: [executor]}
     """, "'Estate/For the executor' is open to executor, but 'Estate' is not"),
    ("matter_types: [1, 2", "not valid YAML"),
    ("matter_types: {caf\xe9: {name: Caf\xe9}}".encode("latin-1"), "not UTF-8 text"),
])  # fmt: skip
def test_template_errors_name_the_file_line_and_problem(tmp_path, body, message):
    path = _templates(tmp_path, body)
    with pytest.raises(ConfigError) as error:
        MatterTypesFile(path, **AREAS)
    assert str(path) in error.value.reason
    assert message in error.value.reason


def test_the_shipped_examples_load():
    types = MatterTypesFile(EXAMPLES, **AREAS).types
    assert {"family-law", "annual-tax-return"} <= set(types)
    assert types["family-law"].rules.rule_at(("Contracts",)).shareable is False
    assert types["annual-tax-return"].rules.rule_at(("Medical expenses", "2025")).area == "medical"


@pytest.fixture
def admin(fresh_database_url, tmp_path, monkeypatch):
    """The davportal command on a config of its own, with a template the test can edit."""
    templates = tmp_path / "types.yaml"
    templates.write_text(EXAMPLES.read_text())
    config = tmp_path / "davportal.yaml"
    config.write_text(yaml.safe_dump({"davportal": {
        "database_url": fresh_database_url, "storage_root": str(tmp_path / "files"),
        "matter_types_file": str(templates)}}))  # fmt: skip
    monkeypatch.setenv("DAVPORTAL_CONFIG", str(config))
    runner = CliRunner()

    def run(*args, input=None):
        return runner.invoke(main, list(args), input=input)

    run.storage = tmp_path / "files"
    run.templates = templates
    run.database_url = fresh_database_url
    return run


def _tree(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*"))


def _rows(database_url: str) -> list:
    engine = create_engine(database_url)
    with engine.connect() as conn:
        rows = [tuple(r) for table in ("client", "provisioned_folder")
                for r in conn.execute(text(f"SELECT * FROM {table} ORDER BY 1, 2"))]  # fmt: skip
    engine.dispose()
    return rows


def test_client_add_with_a_matter_type_and_set_type(admin):
    result = admin("client", "add", "smith", "--name", "Jane Smith", "--matter-type", "family-law")
    assert result.exit_code == 0, result.output
    assert (admin.storage / "smith" / "Court documents" / "Drafts").is_dir()
    assert (admin.storage / "smith" / "Client's shared" / "Identity documents").is_dir()
    assert "smith\tJane Smith\tfamily-law\t0 contact(s)" in admin("client", "list").stdout
    (admin.storage / "smith" / "Correspondence" / "note.txt").write_text("kept")
    result = admin("client", "set-type", "smith", "annual-tax-return")
    assert result.exit_code == 0 and "created Working papers" in result.stdout
    assert (admin.storage / "smith" / "Correspondence" / "note.txt").read_text() == "kept"  # nothing deleted
    unknown = admin("client", "add", "jones", "--name", "Jones", "--matter-type", "nope")
    assert unknown.exit_code == 1 and "no matter type 'nope'" in unknown.stderr


def test_push_adds_new_folders_is_idempotent_and_reports_conflicts(admin):
    for client_id in ("a-one", "b-two", "c-three"):
        admin("client", "add", client_id, "--name", client_id, "--matter-type", "family-law")
    admin("client", "add", "other", "--name", "Other", "--matter-type", "annual-tax-return")
    first = admin("matter-type", "push", "family-law")
    assert first.exit_code == 0 and "Nothing to create: all 3 client(s)" in first.stdout

    admin.templates.write_text(admin.templates.read_text().replace(
        "      - path: Correspondence                  # private: the firm's working folders",
        "      - path: Correspondence\n      - path: Correspondence/Outgoing\n      - path: Settlement"))  # fmt: skip
    (admin.storage / "b-two" / "Settlement").write_text("a file in the way")
    court = admin.storage / "c-three" / "Court documents"
    (court / "Drafts").rename(court / "Old drafts")  # a member of staff renamed it
    result = admin("matter-type", "push", "family-law")
    assert result.exit_code == 1
    lines = result.stdout.splitlines()
    assert "a-one: created Settlement, Correspondence/Outgoing; 9 already there" in lines
    assert any(line.startswith("b-two:") and "CONFLICT Settlement: a file is where the folder should be" in line
               for line in lines)  # fmt: skip
    assert any("CONFLICT Court documents/Drafts: it was created before and is gone" in line for line in lines)
    assert (admin.storage / "b-two" / "Settlement").read_text() == "a file in the way"
    assert not (admin.storage / "c-three" / "Court documents" / "Drafts").exists()  # not re-created
    assert not (admin.storage / "other" / "Settlement").exists()  # another matter type
    again = admin("matter-type", "push", "family-law")
    assert "0 folder(s) created" in again.stdout and again.exit_code == 1  # conflicts remain, nothing new


def test_dry_run_changes_nothing(admin):
    admin("client", "add", "a-one", "--name", "A", "--matter-type", "family-law")
    admin.templates.write_text(admin.templates.read_text().replace(
        "      - path: Correspondence                  # private: the firm's working folders",
        "      - path: Correspondence\n      - path: Archive"))  # fmt: skip
    tree, rows = _tree(admin.storage), _rows(admin.database_url)
    result = admin("matter-type", "push", "family-law", "--dry-run")
    assert result.exit_code == 0
    assert "(dry run) a-one: created Archive" in result.stdout and "would be created" in result.stdout
    assert _tree(admin.storage) == tree and _rows(admin.database_url) == rows
    assert admin("client", "import", str(_csv(admin, ["z-new,New,family-law,,"])), "--dry-run").exit_code == 0
    assert _tree(admin.storage) == tree and _rows(admin.database_url) == rows


def test_an_interrupted_push_can_be_run_again(admin):
    from davportal.cli import command_line_actor
    from davportal.core.settings import load_config, settings_of
    from davportal.services.portal import Portal
    from provisioning import templates
    from provisioning.matter_types import PushRecord

    for n in range(6):
        admin("client", "add", f"c{n}", "--name", f"C{n}", "--matter-type", "family-law")
    admin.templates.write_text(admin.templates.read_text().replace(
        "      - path: Correspondence                  # private: the firm's working folders",
        "      - path: Correspondence\n      - path: Archive"))  # fmt: skip
    config, source = load_config(os.environ["DAVPORTAL_CONFIG"])
    portal = Portal(settings_of(config, source))
    done = []

    def interrupt_after_three(report):
        done.append(report.client_id)
        if len(done) == 3:
            raise KeyboardInterrupt  # Ctrl-C in the middle of a push

    with pytest.raises(KeyboardInterrupt):
        templates.push(portal.sessions, portal.storage, portal.matter_types["family-law"], dry_run=False,
                       actor=command_line_actor(), record=PushRecord(admin.templates),
                       on_client=interrupt_after_three)  # fmt: skip
    portal.engine.dispose()
    result = admin("matter-type", "push", "family-law")
    assert result.exit_code == 0, result.output
    assert all((admin.storage / f"c{n}" / "Archive").is_dir() for n in range(6))
    assert "Nothing to create" in admin("matter-type", "push", "family-law").stdout


def _csv(admin, rows: list[str]) -> Path:
    path = admin.storage.parent / "clients.csv"
    path.write_text("id,name,matter_type,contact_login,contact_email\n" + "\n".join(rows) + "\n")
    return path


def test_import_checks_every_row_first(admin):
    bad = _csv(admin, ["ok-1,Fine,family-law,ann,ann@example.com", "Bad Id,Nope,,,", "ok-2,,family-law,,",
                       "ok-3,Three,no-such-type,,", "ok-1,Again,,,", "ok-4,Four,,bob,not-an-email"])  # fmt: skip
    result = admin("client", "import", str(bad))
    assert result.exit_code == 1
    for line, reason in [(3, "not a valid client id"), (4, "the name is empty"), (5, "no matter type 'no-such-type'"),
                         (6, "already on line 2"), (7, "not a valid email address")]:  # fmt: skip
        assert f"clients.csv, line {line}: " in result.stderr and reason in result.stderr
    assert "nothing imported" in result.stderr
    assert admin("client", "list").stdout == ""
    skipped = admin("client", "import", str(bad), "--skip-invalid")
    assert skipped.exit_code == 0
    assert "1 client(s) created" in skipped.stdout and "5 bad row(s) skipped" in skipped.stdout


IMPORT_COLUMNS = "id,name,matter_type,contact_login,contact_email,existing_contact"


def _import_csv(admin, rows: list[str]) -> Path:
    path = admin.storage.parent / "clients.csv"
    path.write_text(IMPORT_COLUMNS + "\n" + "\n".join(rows) + "\n")
    return path


@pytest.fixture
def bob_of_beta(admin):
    admin("client", "add", "beta", "--name", "Beta LLP")
    added = admin("contact", "add", "bob", "--client", "beta", "--email", "bob@beta.example", "--password-stdin",
                  input="bob's password\n")  # fmt: skip
    assert added.exit_code == 0, added.output
    return admin


def test_an_existing_contact_is_not_made_a_contact_of_another_client_by_default(bob_of_beta):
    admin = bob_of_beta
    path = _csv(admin, ["zz,ZZ Ltd,,bob,someone.else@zz.example", "ok,Fine,,,"])
    result = admin("client", "import", str(path))
    assert result.exit_code == 1
    assert "clients.csv, line 2: 'bob' already exists (a contact of beta): to make them a contact of 'zz' too, " \
           "set existing_contact to yes and give their email" in result.stderr  # fmt: skip
    assert "nothing imported" in result.stderr
    assert [line.split("\t")[0] for line in admin("client", "list").stdout.splitlines()] == ["beta"]
    skipped = admin("client", "import", str(path), "--skip-invalid")
    assert skipped.exit_code == 0, skipped.output
    assert "1 client(s) created" in skipped.stdout and "1 bad row(s) skipped" in skipped.stdout
    assert admin("contact", "list").stdout.splitlines() == ["bob\tbeta\tbob@beta.example"]


@pytest.mark.parametrize("row, reason", [
    ("zz,ZZ Ltd,,bob,someone.else@zz.example,yes",
     "'bob' already exists (a contact of beta), with an email other than someone.else@zz.example"),
    ("zz,ZZ Ltd,,bob,,yes", "'bob' already exists (a contact of beta): give their email, as on record"),
    ("zz,ZZ Ltd,,bob,bob@beta.example,no",
     "'bob' already exists (a contact of beta): to make them a contact of 'zz' too, set existing_contact to yes"),
    ("zz,ZZ Ltd,,bob,bob@beta.example,maybe", "existing_contact must be yes, no or empty"),
    ("zz,ZZ Ltd,,robert,bob@beta.example,yes", "existing_contact is yes, but there is no contact 'robert'"),
    ("zz,ZZ Ltd,,,,yes", "existing_contact needs a contact_login"),
])  # fmt: skip
def test_an_existing_contact_joins_only_when_the_row_says_so_with_their_email(bob_of_beta, row, reason):
    admin = bob_of_beta
    result = admin("client", "import", str(_import_csv(admin, [row])))
    assert result.exit_code == 1
    assert f"clients.csv, line 2: {reason}" in result.stderr
    assert admin("contact", "list").stdout.splitlines() == ["bob\tbeta\tbob@beta.example"]


def test_an_existing_contact_joins_a_new_client_when_the_file_says_so(bob_of_beta):
    admin = bob_of_beta
    path = _import_csv(admin, ["zz,ZZ Ltd,,bob,Bob@Beta.example,yes"])
    result = admin("client", "import", str(path))
    assert result.exit_code == 0, result.output
    assert "1 client(s) created, 0 already there, 0 contact(s) created" in result.stdout
    assert "1 existing contact(s) added to a client" in result.stdout
    assert admin("contact", "list").stdout.splitlines() == ["bob\tbeta, zz\tbob@beta.example"]
    again = admin("client", "import", str(path))
    assert again.exit_code == 0, again.output
    assert "0 client(s) created, 1 already there, 0 contact(s) created, 0 folder(s) created." in again.stdout


def test_an_existing_contact_with_no_email_on_record_is_added_by_hand(admin):
    admin("client", "add", "beta", "--name", "Beta LLP")
    admin("contact", "add", "pat", "--client", "beta", "--password-stdin", input="pat's password\n")
    result = admin("client", "import", str(_import_csv(admin, ["zz,ZZ Ltd,,pat,pat@example.com,yes"])))
    assert result.exit_code == 1
    assert ("line 2: 'pat' already exists (a contact of beta), with no email on record to confirm it is them: "
            "add them with `davportal contact add pat --client zz`") in result.stderr  # fmt: skip


def test_a_contact_on_two_rows_of_the_file_needs_the_second_row_to_say_so(admin):
    rows = ["one,One,,ann,ann@example.com", "two,Two,,ann,ann@example.com"]
    result = admin("client", "import", str(_import_csv(admin, rows)))
    assert result.exit_code == 1
    assert "line 3: 'ann' is already the contact on line 2: to make them a contact of 'two' too" in result.stderr
    joined = admin("client", "import", str(_import_csv(admin, [rows[0], rows[1] + ",yes"])))
    assert joined.exit_code == 0, joined.output
    assert "1 contact(s) created" in joined.stdout and "1 existing contact(s) added to a client" in joined.stdout
    assert admin("contact", "list").stdout.splitlines() == ["ann\tone, two\tann@example.com"]


def test_a_contact_added_while_the_file_is_imported_is_not_joined(admin):
    from davportal.core.errors import Conflict
    from davportal.core.settings import load_config, settings_of
    from davportal.services.portal import Portal
    from provisioning import accounts, importer

    admin("client", "add", "beta", "--name", "Beta LLP")
    path = _import_csv(admin, ["zz,ZZ Ltd,,bob,someone.else@zz.example"])
    config, source = load_config(os.environ["DAVPORTAL_CONFIG"])
    portal = Portal(settings_of(config, source))
    with portal.sessions() as session:
        rows, bad = importer.read(path, session, portal.matter_types)
    assert len(rows) == 1 and not bad  # bob is new when the file is read...
    with portal.sessions.begin() as session:  # ...and someone adds him to another client before the write
        accounts.add_contact(session, "bob", client_id="beta", password=None, email="bob@beta.example", actor=ADMIN)
    with pytest.raises(Conflict, match="line 2: the contact 'bob' was added while the file was being imported"):
        importer.import_rows(
            portal.sessions, portal.storage, rows, portal.matter_types, tuple(AREAS.values()), actor=ADMIN
        )
    portal.engine.dispose()
    assert not (admin.storage / "zz").exists()
    assert admin("contact", "list").stdout.splitlines() == ["bob\tbeta\tbob@beta.example"]


def test_import_creates_clients_contacts_and_folders_and_changes_nothing_the_second_time(admin):
    path = _csv(admin, ["smith,Jane Smith,family-law,jane,jane@example.com", "acme,Acme Ltd,annual-tax-return,,",
                        "plain,Plain Client,,pat,"])  # fmt: skip
    result = admin("client", "import", str(path))
    assert result.exit_code == 0, result.output
    assert "3 client(s) created" in result.stdout and "2 contact(s) created" in result.stdout
    assert (admin.storage / "acme" / "Client's shared" / "Bank statements").is_dir()
    assert (admin.storage / "plain" / "Team's shared").is_dir()
    assert admin("contact", "list").stdout.splitlines() == ["jane\tsmith\tjane@example.com", "pat\tplain\t-"]
    tree, rows = _tree(admin.storage), _rows(admin.database_url)
    again = admin("client", "import", str(path))
    assert "0 client(s) created, 3 already there, 0 contact(s) created, 0 folder(s) created" in again.stdout
    assert _tree(admin.storage) == tree and _rows(admin.database_url) == rows


def test_list_shows_each_folders_rule_and_names_a_mistake(admin):
    admin("client", "add", "acme", "--name", "Acme", "--matter-type", "annual-tax-return")
    lines = admin("matter-type", "list").stdout.splitlines()
    assert "annual-tax-return\tAnnual tax return\t1 client(s)" in lines
    assert ("  Payroll\tarea: payroll; readers: staff, bookkeeper, client; uploaders: staff, bookkeeper; "
            "delete own: bookkeeper; shareable: yes") in lines  # fmt: skip
    assert "  Team's shared/Tax returns\tarea: team-shared; readers: staff, every contact; uploaders: staff; " \
           "delete own: nobody; shareable: yes" in lines  # fmt: skip
    admin.templates.write_text(admin.templates.read_text().replace("read: [client]", "reed: [client]"))
    broken = admin("matter-type", "list")
    assert broken.exit_code == 1
    assert "types.yaml, line" in broken.stderr and "reed: Extra inputs are not permitted" in broken.stderr


def test_push_says_what_changed_in_the_rules_since_the_last_push(admin):
    admin("client", "add", "acme", "--name", "Acme", "--matter-type", "annual-tax-return")
    first = admin("matter-type", "push", "annual-tax-return")
    assert first.exit_code == 0, first.output
    assert "No earlier push of annual-tax-return recorded. Its rules, in use since the file was saved:" in first.stdout
    assert ("  Annual tax return: 'Medical expenses' area: medical; readers: staff, client; uploaders: staff, client; "
            "delete own: client; shareable: yes") in first.stdout.splitlines()  # fmt: skip
    record = admin.templates.with_name("types.yaml.pushed")
    assert "Medical expenses" in record.read_text()

    admin.templates.write_text(admin.templates.read_text()
        .replace("read: [client, bookkeeper]", "read: [bookkeeper]")  # Payroll: the client no longer reads it
        .replace("      - path: Engagement\n        rule: {area: private, shareable: false}\n", "")
        .replace("      - path: Working papers ", "      - path: Archive\n      - path: Working papers "))  # fmt: skip
    changes = [
        "  Annual tax return: 'Payroll' readers: staff, bookkeeper, client → staff, bookkeeper",
        "  Annual tax return: 'Archive' is new (area: private; readers: staff; uploaders: staff; delete own: nobody; "
        "shareable: yes)",
        "  Annual tax return: 'Engagement' is no longer in the template (clients keep it); shareable: no → yes",
    ]  # fmt: skip
    before = record.read_text()
    dry = admin("matter-type", "push", "annual-tax-return", "--dry-run")
    assert dry.exit_code == 0, dry.output
    assert all(line in dry.stdout.splitlines() for line in changes), dry.stdout
    assert record.read_text() == before  # a dry run records nothing
    pushed = admin("matter-type", "push", "annual-tax-return")
    assert pushed.exit_code == 0, pushed.output
    assert "Changed since the last push of annual-tax-return (rules in use since the file was saved):" in pushed.stdout
    assert all(line in pushed.stdout.splitlines() for line in changes), pushed.stdout
    again = admin("matter-type", "push", "annual-tax-return")
    assert "No folder or rule changed since the last push of annual-tax-return." in again.stdout

    record.write_text("[1, 2")
    unreadable = admin("matter-type", "push", "annual-tax-return")
    assert unreadable.exit_code == 1
    assert "the record of the last push cannot be read" in unreadable.stderr and "delete it" in unreadable.stderr
