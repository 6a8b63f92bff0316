"""`davportal`: run the portal and manage its clients, contacts and staff.

Each command parses, calls one service function, prints. Exit 0 on success, 1 with the reason
on stderr when the operation is refused, 2 on bad usage.
"""

from __future__ import annotations

import asyncio
import functools
import getpass
import logging
import os
import sys
import time
import traceback
from datetime import date, datetime, timedelta, timezone

import click

from davportal.app import check_port, wsgidav_config
from davportal.core.errors import NotFound, PortalError
from davportal.core.models import Account, RequestItem
from davportal.core.outages import Unreachable, database_at, outage_of, without_secrets
from davportal.core.paths import split_path
from davportal.core.settings import CONFIG_ENV, load_config, settings_of
from davportal.demo import create_demo_firm
from davportal.notifications import events, outbox
from davportal.notifications.worker import send_round
from davportal.progress import progress
from davportal.server import serve as run_server
from davportal.services import (
    account_links,
    audit,
    documents,
    placing,
    sharing,
    trash,
    two_factor,
    versions,
)
from davportal.services import requests as document_requests
from davportal.services.authentication import unblock
from davportal.services.portal import Portal
from davportal.services.request import RequestContext
from policy import Actor, Role, Target
from policy.model import DEFAULT_PARTICIPANT_TYPE
from policy.names import human_size
from policy.requests import RequestStatus, is_overdue
from provisioning import accounts, clients, erasure, importer, templates
from provisioning.matter_types import PushRecord, describe_rule, folder_rules, rule_changes

_config_option = click.option(
    "--config",
    "config_path",
    type=click.Path(dir_okay=False),
    envvar=CONFIG_ENV,
    help=f"Config file (YAML). Also read from {CONFIG_ENV}; without either, the embedded "
    "defaults are used with ./davportal-data/.",
)


def command(group, name=None, **kwargs):
    """A subcommand that takes --config and turns a refused operation, or a database,
    folder or port it cannot use, into one line on stderr and exit 1 (the traceback too with
    `davportal --debug`)."""

    def wrap(fn):
        @group.command(name, **kwargs)
        @_config_option
        @functools.wraps(fn)
        def run(config_path, **params):
            config, source = {}, "config"
            try:
                config, source = load_config(config_path)
                return fn(config, source, **params)
            except (click.ClickException, click.exceptions.Exit, click.Abort):
                raise  # usage errors and the like: click's own words, exit 2
            except Exception as exc:
                if click.get_current_context().find_root().params.get("debug"):
                    traceback.print_exception(exc)
                click.echo(f"davportal: {one_line(exc, config, source)}", err=True)
                sys.exit(1)

        return run

    return wrap


def one_line(exc: Exception, config: dict, source: str) -> str:
    """What went wrong, in one line an admin can act on, naming what and where; no password."""
    try:
        settings = settings_of(config, source)
    except PortalError:
        settings = None
    outage = None if isinstance(exc, PortalError) else outage_of(exc)
    if isinstance(exc, PortalError):
        line = exc.reason
    elif outage is not None:
        line = outage.line(database_at(settings.database_url) if settings else "")
    elif isinstance(exc, OSError) and exc.strerror:
        line = f"{exc.strerror}: {exc.filename}" if exc.filename else exc.strerror
    else:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        what = f"{type(exc).__name__}: {first}" if first else type(exc).__name__
        line = f"unexpected error ({what}); `davportal --debug` shows where"
    return without_secrets(line, settings.mail.password if settings else None)


def _portal(config, source):
    return Portal(settings_of(config, source))


def _password(password_stdin: bool) -> str:
    if password_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    if not sys.stdin.isatty():
        raise click.UsageError("No terminal to ask for the password: pass it with --password-stdin.")
    return click.prompt("Password", hide_input=True, confirmation_prompt=True)


_password_stdin = click.option("--password-stdin", is_flag=True, help="Read the password from standard input.")
_name_option = click.option("--name", help='The display name emails and pages use, e.g. "Alice Martin".')
_invite_option = click.option(
    "--invite", is_flag=True, help="Email a link to choose a password (needs --email); no password is asked."
)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--debug", is_flag=True, help="On an error, show the full traceback before the one-line reason.")
@click.version_option(package_name="davportal")
def main(debug):
    """davportal: the client document portal, served over WebDAV."""


@command(main)
def init(config, source):
    """Create the database schema and the storage folder (safe to re-run)."""
    portal = _portal(config, source)
    click.echo(f"Database ready: {portal.engine.url.render_as_string(hide_password=True)}")
    click.echo(f"Storage ready: {portal.storage.root}")


@command(main)
@click.option("--host", help="Address to listen on (default from the config: 127.0.0.1).")
@click.option("--port", type=int, help="Port to listen on, 0 to 65535 (default from the config: 8080).")
@click.option("--demo", is_flag=True, help="Also create a demo firm and print its logins.")
@click.option(
    "--workers",
    type=click.IntRange(min=1),
    default=lambda: len(os.sched_getaffinity(0)),
    show_default="one per core",
    help="Processes serving the port, each with server_args.numthreads threads; 1: this process alone.",
)
def serve(config, source, host, port, demo, workers):
    """Serve the portal over WebDAV."""
    if port is not None:
        check_port(port, "--port")
    config = wsgidav_config(config)
    config["host"] = host or config["host"]
    config["port"] = port if port is not None else config["port"]
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s [%(process)d] %(name)s: %(message)s")
    logins = create_demo_firm(_portal(config, source)) if demo else []

    def ready(url):
        processes = f", {workers} worker processes" if workers > 1 else ""
        click.echo(f"davportal is serving {url} (config: {source}{processes}). Stop with Ctrl-C.")
        if logins:
            click.echo("\nDemo firm: map the URL above as a network drive and sign in as")
            for entry in logins:
                click.echo(f"  {entry.login:<8} password {entry.password:<14} {entry.who}")
        sys.stdout.flush()

    run_server(config, source, on_ready=ready, workers=workers)


@main.group()
def staff():
    """The firm's staff."""


@command(staff, "add")
@click.argument("login")
@click.option("--admin", is_flag=True, help="May also run the admin commands.")
@click.option("--email", help="Where they hear of their clients' uploads (and get their invitation).")
@_name_option
@_invite_option
@_password_stdin
def staff_add(config, source, login, admin, email, name, invite, password_stdin):
    """Add a staff login."""
    portal = _portal(config, source)
    password = None if invite else _password(password_stdin)
    with portal.sessions.begin() as session:
        accounts.add_staff(session, login, password=password, admin=admin, email=email, name=name,
                           min_length=portal.settings.accounts.password_min_length,
                           actor=command_line_actor())  # fmt: skip
        if invite:
            account_links.invite(session, portal.settings, login, actor=command_line_actor())
    click.echo(f"Added staff {login}{' (admin)' if admin else ''}.{_invited(invite, email)}")


