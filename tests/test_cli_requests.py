"""`davportal request`: making, reviewing and listing document requests from the command line,
against a real database, with exit codes and messages on the right stream."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner
from sqlalchemy import create_engine, func, select

from davportal.cli import main
from davportal.core.models import AuditEvent, DocumentRequest, Notice, RequestItem

ROOT = Path(__file__).resolve().parents[1]
PASSWORD = "a long password\n"
TEMPLATE_FOLDER = "acme/Client's shared/Requested - Tax return papers"


@pytest.fixture
def cli(fresh_database_url, tmp_path, monkeypatch):
    config = tmp_path / "davportal.yaml"
    config.write_text(yaml.safe_dump({"davportal": {
        "database_url": fresh_database_url, "storage_root": str(tmp_path / "files"),
        "matter_types_file": str(ROOT / "config" / "matter-types.yaml")}}))  # fmt: skip
    monkeypatch.setenv("DAVPORTAL_CONFIG", str(config))
    runner = CliRunner()

    def run(*args, input=None):
        return runner.invoke(main, list(args), input=input)

    run.storage = tmp_path / "files"
    run.url = fresh_database_url
    yield run


@pytest.fixture
def firm(cli):
    """acme and beta (annual tax return): alice (client) and bob (bookkeeper) of acme, carol of beta."""
    for client_id, name in (("acme", "Acme Ltd"), ("beta", "Beta LLP")):
        assert cli("client", "add", client_id, "--name", name, "--matter-type", "annual-tax-return").exit_code == 0
    for login, client_id, kind in (("alice", "acme", "client"), ("bob", "acme", "bookkeeper"),
                                   ("carol", "beta", "client")):  # fmt: skip
        result = cli("contact", "add", login, "--client", client_id, "--participant", kind,
                     "--email", f"{login}@example.com", "--password-stdin", input=PASSWORD)  # fmt: skip
        assert result.exit_code == 0, result.output
    return cli


def _rows(cli, query):
    engine = create_engine(cli.url)
    try:
        with engine.connect() as connection:
            return connection.execute(query).all()
    finally:
        engine.dispose()


def _audit_count(cli) -> int:
    return _rows(cli, select(func.count()).select_from(AuditEvent))[0][0]


def test_help_in_plain_words():
    result = CliRunner().invoke(main, ["request", "--help"])
    assert result.exit_code == 0
    for name in ("create", "send", "list", "show", "accept", "reject", "add-item", "remove-item", "due", "cancel"):
        assert name in result.stdout
    create = CliRunner().invoke(main, ["request", "create", "--help"]).stdout
    assert "NAME|NOTE|FILES" in create and "--from-template annual-tax-return" in create and "--dry-run" in create


def test_from_a_template_then_reviewed_and_changed_item_by_item(firm):
    result = firm("request", "create", "acme", "--from-template", "annual-tax-return", "--due", "2026-01-31")
    assert result.exit_code == 0, result.output
    assert result.stdout == (f"Request 1 'Tax return papers' for acme: 7 item(s), due 2026-01-31, for alice; "
                             f"sent: its folder is {TEMPLATE_FOLDER}.\n")  # fmt: skip
    assert (firm.storage / TEMPLATE_FOLDER / "Bank statements").is_dir()
    assert _rows(firm, select(Notice.recipient_name).where(Notice.request_id == 1)) == [("alice",)]

    listing = firm("request", "list").stdout.splitlines()
    assert listing[0].split() == ["ID", "CLIENT", "TITLE", "DUE", "REQUESTED", "UPLOADED", "ACCEPTED"]
    assert listing[1].split() == ["1", "acme", "Tax", "return", "papers", "2026-01-31", "overdue", "7", "0", "0"]

    # Each change: one commit, with its own audit row.
    for args, said in (
        (("accept", "1", "p60 from your employer"), "'P60 from your employer' of request 1 accepted.\n"),
        (("reject", "1", "Bank statements", "--reason", "the scan is cut off", "--trash"),
         "'Bank statements' of request 1 not accepted: its files are moved to the trash; the client is told why.\n"),
        (("add-item", "1", "Passport", "--note", "Both pages", "--files", "2"), "'Passport' added to request 1"),
        (("remove-item", "1", "Charitable donations"), "'Charitable donations' is no longer asked for in request 1.\n"),
        (("due", "1", "2027-02-28"), "Request 1 is due 2027-02-28.\n"),
    ):  # fmt: skip
        before = _audit_count(firm)
        result = firm("request", *args)
        assert result.exit_code == 0, result.output
        assert result.stdout.startswith(said)
        assert _audit_count(firm) == before + 1

    items = dict(_rows(firm, select(RequestItem.name, RequestItem.status).where(RequestItem.request_id == 1)))
    assert items["P60 from your employer"] == "accepted" and items["Passport"] == "requested"
    assert "Charitable donations" not in items
    shown = firm("request", "show", "1").stdout
    assert "Request 1: Tax return papers" in shown and "for:       alice (participant types: client)" in shown
    assert "due:       2027-02-28" in shown and "not accepted: the scan is cut off" in shown
    assert "0 of 3 file(s)" in shown and "note: Both pages" in shown
    history = shown.split("History:")[1]
    actions = [line.split()[2] for line in history.strip().splitlines()]
    assert actions == ["REQUEST-CREATE", "REQUEST-SEND", "REQUEST-ACCEPT", "REQUEST-REJECT", "REQUEST-CHANGE",
                       "REQUEST-CHANGE", "REQUEST-CHANGE"]  # fmt: skip

    assert firm("request", "due", "1", "--none").stdout == "Request 1 has no due date.\n"
    assert firm("request", "cancel", "1").stdout == "Request 1 'Tax return papers' cancelled; its files are kept.\n"
    assert firm("request", "list").stdout == "No open requests.\n"
    again = firm("request", "cancel", "1")
    assert again.exit_code == 1 and again.stderr == "davportal: 'Tax return papers' is cancelled already.\n"


def test_a_request_written_out_kept_as_a_draft_then_sent(firm):
    result = firm("request", "create", "acme", "--title", "Identity", "--message", "For the bank.",
                  "--item", "Passport||2", "--item", "Utility bill|Less than 3 months old", "--contact", "bob",
                  "--due", "2027-03-01", "--draft")  # fmt: skip
    assert result.exit_code == 0, result.output
    assert result.stdout == ("Request 1 'Identity' for acme: 2 item(s), due 2027-03-01, for bob; kept as a draft: "
                             "send it with `davportal request send 1`.\n")  # fmt: skip
    assert not (firm.storage / "acme" / "Client's shared" / "Requested - Identity").exists()
    assert firm("request", "list").stdout == "No open requests.\n"
    assert _rows(firm, select(RequestItem.name, RequestItem.note, RequestItem.files_expected)
                 .order_by(RequestItem.position)) == [("Passport", None, 2),
                                                      ("Utility bill", "Less than 3 months old", None)]  # fmt: skip

    sent = firm("request", "send", "1")
    assert sent.exit_code == 0, sent.output
    assert sent.stdout == "Request 1 'Identity' sent: its folder is acme/Client's shared/Requested - Identity.\n"
    assert (firm.storage / "acme" / "Client's shared" / "Requested - Identity" / "Utility bill").is_dir()
    assert "for:       bob (participant types: bookkeeper)" in firm("request", "show", "1").stdout


@pytest.mark.parametrize("args, message", [
    (["show", "9"], "There is no request 9."),
    (["accept", "1", "Nothing like it"], "Request 1 has no item 'Nothing like it' (its items: "),
    (["create", "acme", "--title", "X", "--item", "A", "--contact", "carol"], "carol is not a contact of Acme Ltd."),
    (["create", "nope", "--title", "X", "--item", "A"], "There is no client 'nope'."),
    (["create", "acme", "--from-template", "nope"], "There is no request template 'nope'"),
    (["create", "--matter-type", "family-law", "--from-template", "annual-tax-return"],
     "belongs to the matter type 'annual-tax-return', not 'family-law'"),
    (["add-item", "1", "p60 FROM your employer"], "'p60 FROM your employer' is asked for twice."),
])  # fmt: skip
def test_refusals_exit_1_with_the_reason_on_stderr(firm, args, message):
    assert firm("request", "create", "acme", "--from-template", "annual-tax-return").exit_code == 0
    before = _audit_count(firm)
    result = firm("request", *args)
    assert result.exit_code == 1, result.output
    assert message in result.stderr and result.stdout == ""
    assert _audit_count(firm) == before


@pytest.mark.parametrize("args, message", [
    (["create", "acme", "--title", "X"], "at least one --item"),
    (["create", "acme", "--title", "X", "--item", "A|note|none"], "whole number"),
    (["create", "acme", "--title", "X", "--item", "A|b|1|2"], "more than three parts"),
    (["create", "acme", "--title", "X", "--item", "A", "--due", "31/01/2026"], "YYYY-MM-DD"),
    (["create", "acme", "--from-template", "annual-tax-return", "--title", "X"], "leave out --title"),
    (["create", "acme", "--matter-type", "annual-tax-return", "--from-template", "annual-tax-return"], "not CLIENT"),
    (["create", "--matter-type", "annual-tax-return"], "--matter-type takes --from-template"),
    (["create", "acme", "--from-template", "annual-tax-return", "--dry-run"], "--dry-run is for --matter-type"),
    (["reject", "1", "P60"], "--reason"),
    (["due", "1"], "a date (YYYY-MM-DD) or --none"),
    (["add-item", "1", "More", "--files", "0"], "--files"),
])  # fmt: skip
def test_bad_usage_exits_2(firm, args, message):
    result = firm("request", *args)
    assert result.exit_code == 2, result.output
    assert message in result.stderr


def test_every_client_of_a_matter_type_with_a_dry_run_first(firm):
    assert firm("client", "add", "gone", "--name", "Gone Ltd", "--matter-type", "annual-tax-return").exit_code == 0
    assert firm("client", "archive", "gone").exit_code == 0
    assert firm("request", "create", "beta", "--from-template", "annual-tax-return").exit_code == 0
    before = _rows(firm, select(func.count()).select_from(DocumentRequest))

    dry = firm("request", "create", "--matter-type", "annual-tax-return", "--from-template", "annual-tax-return",
               "--due", "2027-01-31", "--dry-run")  # fmt: skip
    assert dry.exit_code == 0, dry.output
    assert dry.stdout.splitlines() == [
        "acme: would get 'Client's shared/Requested - Tax return papers', for alice",
        "beta: skipped, it has request 1 from annual-tax-return already, open or draft",
        "2 client(s) of annual-tax-return: 1 request(s) from annual-tax-return would be made, 1 client(s) skipped.",
    ]
    assert _rows(firm, select(func.count()).select_from(DocumentRequest)) == before
    assert not (firm.storage / TEMPLATE_FOLDER).exists()

    done = firm("request", "create", "--matter-type", "annual-tax-return", "--from-template", "annual-tax-return",
                "--due", "2027-01-31")  # fmt: skip
    assert done.exit_code == 0, done.output
    assert done.stderr.splitlines() == [
        "[1/2] acme: request 2 in 'Client's shared/Requested - Tax return papers', for alice",
        "[2/2] beta: skipped, it has request 1 from annual-tax-return already, open or draft",
    ]
    assert done.stdout.splitlines() == [
        "beta: skipped, it has request 1 from annual-tax-return already, open or draft",
        "2 client(s) of annual-tax-return: 1 request(s) from annual-tax-return made, 1 client(s) skipped.",
    ]
    assert (firm.storage / TEMPLATE_FOLDER / "Signed engagement letter").is_dir()
    listed = [line.split()[:2] for line in firm("request", "list", "--matter-type", "annual-tax-return").stdout
              .splitlines()[1:]]  # fmt: skip
    assert sorted(listed) == [["1", "beta"], ["2", "acme"]]


def test_list_filters_and_pages_through_everything(firm):
    csv = firm.storage.parent / "clients.csv"
    csv.write_text("id,name,matter_type,contact_login\n" + "".join(
        f"c{n:02},Client {n},annual-tax-return,contact{n:02}\n" for n in range(53)))  # fmt: skip
    assert firm("client", "import", str(csv)).exit_code == 0
    assert firm("staff", "add", "sam", "--password-stdin", input=PASSWORD).exit_code == 0
    assert firm("client", "assign", "c07", "sam").exit_code == 0
    result = firm("request", "create", "--matter-type", "annual-tax-return", "--from-template", "annual-tax-return",
                  "--due", "2027-01-31")  # fmt: skip
    assert result.exit_code == 0, result.output
    assert firm("request", "create", "acme", "--title", "Overdue", "--item", "A", "--due", "2020-01-01").exit_code == 0

    first = firm("request", "list").stdout.splitlines()
    assert len(first) == 1 + 50 + 1 and first[-1] == "50 of 56 shown: --all lists every one."
    assert first[1].split()[1:4] == ["acme", "Overdue", "2020-01-01"] and "overdue" in first[1]
    everything = firm("request", "list", "--all").stdout.splitlines()
    assert len(everything) == 1 + 56
    assert len({line.split()[0] for line in everything[1:]}) == 56
    assert [line.split()[1] for line in firm("request", "list", "--overdue").stdout.splitlines()[1:]] == ["acme"]
    assert [line.split()[1] for line in firm("request", "list", "--staff", "sam").stdout.splitlines()[1:]] == ["c07"]
    assert [line.split()[1] for line in firm("request", "list", "--client", "client 5").stdout.splitlines()[1:]] == [
        "c05", "c50", "c51", "c52"]  # fmt: skip
    assert len(firm("request", "list", "--due-before", "2027-01-31").stdout.splitlines()) == 1 + 1
    assert firm("request", "list", "--client", "nobody").stdout == "No open request matches.\n"
