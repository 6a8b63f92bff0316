"""Clients from a CSV file, in two steps: what the file would create and every bad row, shown
before anything is written; then the import of exactly that.

The file travels back with the confirmation (encoded in the preview page), so that any node can
take it and nothing is kept on the server between the two steps; the rows are checked again and
imported only if they are still the ones shown.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import io

from sqlalchemy import select

from davportal.core.errors import BadRequest, NotFound, PortalError, TooLarge
from davportal.core.models import Client
from davportal.services import account_links
from davportal.web import form
from davportal.web.console.visit import Visit
from provisioning import importer

SLUG = "_import"  # never a client id: those start with a letter or a digit
MAX_FILE_BYTES = 4 * 1024 * 1024  # some 40,000 rows
# The confirmation carries the file in base64 (a third more) beside a few fields.
MAX_BODY_BYTES = MAX_FILE_BYTES * 4 // 3 + 64 * 1024


def handle(visit: Visit):
    if visit.method in ("GET", "HEAD"):
        return visit.page("console_import.html", {"action": visit.url("clients", SLUG), "columns": importer.COLUMNS})
    if visit.method != "POST":
        raise NotFound("Not found.")
    fields, files = form.read_multipart(visit.environ, MAX_BODY_BYTES)
    form.require_token(fields.get("csrf"), visit.csrf)
    invite = fields.get("invite") == "1"
    try:
        name, content = _file(fields, files)
        with visit.portal.sessions() as session:
            rows, bad = importer.check(io.StringIO(_text(content)), session, visit.portal.matter_types, source=name,
                                       invite=invite)  # fmt: skip
            existing = set(session.scalars(select(Client.id))) & {r.id for r in rows}  # one statement, any size
    except PortalError as refused:
        if isinstance(refused, NotFound):
            raise
        return visit.page("console_import.html", {"action": visit.url("clients", SLUG), "columns": importer.COLUMNS,
                                                  "problem": refused.reason}, status="400 Bad Request")  # fmt: skip
    seen = fingerprint(rows, invite)
    if fields.get("step") == "import" and fields.get("fingerprint") == seen and rows:
        return _import(visit, rows, bad, invite)
    changed = fields.get("step") == "import"  # the file's rows are no longer what the preview showed
    return visit.page("console_import_preview.html", {
        "action": visit.url("clients", SLUG), "name": name, "rows": rows, "bad": bad, "existing": existing,
        "file": base64.b64encode(content).decode("ascii"), "fingerprint": seen, "changed": changed, "invite": invite,
    })  # fmt: skip


def _import(visit: Visit, rows: list[importer.Row], bad: list[importer.BadRow], invite: bool):
    portal = visit.portal
    folders = portal.settings.folders
    back = visit.url("clients")

    def send(session, login: str) -> None:
        account_links.invite(session, portal.settings, login, actor=visit.actor)

    try:
        outcome = importer.import_rows(portal.sessions, portal.storage, rows, portal.matter_types,
                                       (folders.team_shared, folders.client_shared),
                                       invite=send if invite else None)  # fmt: skip
    except PortalError as refused:
        return visit.done(f"The import stopped: {refused.reason}", back, ok=False)
    said = [f"{outcome.clients_created} client(s) added", f"{outcome.contacts_created} contact(s) added"]
    if outcome.contacts_invited:
        said.append(f"{outcome.contacts_invited} invitation(s) on their way")
    if outcome.clients_unchanged:
        said.append(f"{outcome.clients_unchanged} already there")
    if outcome.contacts_joined:
        said.append(f"{outcome.contacts_joined} existing contact(s) given one more client")
    if bad:
        said.append(f"{len(bad)} bad row(s) left out")
    return visit.done(", ".join(said) + ".", back)


def fingerprint(rows: list[importer.Row], invite: bool) -> str:
    """What the preview showed, in a word: the import goes ahead only if the rows still match it."""
    return hashlib.sha256(repr((rows, invite)).encode()).hexdigest()


def _file(fields: dict[str, str], files: dict[str, tuple[str, bytes]]) -> tuple[str, bytes]:
    """The uploaded file (first step) or the one the preview sent back (the confirmation)."""
    if "file" in files and files["file"][0]:
        name, content = files["file"]
    elif fields.get("file"):
        name = fields.get("name") or "the file"
        try:
            content = base64.b64decode(fields["file"], validate=True)
        except (binascii.Error, ValueError):
            raise BadRequest("The file did not come back as it was sent: choose it again.") from None
    else:
        raise BadRequest("Choose a CSV file to import.")
    if len(content) > MAX_FILE_BYTES:
        raise TooLarge(f"The file is too large: at most {MAX_FILE_BYTES // (1024 * 1024)} MB.")
    return name, content


def _text(content: bytes) -> str:
    try:
        return content.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise BadRequest('This is not a CSV file saved as UTF-8: save it again as "CSV UTF-8" and retry.') from None