@command(staff, "invite")
@click.argument("login")
def staff_invite(config, source, login):
    """Email a staff login a new link to choose their password (an earlier link stops working)."""
    _send_invitation(config, source, login)


@command(staff, "list")
def staff_list(config, source):
    """List staff logins."""
    _print_accounts(_portal(config, source), Role.STAFF)


@command(staff, "set-admin")
@click.argument("login")
@click.option("--off", is_flag=True, help="Take admin away (never from the last enabled admin).")
def staff_set_admin(config, source, login, off):
    """Make a member of staff admin (they may run the admin console), or not with --off."""
    portal = _portal(config, source)
    with portal.sessions.begin() as session:
        changed = accounts.set_admin(session, login, not off, actor=command_line_actor())
    state = "is no longer admin" if off else "is now admin"
    click.echo(f"{login} {state}{'' if changed else ' (already so)'}.")


@main.group()
def client():
    """The firm's clients and their folders."""


@command(client, "add")
@click.argument("client_id")
@click.option("--name", required=True, help="The client's display name.")
@click.option("--matter-type", "type_id", help="Give the client this matter type's folders too.")
def client_add(config, source, client_id, name, type_id):
    """Add a client and create its folders."""
    portal = _portal(config, source)
    matter_type = portal.matter_types.require(type_id) if type_id else None
    with portal.sessions.begin() as session:
        _, created = clients.add_client(session, portal.storage, client_id, name=name, folders=_area_folders(portal),
                                        matter_type=matter_type, actor=command_line_actor())  # fmt: skip
    made = f" with folders: {', '.join(created)}" if created else " (folders already there)"
    click.echo(f"Client {client_id} ({name}) ready{made}.")


@command(client, "set-type")
@click.argument("client_id")
@click.argument("type_id", metavar="MATTER_TYPE")
def client_set_type(config, source, client_id, type_id):
    """Change a client's matter type: its missing folders are added, nothing is deleted."""
    portal = _portal(config, source)
    matter_type = portal.matter_types.require(type_id)
    with portal.sessions.begin() as session:
        report = clients.set_type(session, portal.storage, client_id, matter_type, actor=command_line_actor())
    click.echo(report.summary())
    if report.conflicts:
        sys.exit(1)


@command(client, "list")
@click.option("--archived", "only_archived", is_flag=True, help="Only archived clients.")
@click.option("--all", "include_archived", is_flag=True, help="Archived clients too.")
@click.option("--search", help="Only clients whose id or name contains this (any case).")
def client_list(config, source, only_archived, include_archived, search):
    """List clients (archived ones are left out unless asked for)."""
    if only_archived and include_archived:
        raise click.UsageError("--archived and --all cannot be used together.")
    portal = _portal(config, source)
    with portal.sessions() as session:
        rows = clients.list_clients(session, search=search, include_archived=include_archived,
                                    only_archived=only_archived)  # fmt: skip
    for row in rows:
        archived = "\tarchived" if row.archived else ""
        click.echo(f"{row.id}\t{row.name}\t{row.matter_type or '-'}\t{row.contacts} contact(s){archived}")


@command(client, "archive")
@click.argument("client_id")
def client_archive(config, source, client_id):
    """Archive a client who left: its contacts lose access, staff keep its folders, lists leave it out."""
    portal = _portal(config, source)
    with portal.sessions.begin() as session:
        changed = clients.archive(session, client_id, actor=command_line_actor())
    click.echo(f"{client_id} {'is now archived' if changed else 'was already archived'}.")


@command(client, "unarchive")
@click.argument("client_id")
def client_unarchive(config, source, client_id):
    """Bring an archived client back: its contacts have access again."""
    portal = _portal(config, source)
    with portal.sessions.begin() as session:
        changed = clients.unarchive(session, client_id, actor=command_line_actor())
    click.echo(f"{client_id} {'is no longer archived' if changed else 'was not archived'}.")


@command(client, "erase")
@click.argument("client_id")
@click.option("--dry-run", is_flag=True, help="List what would be erased; change nothing.")
@click.option("--yes", is_flag=True, help="Do not ask to type the client's id (for scripts).")
def client_erase(config, source, client_id, dry_run, yes):
    """Erase a client for good: files, versions, trash, records and the contacts of no other client.

    The audit trail keeps its rows, with the erased contacts' logins replaced by a pseudonym, and
    records the erasure. Without --yes it asks to type the client's id. Safe to run again after
    an interruption: it finishes the job.
    """
    portal = _portal(config, source)
    with portal.sessions() as session:
        found = erasure.plan(session, portal.storage, client_id)
    if dry_run:
        click.echo(f"Would erase {client_id}:")
        for line in found.lines():
            click.echo(f"  {line}")
        return
    if not yes:
        if not sys.stdin.isatty():
            raise click.UsageError("No terminal to confirm the erasure: pass --yes (after --dry-run).")
        for line in found.lines():
            click.echo(f"  {line}")
        typed = click.prompt(f"This cannot be undone. Type {client_id} to erase it", default="", show_default=False)
        if typed.strip() != client_id:
            click.echo(f"davportal: '{typed.strip()}' is not '{client_id}': nothing was erased.", err=True)
            sys.exit(1)
    with progress(found.steps, f"Erasing {client_id}") as reporter:
        done = erasure.erase(portal.sessions, portal.storage, client_id, actor=command_line_actor(),
                             on_step=lambda line: reporter.step())  # fmt: skip
    pseudonymised = " (named by a pseudonym in the audit trail from now on)" if done.contacts_erased else ""
    click.echo(f"Erased {client_id}: {done.summary()}{pseudonymised}.")


