"""The record of each document, read and kept in step with the storage as a request changes it.

The provider maps paths to resources and calls these; each takes the request's context, reads
at most once per folder and request, and writes in the request's transaction.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from davportal.core.atomic import Digests, sync_folder
from davportal.core.models import Version
from davportal.services import documents, fulfilment, trash, versions
from davportal.services.documents import Facts
from davportal.services.request import RequestContext
from policy import Role, Target
from policy.documents import Disposal, disposal_of
from policy.versions import may_see_version


def _below(parts: tuple[str, ...]) -> str:
    return "/".join(parts[1:])


def record(context: RequestContext, parts: tuple[str, ...], *, is_folder: bool, uploaded_by: str | None = None,
           digests: Digests | None = None) -> None:  # fmt: skip
    """A new document or a new version, written by `uploaded_by` (else the actor)."""
    if len(parts) < 2:
        return
    login = uploaded_by or (context.actor.login if context.actor else None)
    documents.record(context.session, parts[0], _below(parts), login, is_folder=is_folder, digests=digests)


def facts_of(context: RequestContext, parts: tuple[str, ...]) -> Facts | None:
    """What the portal knows of a document; a listing asks once per folder (one query each)."""
    if len(parts) < 2:
        return None
    folder = parts[:-1]
    if folder not in context.facts:
        with context.portal.sessions() as session:
            context.facts[folder] = documents.facts_in(session, folder[0], _below(folder))
    return context.facts[folder].get(parts[-1])


def versions_of(context: RequestContext, document: Target) -> list[Version]:
    """A file's earlier versions that the actor may see, newest first; one query per folder."""
    parts, actor = document.parts, context.actor
    folder = parts[:-1]
    if folder not in context.versions:
        with context.portal.sessions() as session:
            context.versions[folder] = versions.in_folder(session, folder[0], _below(folder))
    rules = context.rules(parts[0])
    return [
        version for version in context.versions[folder].get(parts[-1], [])
        if actor is not None
        and may_see_version(actor, document, Target((parts[0], *version.written_in.split("/")), exists=True), rules)
    ]  # fmt: skip


def seen_by(context: RequestContext, parts: tuple[str, ...]) -> list[tuple[str, datetime]]:
    """Contacts who downloaded a document, and when first; one query per folder listed."""
    folder = parts[:-1]
    if folder not in context.seen:
        with context.portal.sessions() as session:
            context.seen[folder] = documents.seen_in(session, folder[0], _below(folder))
    return context.seen[folder].get(parts[-1], [])


def writers(context: RequestContext, folder: tuple[str, ...], names: list[str]) -> dict[str, Role]:
    """Whether staff or a contact wrote each named document in a client's folder (one query)."""
    if not folder or not names:
        return {}
    prefix = _below(folder)
    paths = {f"{prefix}/{name}" if prefix else name: name for name in names}
    with context.portal.sessions() as session:
        roles = documents.writer_roles(session, folder[0], list(paths))
    return {paths[path]: Role(role) for path, role in roles.items()}


def uploader_of(context: RequestContext, parts: tuple[str, ...]) -> str | None:
    """Who uploaded a file, or for a folder the one uploader of everything in it."""
    if len(parts) < 2:
        return None
    with context.portal.sessions() as session:
        return documents.sole_uploader(session, parts[0], _below(parts))


def remove(context: RequestContext, parts: tuple[str, ...], disk: Path, *, is_folder: bool,
           property_url: str) -> Disposal:  # fmt: skip
    """A delete: to the trash with its records, or, for a desktop client's own file, for good."""
    disposal = Disposal.TRASH if is_folder else disposal_of(parts[-1])
    if disposal is Disposal.FOR_GOOD:
        disk.unlink()
        documents.forget(context.session, parts[0], _below(parts))
    else:
        trash.put_in_trash(context.session, context.portal.storage, client_id=parts[0], path=_below(parts),
                           is_folder=is_folder, deleted_by=context.actor.login if context.actor else "?",
                           property_url=property_url)  # fmt: skip
    sync_folder(disk.parent)
    fulfilment.left(context, parts)
    return disposal
