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
from provisioning.matter_types import load_matter_types

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "config" / "matter-types.yaml"
AREAS = {"team_shared": "Team's shared", "client_shared": "Client's shared"}


def _templates(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "types.yaml"
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
])  # fmt: skip
def test_template_errors_name_the_file_line_and_problem(tmp_path, body, message):
    path = _templates(tmp_path, body)
    with pytest.raises(ConfigError) as error:
        load_matter_types(path, **AREAS)
    assert str(path) in error.value.reason
    assert message in error.value.reason


def test_the_shipped_examples_load():
    types = load_matter_types(EXAMPLES, **AREAS)
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
    from davportal.core.settings import load_config, settings_of
    from davportal.services.portal import Portal
    from provisioning import templates

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