@command(client, "import")
@click.argument("csv_file", type=click.Path(dir_okay=False))
@click.option("--skip-invalid", is_flag=True, help="Import the good rows even if some are bad.")
@click.option("--dry-run", is_flag=True, help="Check the file and report; change nothing.")
@click.option("--invite", is_flag=True, help="Email each new contact a link to choose their password.")
def client_import(config, source, csv_file, skip_invalid, dry_run, invite):
    """Add clients (and their first contact) from a CSV file.

    Columns: id, name, matter_type, contact_login, contact_email, existing_contact, contact_name
    (a header row names them; only id and name are required). Imported contacts have no password
    until they follow their invitation (--invite, or `contact invite` later) or `davportal passwd`.

    A contact_login that already exists (or is on an earlier row) is a bad row, unless the row
    sets existing_contact to yes and gives that contact's email as on record: the contact then
    belongs to this client too.
    """
    portal = _portal(config, source)
    with portal.sessions() as session:
        rows, bad = importer.read(csv_file, session, portal.matter_types, invite=invite)
    for problem in bad:
        click.echo(f"{csv_file}, line {problem.line}: {problem.reason}", err=True)
    if bad and not skip_invalid:
        click.echo(f"davportal: {len(bad)} bad row(s): nothing imported (fix them, or --skip-invalid).", err=True)
        sys.exit(1)
    if dry_run:
        click.echo(f"{len(rows)} row(s) would be imported{f', {len(bad)} skipped' if bad else ''}.")
        return
    actor = command_line_actor()

    def send(session, login):
        account_links.invite(session, portal.settings, login, actor=actor)

    with progress(len(rows), "Importing clients") as reporter:
        outcome = importer.import_rows(portal.sessions, portal.storage, rows, portal.matter_types,
                                       _area_folders(portal), actor=actor, on_row=lambda row: reporter.step(),
                                       invite=send if invite else None)  # fmt: skip
    joined = outcome.contacts_joined
    click.echo(f"{outcome.clients_created} client(s) created, {outcome.clients_unchanged} already there, "
               f"{outcome.contacts_created} contact(s) created, {outcome.folders_created} folder(s) created"
               f"{f', {joined} existing contact(s) added to a client' if joined else ''}"
               f"{f', {outcome.contacts_invited} invitation(s) queued' if invite else ''}"
               f"{f', {len(bad)} bad row(s) skipped' if bad else ''}.")  # fmt: skip


@main.group("matter-type")
def matter_type_group():
    """Matter types: the folder templates clients are given."""


@command(matter_type_group, "list")
def matter_type_list(config, source):
    """List the matter types, their folders and each folder's rule."""
    portal = _portal(config, source)
    if not portal.matter_types:
        click.echo("No matter types: set davportal.matter_types_file in the config.")
    for matter_type in portal.matter_types.values():
        count = templates.count_clients(portal.sessions, matter_type)
        click.echo(f"{matter_type.id}\t{matter_type.name}\t{count} client(s)")
        for folder, rule in folder_rules(matter_type).items():
            click.echo(f"  {folder}\t{describe_rule(rule)}")


@command(matter_type_group, "push")
@click.argument("type_id", metavar="MATTER_TYPE")
@click.option("--dry-run", is_flag=True, help="Report what would be created; change nothing.")
def matter_type_push(config, source, type_id, dry_run):
    """Give every client of a matter type the template's folders it lacks.

    Never deletes, renames or overwrites anything; exits 1 when some folder was left alone
    (a conflict). Safe to interrupt and run again. Rules need no push: every node uses the file
    as saved at its next request. The push says what changed in them since the last push.
    """
    portal = _portal(config, source)
    matter_type = portal.matter_types.require(type_id)
    record = PushRecord(portal.settings.matter_types_file)
    _say_rule_changes(matter_type, record.last(type_id))
    total = templates.count_clients(portal.sessions, matter_type)
    with progress(total, f"Pushing {type_id}") as reporter:

        def on_client(report):
            reporter.say(("(dry run) " if dry_run else "") + report.summary())
            reporter.step()

        done = templates.push(portal.sessions, portal.storage, matter_type, dry_run=dry_run,
                              actor=command_line_actor(), record=record, on_client=on_client)  # fmt: skip
    conflicts = len(done.conflicts)
    verb = "would be created" if dry_run else "created"
    if done.created == 0 and conflicts == 0:
        click.echo(f"Nothing to create: all {len(done.reports)} client(s) of {type_id} have every folder.")
    else:
        click.echo(f"{len(done.reports)} client(s): {done.created} folder(s) {verb}, {conflicts} conflict(s).")
    if done.unrecorded:
        click.echo(f"davportal: {done.unrecorded}", err=True)
    if conflicts:
        sys.exit(1)


def _say_rule_changes(matter_type, before) -> None:
    # The rules took effect when the file was saved; this is for the admin to check, not a step.
    if before is None:
        click.echo(f"No earlier push of {matter_type.id} recorded. Its rules, in use since the file was saved:")
        for folder, rule in folder_rules(matter_type).items():
            click.echo(f"  {matter_type.name}: '{folder}' {describe_rule(rule)}")
        return
    changes = rule_changes(before, matter_type)
    if not changes:
        click.echo(f"No folder or rule changed since the last push of {matter_type.id}.")
        return
    click.echo(f"Changed since the last push of {matter_type.id} (rules in use since the file was saved):")
    for line in changes:
        click.echo(f"  {line}")


def _area_folders(portal) -> tuple[str, str]:
    return (portal.settings.folders.team_shared, portal.settings.folders.client_shared)


@main.group()
def contact():
    """Clients' portal users."""


@command(contact, "add")
@click.argument("login")
@click.option("--client", "client_id", required=True, help="The client this contact belongs to.")
@click.option("--email", help="Where the contact is notified (and gets their invitation).")
@click.option(
    "--participant",
    default=DEFAULT_PARTICIPANT_TYPE,
    show_default=True,
    help="The contact's participant type for this client (e.g. accountant).",
)
@_name_option
@_invite_option
@_password_stdin
def contact_add(config, source, login, client_id, email, participant, name, invite, password_stdin):
    """Add a contact to a client (again with another client: the contact then has both)."""
    portal = _portal(config, source)
    with portal.sessions.begin() as session:
        existing = session.get(Account, login)
        password = None if existing is not None or invite else _password(password_stdin)
        accounts.add_contact(session, login, client_id=client_id, password=password, email=email,
                             participant_type=participant, name=name, actor=command_line_actor(),
                             min_length=portal.settings.accounts.password_min_length)  # fmt: skip
        # A contact who already chose a password is not sent a link that would replace it.
        invite = invite and (existing is None or existing.password_hash is None)
        if invite:
            account_links.invite(session, portal.settings, login, actor=command_line_actor())
        address = session.get(Account, login).email
    click.echo(f"Contact {login} belongs to {client_id} as {participant}.{_invited(invite, address)}")


@command(contact, "invite")
@click.argument("login")
def contact_invite(config, source, login):
    """Email a contact a link to choose their password (an earlier link stops working)."""
    _send_invitation(config, source, login)


@command(contact, "resend")
@click.argument("login")
def contact_resend(config, source, login):
    """Send a contact's invitation again, with a new link (the earlier one stops working)."""
    _send_invitation(config, source, login)


def _send_invitation(config, source, login: str) -> None:
    portal = _portal(config, source)
    with portal.sessions.begin() as session:
        account_links.invite(session, portal.settings, login, actor=command_line_actor())
        address = session.get(Account, login).email
    click.echo(f"Invitation for {login} queued to {address}; the link works for "
               f"{portal.settings.accounts.invite_hours:g} hours.")  # fmt: skip


def _invited(invite: bool, address: str | None) -> str:
    return f" Invitation queued to {address}." if invite else ""


@command(contact, "remove")
@click.argument("login")
@click.option("--client", "client_id", required=True, help="The client the contact no longer belongs to.")
def contact_remove(config, source, login, client_id):
    """Take a contact off one client: their access to it ends at once; their other clients stay."""
    portal = _portal(config, source)
    with portal.sessions.begin() as session:
        accounts.remove_from_client(session, login, client_id, actor=command_line_actor())
    click.echo(f"{login} no longer belongs to {client_id}.")


@command(contact, "list")
def contact_list(config, source):
    """List contacts and their clients."""
    _print_accounts(_portal(config, source), Role.CONTACT)


@command(main)
@click.argument("login")
@_password_stdin
def passwd(config, source, login, password_stdin):
    """Set a login's password."""
    portal = _portal(config, source)
    password = _password(password_stdin)
    with portal.sessions.begin() as session:
        accounts.set_password(session, login, password, actor=command_line_actor(),
                              min_length=portal.settings.accounts.password_min_length)  # fmt: skip
    click.echo(f"Password of {login} changed.")


@main.group()
def user():
    """Any login, staff or contact."""


@command(user, "unblock")
@click.argument("login")
def user_unblock(config, source, login):
    """Let a login sign in again at once, after failed attempts spaced it out."""
    portal = _portal(config, source)
    with portal.sessions.begin() as session:
        networks = unblock(session, login, actor=command_line_actor())
        account = session.get(Account, login)
        disabled = account is not None and account.disabled
    if disabled:
        click.echo(f"{login}'s failed sign-ins are forgotten ({networks} network(s) were waiting), but {login} is "
                   f"still disabled: it cannot sign in until `davportal user enable {login}`.")  # fmt: skip
        return
    click.echo(f"{login} may sign in again ({networks} network(s) were waiting).")


@command(user, "name")
@click.argument("login")
@click.argument("name")
def user_name(config, source, login, name):
    """Set the display name emails and pages use ("" leaves the login alone)."""
    portal = _portal(config, source)
    with portal.sessions.begin() as session:
        accounts.set_name(session, login, name, actor=command_line_actor())
    click.echo(f"{login} is now called {' '.join(name.split())}." if name.strip() else f"{login} has no name now.")


@user.group("2fa")
def user_two_factor():
    """Two-factor sign-in."""


@command(user_two_factor, "reset")
@click.argument("login")
def user_two_factor_reset(config, source, login):
    """Turn two-factor sign-in off for a login (a lost phone): they set it up again at next sign-in."""
    portal = _portal(config, source)
    with portal.sessions.begin() as session:
        was_on = two_factor.reset(session, login, actor=command_line_actor())
    click.echo(f"Two-factor sign-in for {login} {'is now off' if was_on else 'was not on'}.")


@command(user, "app-passwords")
@click.argument("login")
@click.option("--revoke", "revoke_id", type=int, help="Revoke this app password (its id).")
def user_app_passwords(config, source, login, revoke_id):
    """List a login's app passwords (name, created, last used), or revoke one."""
    portal = _portal(config, source)
    with portal.sessions.begin() as session:
        if revoke_id is not None:
            two_factor.revoke_app_password(session, login, revoke_id, actor=command_line_actor())
            click.echo(f"App password {revoke_id} of {login} revoked.")
            return
        apps = two_factor.list_app_passwords(session, login)
    if not apps:
        click.echo(f"{login} has no app passwords.")
    for app in apps:
        last = app.last_used_at.isoformat(timespec="seconds") if app.last_used_at else "never used"
        click.echo(f"{app.id}\t{app.name}\t{app.created_at.isoformat(timespec='seconds')}\t{last}")


@command(user, "disable")
@click.argument("login")
def user_disable(config, source, login):
    """Disable a login: it is refused from the next request on."""
    portal = _portal(config, source)
    with portal.sessions.begin() as session:
        changed = accounts.disable(session, login, actor=command_line_actor())
    click.echo(f"{login} {'is now disabled' if changed else 'was already disabled'}.")


@command(user, "enable")
@click.argument("login")
def user_enable(config, source, login):
    """Enable a disabled login again: it signs in with the password it had."""
    portal = _portal(config, source)
    with portal.sessions.begin() as session:
        changed = accounts.enable(session, login, actor=command_line_actor())
    click.echo(f"{login} {'is enabled again' if changed else 'was not disabled'}.")


def _print_accounts(portal, role: Role) -> None:
    with portal.sessions() as session:
        rows = accounts.list_accounts(session, role)
    for row in rows:
        flags = [f for f, on in (("admin", row.is_admin), ("disabled", row.disabled)) if on]
        extra = [", ".join(row.clients)] if role is Role.CONTACT else []
        if role is Role.CONTACT:
            extra.append(row.email or "-")
        click.echo("\t".join([row.login, *extra, ",".join(flags)]).rstrip())


@command(main)
@click.argument("client_id")
@click.argument("path")
@click.argument("text")
def describe(config, source, client_id, path, text):
    """Give a document a description the client sees (at most 500 characters; "" removes it)."""
    portal, actor = _portal(config, source), command_line_actor()
    target = portal.storage.target(_parts(client_id, path))
    with portal.sessions.begin() as session:
        sharing.describe(session, portal.rules_for(client_id), actor, target, text)
        audit.record(session, actor, "DESCRIBE", target, "description set" if text else "description removed")
    click.echo(f"Description of {client_id}/{path.strip('/')} {'set' if text else 'removed'}.")


@command(main)
@click.argument("client_id")
@click.argument("path")
@click.option("--off", is_flag=True, help="Stop sharing it.")
def share(config, source, client_id, path, off):
    """Share a file from a private folder: the client sees it, read-only, in Team's shared."""
    portal, actor = _portal(config, source), command_line_actor()
    target = portal.storage.target(_parts(client_id, path))
    with portal.sessions.begin() as session:
        changed = sharing.share(session, portal.settings, portal.rules_for(client_id), actor, target, not off)
        if changed:
            audit.record(session, actor, "UNSHARE" if off else "SHARE", target, "share toggle")
    state = "no longer shared" if off else "shared with the client"
    click.echo(f"{client_id}/{path.strip('/')} is {state}{'' if changed else ' (it already was)'}.")


def command_line_actor() -> Actor:
    """The admin at the command line: staff, named after the system user, in the audit trail."""
    return Actor(f"cli:{getpass.getuser()}", Role.STAFF, is_admin=True)


def _parts(client_id: str, path: str) -> tuple[str, ...]:
    return (client_id, *split_path(path))


@command(main)
@click.argument("client_id")
@click.argument("path")
def seen(config, source, client_id, path):
    """Which contacts downloaded a document, and when first."""
    portal = _portal(config, source)
    portal.storage.target(_parts(client_id, path))  # a document that is not there is refused
    below = path.strip("/")
    folder, _, name = below.rpartition("/")
    with portal.sessions() as session:
        downloads = documents.seen_in(session, client_id, folder).get(name, [])
    if not downloads:
        click.echo(f"No contact has downloaded {client_id}/{below} yet.")
    for login, first in downloads:
        click.echo(f"{login}\t{first.isoformat(timespec='seconds')}")


@command(main, "audit")
@click.option("--client", "client_id", help="Only this client.")
@click.option("--user", "login", help="Only this login.")
@click.option("--path", help="Only this document or folder (everything in it), below the client's folder.")
@click.option("--action", help="Only this action (GET, PUT, DELETE, SHARE, ERASE...).")
@click.option(
    "--since",
    callback=lambda _c, _p, value: _moment(value, "--since"),
    help="Only from this moment on: YYYY-MM-DD or YYYY-MM-DDTHH:MM[:SS], UTC.",
)
@click.option(
    "--until",
    callback=lambda _c, _p, value: _moment(value, "--until", end_of_day=True),
    help="Only until this moment (a date alone: to the end of that day), UTC.",
)
@click.option("--format", "fmt", type=click.Choice(["table", "csv", "json"]), default="table", show_default=True)
def audit_trail(config, source, client_id, login, path, action, since, until, fmt):
    """Who read or changed what, and when."""
    portal = _portal(config, source)
    with portal.sessions() as session:
        rows = audit.events(session, client_id=client_id, login=login, path=path, action=action, since=since,
                            until=until)  # fmt: skip
    render = {"table": audit.as_table, "csv": audit.as_csv, "json": audit.as_json}[fmt]
    click.echo(render(rows))


def _moment(value: str | None, option: str, *, end_of_day: bool = False) -> datetime | None:
    if not value:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(f"'{value}' is not a date (YYYY-MM-DD) or a moment (YYYY-MM-DDTHH:MM).",
                                 param_hint=option) from None  # fmt: skip
    if end_of_day and len(value) == len("YYYY-MM-DD"):
        moment += timedelta(days=1)  # the whole of that day
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


@main.group("trash")
def trash_group():
    """Deleted documents, kept for the retention period."""


@command(trash_group, "list")
@click.option("--client", "client_id", help="Only this client.")
def trash_list(config, source, client_id):
    """List what is in the trash."""
    portal = _portal(config, source)
    with portal.sessions() as session:
        items = trash.list_items(session, client_id)
    for item in items:
        kind = "folder" if item.is_folder else "file"
        click.echo(f"{item.id}\t{item.deleted_at.isoformat(timespec='seconds')}\t{item.deleted_by}\t"
                   f"{kind}\t{item.client_id}/{item.path}")  # fmt: skip


@command(trash_group, "restore")
@click.argument("item_id", type=int)
def trash_restore(config, source, item_id):
    """Put a deleted document back (beside the original name if that is taken)."""
    portal = _portal(config, source)
    with portal.sessions.begin() as session:
        restored = trash.restore(session, portal.storage, item_id, actor=command_line_actor())
    click.echo(f"Restored to {restored.client_id}/{restored.path}.")


@command(trash_group, "purge")
@click.option("--older-than", "days", type=float, help="Days in the trash (default: the retention period).")
@click.option("--item", "item_id", type=int, help="Only this item (its id), whatever its age.")
@click.option("--dry-run", is_flag=True, help="Only say what would go.")
def trash_purge(config, source, days, item_id, dry_run):
    """Delete for good what has been in the trash longer than the retention period, or one item."""
    if item_id is not None and days is not None:
        raise click.UsageError("Give --item or --older-than, not both.")
    portal = _portal(config, source)
    verb = "Would purge" if dry_run else "Purged"
    with portal.sessions.begin() as session:
        if item_id is not None:
            item = trash.find(session, item_id)
            if not dry_run:
                trash.purge_item(session, portal.storage, item_id, actor=command_line_actor())
            click.echo(f"{verb} {item.client_id}/{item.path} for good.")
            return
        days = portal.settings.trash.retention_days if days is None else days
        older_than = timedelta(days=days)
        if dry_run:
            count = trash.count_older(session, older_than=older_than)
        else:
            count = trash.purge(session, portal.storage, older_than=older_than, actor=command_line_actor())
    click.echo(f"{verb} {count} item(s) deleted more than {days:g} day(s) ago.")


@main.group("versions")
def versions_group():
    """Earlier versions of files, kept each time a file is saved over."""


@command(versions_group, "list")
@click.argument("client_id")
@click.argument("path")
def versions_list(config, source, client_id, path):
    """List a file's earlier versions, newest first."""
    portal, parts = _portal(config, source), _parts(client_id, path)
    with portal.sessions() as session:
        found = versions.of_document(session, client_id, "/".join(parts[1:]))
    if not found:
        click.echo(f"{client_id}/{'/'.join(parts[1:])} has no earlier versions.")
    for version in found:
        click.echo(f"{version.id}\t{version.written_at.isoformat(timespec='seconds')}\t{version.written_by or '?'}\t"
                   f"{human_size(version.size)}\treplaced {version.replaced_at.isoformat(timespec='seconds')} "
                   f"by {version.replaced_by or '?'}")  # fmt: skip


@command(versions_group, "restore")
@click.argument("client_id")
@click.argument("path")
@click.argument("version_id", type=int)
def versions_restore(config, source, client_id, path, version_id):
    """Make an earlier version the file again; what it replaces is kept as a version too."""
    portal, actor, parts = _portal(config, source), command_line_actor(), _parts(client_id, path)
    context = RequestContext(portal, actor=actor)
    session = context.session
    try:
        version = placing.restore(context, parts, version_id)
        audit.record(session, actor, "RESTORE", Target(parts, exists=True), f"version {version_id}")
        session.commit()
    finally:
        session.close()
    when = version.written_at.isoformat(timespec="seconds")
    click.echo(f"Restored {client_id}/{'/'.join(parts[1:])} as saved {when} by {version.written_by or '?'}; "
               "what it replaced is kept as an earlier version.")  # fmt: skip


@command(versions_group, "purge")
@click.option("--dry-run", is_flag=True, help="Only say how many would go.")
def versions_purge(config, source, dry_run):
    """Remove earlier versions beyond the retention (versions.keep per file, versions.keep_days)."""
    portal = _portal(config, source)
    settings = portal.settings.versions
    with portal.sessions() as session:
        count = versions.purge(session, portal.storage, versions.Retention(settings.keep, settings.keep_days),
                               dry_run=dry_run)  # fmt: skip
        session.commit()
    verb = "Would purge" if dry_run else "Purged"
    age = f", none older than {settings.keep_days:g} days" if settings.keep_days else ""
    click.echo(f"{verb} {count} earlier version(s) (keeping {settings.keep} per file{age}).")


@main.group("notify")
def notify_group():
    """Email notifications: the outbox and its sender."""


@command(notify_group, "run")
@click.option("--once", is_flag=True, help="One round (compose what is due, send what is due), then exit.")
def notify_run(config, source, once):
    """Send notifications: as a separate process, or from cron with --once."""
    portal = _portal(config, source)
    if portal.settings.mail.host is None:
        raise click.UsageError("No mail server configured: set davportal.mail.host in the config.")
    mail = portal.settings.mail
    while True:
        result = asyncio.run(send_round(portal))
        delivery = result.delivery
        if result.composed or delivery.sent or delivery.retried or delivery.failed:
            click.echo(f"{result.composed} composed, {delivery.sent} sent, {delivery.retried} to retry, "
                       f"{delivery.failed} failed")  # fmt: skip
        if delivery.unreachable and not delivery.sent:
            problem = f"cannot reach the mail server at {mail.host}:{mail.port} ({delivery.unreachable})"
            if once:
                raise Unreachable(f"{problem}; the emails wait in the outbox.")
            click.echo(f"davportal: {problem}; trying again.", err=True)
        if once:
            return
        time.sleep(min(10.0, max(0.5, portal.settings.notifications.digest_seconds / 4)))


@command(notify_group, "status")
def notify_status(config, source):
    """Pending, sent and failed emails (the failed and pending ones listed), and who hears of each client's uploads."""
    portal = _portal(config, source)
    settings = portal.settings
    with portal.sessions() as session:
        found = outbox.listing(session)
        heard = events.who_hears_of_uploads(session, settings.notifications)
    statuses = (outbox.PENDING, outbox.SENT, outbox.FAILED)
    click.echo(", ".join(f"{found.counts.get(status, 0)} {status}" for status in statuses))
    if found.waiting:
        notices = sum(waiting.notices for waiting in found.waiting)
        click.echo(f"{len(found.waiting)} of the pending not yet composed: {notices} notice(s) waiting for "
                   "their recipient's digest")  # fmt: skip
    for message in found.messages:
        if message.status == outbox.SENT:
            continue
        error = f"\t{message.last_error}" if message.last_error else ""
        click.echo(f"{message.id}\t{message.status}\t{message.recipient}\t{message.attempts} attempt(s){error}")
    for waiting in found.waiting:
        since = waiting.since.isoformat(timespec="seconds")
        click.echo(f"-\t{outbox.PENDING}\t{waiting.recipient}\t{waiting.notices} notice(s) since {since}, "
                   "not yet composed")  # fmt: skip
    if settings.mail.host is None:
        click.echo("Warning: no mail server is configured (mail.host): emails wait in the outbox.", err=True)
    if not settings.notifications.enabled:
        click.echo("Warning: notifications are off (notifications.enabled): nobody is told of anything.", err=True)
        return
    if not settings.notifications.staff_on_client_upload:
        click.echo("Staff are not told of client uploads (notifications.staff_on_client_upload is off).")
        return
    click.echo("Who hears of client uploads:")
    for client_id, name, recipients in heard:
        click.echo(f"  {client_id} ({name}): {', '.join(recipients) or 'NOBODY'}")
    unheard = [f"{client_id} ({name})" for client_id, name, recipients in heard if not recipients]
    if unheard:
        click.echo(f"Warning: nobody hears of uploads from {', '.join(unheard)}: {events.NOBODY_HEARS}.", err=True)


@command(notify_group, "retry")
@click.argument("message_id", type=int, required=False)
@click.option("--all-failed", is_flag=True, help="Every email that could not be sent.")
def notify_retry(config, source, message_id, all_failed):
    """Queue a failed email again (its id, from `notify status`), or every failed one."""
    if (message_id is None) == (not all_failed):
        raise click.UsageError("Give an email's id or --all-failed (one of them).")
    portal = _portal(config, source)
    with portal.sessions.begin() as session:
        if all_failed:
            count = outbox.retry_failed(session, actor=command_line_actor())
            click.echo(f"{count} failed email(s) will be sent again.")
            return
        outbox.retry(session, message_id, actor=command_line_actor())
    click.echo(f"Email {message_id} will be sent again.")


@command(client, "assign")
@click.argument("client_id")
@click.argument("login", metavar="STAFF_LOGIN", required=False)
@click.option("--none", "nobody", is_flag=True, help="Assign nobody: the firm's address or the admins hear instead.")
def client_assign(config, source, client_id, login, nobody):
    """Make a member of staff the client's contact at the firm: they hear of the client's uploads."""
    if (login is None) == (not nobody):
        raise click.UsageError("Name one member of staff, or --none.")
    portal = _portal(config, source)
    with portal.sessions.begin() as session:
        clients.assign(session, client_id, login, actor=command_line_actor())
    click.echo(f"{login} is assigned to {client_id}." if login else f"Nobody is assigned to {client_id}.")


@main.group("request")
def request_group():
    """Document requests: ask a client for documents, then accept or reject what arrives.

    A request has a title, a due date, the contacts it is for and items (each document needed).
    Once sent, it is a folder in the client's Client's shared with one folder per item: a file put
    in an item's folder (on the web or the drive) fulfils it.
    """


ITEM_HELP = ('A document asked for: "NAME", or "NAME|NOTE|FILES" with a note for the client and how many files '
             'are expected, e.g. --item "Bank statements|Every account, the last 3 months|3" or --item "Passport||2". '
             "Repeat for each item.")  # fmt: skip


def _date(_context, param, value: str | None) -> date | None:
    if not value:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(f"'{value}' is not a date: write it as YYYY-MM-DD, e.g. 2026-01-31.") from None


def _items(values: tuple[str, ...]) -> list[document_requests.NewItem]:
    """Each --item: NAME, or NAME|NOTE|FILES (either of the last two may be left empty)."""
    items = []
    for value in values:
        parts = value.split("|")
        if len(parts) > 3:
            raise click.BadParameter(f"'{value}' has more than three parts: NAME|NOTE|FILES.", param_hint="--item")
        name, note, files = (*parts, "", "")[:3]
        if files.strip() and not (files.strip().isdigit() and int(files) >= 1):
            raise click.BadParameter(f"'{value}': the number of files must be a whole number, at least 1.",
                                     param_hint="--item")  # fmt: skip
        items.append(document_requests.NewItem(name, note.strip() or None, int(files) if files.strip() else None))
    return items


def _change(config, source, change) -> str:
    """Run one change to requests as the command line's actor; it commits with its audit rows, or not at all."""
    context = RequestContext(_portal(config, source), actor=command_line_actor())
    try:
        said = change(context)
        context.session.commit()
        return said
    finally:
        context.session.close()


def _item_of(session, request_id: int, text: str) -> int:
    """An item of the request by its id or its name (any case)."""
    items = document_requests.items_of(session, document_requests.find(session, request_id).id)
    for item in items:
        if text.isdigit() and item.id == int(text):
            return item.id
    for item in items:
        if item.name.casefold() == " ".join(text.split()).casefold():
            return item.id
    names = ", ".join(f"{item.id} '{item.name}'" for item in items) or "none"
    raise NotFound(f"Request {request_id} has no item '{text}' (its items: {names}).")


def _sent_line(request) -> str:
    if request.folder is None:
        return f"kept as a draft: send it with `davportal request send {request.id}`"
    return f"sent: its folder is {request.client_id}/{request.folder}"


@command(request_group, "create")
@click.argument("client_id", metavar="[CLIENT]", required=False)
@click.option("--title", help='What the request is for, e.g. "2025 tax return".')
@click.option("--item", "items", metavar='"NAME|NOTE|FILES"', multiple=True, help=ITEM_HELP)
@click.option("--message", help="What the email and the page say above the items.")
@click.option(
    "--due",
    metavar="YYYY-MM-DD",
    callback=_date,
    help="Due date (from a template, without it: the template's due_in_days from today).",
)
@click.option(
    "--contact",
    "contacts",
    metavar="LOGIN",
    multiple=True,
    help="A contact the request is for (repeat for each; default: the client's contacts of its types).",
)
@click.option("--draft", is_flag=True, help="Keep it as a draft: nothing is made or sent until `request send`.")
@click.option(
    "--from-template", "template", metavar="ID", help="A request template of the matter types file, by its id."
)
@click.option(
    "--matter-type", metavar="TYPE", help="With --from-template: a request for every client of this matter type."
)
@click.option(
    "--dry-run", is_flag=True, help="With --matter-type: say what would be made for each client; change nothing."
)
def request_create(config, source, client_id, title, items, message, due, contacts, draft, template, matter_type,
                   dry_run):  # fmt: skip
    """Ask a client for documents, or every client of a matter type.

    \b
    One client, items given here:
      davportal request create acme --title "2025 tax return" --due 2026-01-31 \\
          --item "P60 from your employer" --item "Bank statements|Every account, the last 3 months|3"
    One client, from a request template of the matter types file:
      davportal request create acme --from-template annual-tax-return --due 2026-01-31
    Every client of a matter type that is not archived (clients that have an open or draft request
    from the template already are skipped, so running it again finishes an interrupted run):
      davportal request create --matter-type annual-tax-return --from-template annual-tax-return --dry-run

    The request is sent at once (its folders made, its contacts emailed) unless --draft.
    """
    if matter_type:
        others = (("CLIENT", client_id), ("--title", title), ("--item", items), ("--message", message),
                  ("--contact", contacts), ("--draft", draft))  # fmt: skip
        extra = [name for name, given in others if given]
        if not template or extra:
            raise click.UsageError("--matter-type takes --from-template (and --due, --dry-run), not "
                                   + (", ".join(extra) or "--title and --item") + ".")  # fmt: skip
        _create_for_matter_type(config, source, matter_type, template, due, dry_run)
        return
    if dry_run:
        raise click.UsageError("--dry-run is for --matter-type: one request can be made as a --draft first.")
    if not client_id:
        raise click.UsageError("Name the client (or give --matter-type with --from-template).")
    if template and (title or items or message):
        raise click.UsageError(
            "--from-template gives the title, message and items: leave out --title, --item, --message."
        )
    if not template and (not title or not items):
        raise click.UsageError("Give --title and at least one --item (or --from-template).")
    new_items = _items(items)

    def create(context):
        chosen = list(contacts) or None
        if template:
            request = document_requests.from_template(context, client_id, template, due_on=due, contacts=chosen,
                                                      send=not draft)  # fmt: skip
        else:
            request = document_requests.create(context, client_id, title=title, items=new_items, message=message,
                                               due_on=due, contacts=chosen, send=not draft)  # fmt: skip
        whom = ", ".join(document_requests.contacts_of(context.session, request.id)) or "nobody yet"
        due_text = f", due {request.due_on.isoformat()}" if request.due_on else ""
        return (f"Request {request.id} '{request.title}' for {client_id}: {request.items_total} item(s){due_text}, "
                f"for {whom}; {_sent_line(request)}.")  # fmt: skip

    click.echo(_change(config, source, create))


def _create_for_matter_type(config, source, matter_type, template, due, dry_run) -> None:
    portal = _portal(config, source)
    with portal.sessions() as session:
        total = len(document_requests.clients_of_type(session, matter_type))
    done = [0]

    def on_client(outcome) -> None:
        done[0] += 1
        line = outcome.line(dry_run=dry_run)
        if dry_run:
            click.echo(line)
        else:
            click.echo(f"[{done[0]}/{total}] {line}", err=True)  # progress: stdout keeps the result

    found = document_requests.for_matter_type(portal, matter_type, template, actor=command_line_actor(), due_on=due,
                                              dry_run=dry_run, on_client=on_client)  # fmt: skip
    if not dry_run:
        for outcome in found.skipped:
            click.echo(outcome.line(dry_run=False))
    click.echo(found.summary())


@command(request_group, "send")
@click.argument("request_id", metavar="ID", type=int)
def request_send(config, source, request_id):
    """Send a draft request: its folders are made and its contacts are emailed."""

    def send(context):
        request = document_requests.send_request(context, request_id)
        return f"Request {request.id} '{request.title}' {_sent_line(request)}."

    click.echo(_change(config, source, send))


LIST_PAGE = 50  # requests a page of `request list` shows


@command(request_group, "list")
@click.option("--client", metavar="CLIENT", help="Only this client (its id, or part of its name).")
@click.option("--matter-type", metavar="TYPE", help="Only clients of this matter type.")
@click.option("--staff", "staff_login", metavar="LOGIN", help="Only clients this member of staff is assigned to.")
@click.option("--due-before", metavar="YYYY-MM-DD", callback=_date, help="Only those due before this day.")
@click.option("--overdue", is_flag=True, help="Only those past their due date.")
@click.option("--all", "everything", is_flag=True, help=f"Every one, not only the first {LIST_PAGE}.")
def request_list(config, source, client, matter_type, staff_login, due_before, overdue, everything):
    """Open requests across every client, the most overdue first, with their items by status:
    requested (still wanted), uploaded (for you to review), accepted."""
    portal = _portal(config, source)
    today = datetime.now(timezone.utc).astimezone(portal.settings.requests.zone).date()
    filters = dict(client=client, matter_type=matter_type, staff=staff_login, due_before=due_before,
                   overdue_on=today if overdue else None)  # fmt: skip
    with portal.sessions() as session:
        total = document_requests.count_outstanding(session, **filters)
        rows = []
        for offset in range(0, total if everything else min(total, LIST_PAGE), LIST_PAGE):
            rows += document_requests.outstanding(session, offset=offset, limit=LIST_PAGE, **filters)
    if not rows:
        click.echo("No open request matches." if any(filters.values()) else "No open requests.")
        return
    header = ("ID", "CLIENT", "TITLE", "DUE", "REQUESTED", "UPLOADED", "ACCEPTED")
    cells = [(str(row.id), row.client_id, row.title,
              (row.due_on.isoformat() + (" overdue" if is_overdue(row.due_on, today) else "")) if row.due_on else "-",
              str(row.items_requested), str(row.items_uploaded), str(row.items_accepted)) for row in rows]  # fmt: skip
    click.echo(_table(header, cells, right=(0, 4, 5, 6)))
    if len(rows) < total:
        click.echo(f"{len(rows)} of {total} shown: --all lists every one.")


def _table(header: tuple[str, ...], rows: list[tuple[str, ...]], *, right: tuple[int, ...] = ()) -> str:
    widths = [max(len(cell) for cell in column) for column in zip(header, *rows)]
    return "\n".join("  ".join(cell.rjust(w) if n in right else cell.ljust(w)
                               for n, (cell, w) in enumerate(zip(row, widths))).rstrip()
                     for row in (header, *rows))  # fmt: skip


@command(request_group, "show")
@click.argument("request_id", metavar="ID", type=int)
def request_show(config, source, request_id):
    """A request: who it is for, each item with its status and files, and its history."""
    portal = _portal(config, source)
    today = datetime.now(timezone.utc).astimezone(portal.settings.requests.zone).date()
    with portal.sessions() as session:
        request = document_requests.find(session, request_id)
        items = document_requests.items_of(session, request.id)
        contacts = document_requests.contacts_of(session, request.id)
        history = document_requests.history(session, request)
    overdue = request.status == RequestStatus.OPEN and is_overdue(request.due_on, today)
    due = request.due_on.isoformat() + (" (overdue)" if overdue else "") if request.due_on else "no due date"
    lines = [f"Request {request.id}: {request.title}", f"  client:    {request.client_id}",
             f"  status:    {request.status}", f"  due:       {due}",
             f"  for:       {', '.join(contacts) or 'nobody yet'} (participant types: {', '.join(request.for_types)})",
             f"  folder:    {request.folder or 'none until it is sent'}",
             f"  made:      {request.created_at.isoformat(timespec='seconds')} by {request.created_by}"]  # fmt: skip
    if request.template:
        lines.append(f"  template:  {request.template}")
    if request.message:
        lines.append(f"  message:   {request.message}")
    lines += ["", "Items:"]
    for item in items:
        expected = f"{item.files} of {item.files_expected} file(s)" if item.files_expected else f"{item.files} file(s)"
        lines.append(f"  {item.id}\t{item.name}\t{item.status}\t{expected}")
        if item.note:
            lines.append(f"  \tnote: {item.note}")
        if item.rejected_reason:
            lines.append(f"  \tnot accepted: {item.rejected_reason}")
    lines += ["", "History:"]
    lines += [f"  {event['at']}  {event['login']}  {event['action']}  {event['detail']}" for event in history]
    click.echo("\n".join(lines))


@command(request_group, "accept")
@click.argument("request_id", metavar="ID", type=int)
@click.argument("item", metavar="ITEM")
def request_accept(config, source, request_id, item):
    """Accept an item (its id or its name): its folder becomes the firm's alone. Accepting the
    last one completes the request, and staff are told."""

    def accept(context):
        accepted = document_requests.accept(context, request_id, _item_of(context.session, request_id, item))
        request = document_requests.find(context.session, request_id)
        done = " The request is complete." if request.status == RequestStatus.COMPLETE else ""
        return f"'{accepted.name}' of request {request_id} accepted.{done}"

    click.echo(_change(config, source, accept))


@command(request_group, "reject")
@click.argument("request_id", metavar="ID", type=int)
@click.argument("item", metavar="ITEM")
@click.option("--reason", required=True, help='Why, in words for the client, e.g. "the scan is cut off on the right".')
@click.option(
    "--trash", is_flag=True, help="Move its files to the trash (default: keep them for staff in 'Not accepted')."
)
def request_reject(config, source, request_id, item, reason, trash):
    """Turn an item's files down (the item by its id or its name): it is wanted again and its
    contacts are told the reason."""

    def reject(context):
        rejected = document_requests.reject(context, request_id, _item_of(context.session, request_id, item), reason,
                                            keep=not trash)  # fmt: skip
        where = "moved to the trash" if trash else "kept for staff in 'Not accepted'"
        return f"'{rejected.name}' of request {request_id} not accepted: its files are {where}; the client is told why."

    click.echo(_change(config, source, reject))


@command(request_group, "add-item")
@click.argument("request_id", metavar="ID", type=int)
@click.argument("name")
@click.option("--note", help="A note for the client about this document.")
@click.option("--files", type=click.IntRange(min=1), help="How many files are expected (default: one will do).")
def request_add_item(config, source, request_id, name, note, files):
    """Ask for one more document in a request."""

    def add(context):
        added = document_requests.add_item(context, request_id, document_requests.NewItem(name, note, files))
        return f"'{added.name}' added to request {request_id} (item {added.id})."

    click.echo(_change(config, source, add))


@command(request_group, "remove-item")
@click.argument("request_id", metavar="ID", type=int)
@click.argument("item", metavar="ITEM")
def request_remove_item(config, source, request_id, item):
    """No longer ask for an item (its id or its name); its folder and anything in it stay, for staff."""

    def remove(context):
        item_id = _item_of(context.session, request_id, item)
        name = context.session.get(RequestItem, item_id).name
        document_requests.remove_item(context, request_id, item_id)
        return f"'{name}' is no longer asked for in request {request_id}."

    click.echo(_change(config, source, remove))


@command(request_group, "due")
@click.argument("request_id", metavar="ID", type=int)
@click.argument("due", metavar="[DATE]", required=False, callback=_date)
@click.option("--none", "no_date", is_flag=True, help="No due date (and so no reminders).")
def request_due(config, source, request_id, due, no_date):
    """Move a request's due date (YYYY-MM-DD), or take it away with --none; reminders follow it."""
    if (due is None) == (not no_date):
        raise click.UsageError("Give a date (YYYY-MM-DD) or --none.")

    def move(context):
        document_requests.set_due(context, request_id, due)
        return f"Request {request_id} is due {due.isoformat()}." if due else f"Request {request_id} has no due date."

    click.echo(_change(config, source, move))


@command(request_group, "cancel")
@click.argument("request_id", metavar="ID", type=int)
def request_cancel(config, source, request_id):
    """Cancel a request: no more reminders, its folders become the firm's alone, every file kept."""

    def cancel(context):
        request = document_requests.cancel(context, request_id)
        return f"Request {request.id} '{request.title}' cancelled; its files are kept."

    click.echo(_change(config, source, cancel))
