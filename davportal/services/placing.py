"""Putting a document in place: one writer per name at a time, and nothing of anyone's lost.

The gate decided on the request as it arrived; an upload may take minutes, and meanwhile
someone else may create, replace or delete the same name. So whether the name is new or taken
is decided again once the bytes are ready, holding the name's lock (on every node): a new file
is created only where nothing is; a file is replaced only if the policy still allows it for the
file as it is now, and the bytes it replaces become an earlier version. The record (who wrote
it, its checksums) commits before the lock is let go: it always describes the bytes on disk.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

from davportal.core.atomic import AtomicUpload, Digests, copy_beside, sync_folder
from davportal.core.errors import ChangedMeanwhile, NotAllowedHere, NotFound, refusal
from davportal.core.models import Version
from davportal.services import documents, fulfilment, versions
from davportal.services.request import RequestContext
from davportal.services.uploads import screen
from policy import Action, Actor, Decision, Target, decide
from policy.documents import case_clash
from policy.versions import keeps_versions, may_restore, sets_aside


def _below(parts: tuple[str, ...]) -> str:
    return "/".join(parts[1:])


def _taken(name: str) -> ChangedMeanwhile:
    return ChangedMeanwhile(f"'{name}' was saved by someone else while yours was arriving; "
                            "yours was not saved under that name. Nothing was lost: please look again.")  # fmt: skip


def _enforce(decision: Decision) -> None:
    if not decision.allowed:
        raise refusal(decision.status, decision.reason, condition=decision.condition)


def receive(context: RequestContext, parts: tuple[str, ...], upload: AtomicUpload, *, expect_new: bool,
            along: Callable[[bool], None] | None = None) -> bool:  # fmt: skip
    """An upload has fully arrived (PUT, the web's upload, a LOCK's empty file): checked, scanned,
    and put in place. Returns whether the name was new.

    `along(new)` adds what commits with the record, in its transaction (notices, the audit event).
    """
    try:
        upload.verify()
        screen(context, upload, parts, "/" + "/".join(parts))
        return _place(context, parts, upload, action=Action.CHANGE, expect_new=expect_new, along=along)
    finally:
        upload.discard()  # nothing left behind, whatever happened (a no-op once it is in place)


def copy_in(context: RequestContext, source: Path, parts: tuple[str, ...], *, uploaded_by: str | None,
            overwrite: bool, block_size: int) -> Digests:  # fmt: skip
    """A COPY (or a file-by-file MOVE) of one file to `parts`; replaces what is there only if `overwrite`."""
    upload = copy_beside(source, context.portal.storage.path_of(parts), block_size=block_size)
    try:
        _place(context, parts, upload, action=Action.REMOVE, expect_new=not overwrite, uploaded_by=uploaded_by)
    finally:
        upload.discard()
    return upload.digests


def _place(context: RequestContext, parts: tuple[str, ...], upload: AtomicUpload, *, action: Action,
           expect_new: bool, uploaded_by: str | None = None,
           along: Callable[[bool], None] | None = None) -> bool:  # fmt: skip
    portal, session, actor = context.portal, context.session, _actor(context)
    client_id, path, disk = parts[0], _below(parts), upload.target
    with portal.name_locks.held(session, client_id, path):
        new = not os.path.lexists(disk)
        if new:
            # The one case check of a new name: under its lock, which its case twins share.
            _enforce(case_clash(parts[-1], portal.storage.case_twin(parts)))
            try:
                upload.commit(exclusive=True)
            except FileExistsError:
                raise _taken(parts[-1]) from None  # put there outside the portal, this very moment
        else:
            if expect_new:
                raise _taken(parts[-1])
            _keep_replaced(context, actor, action, parts, disk)
            upload.commit()
        documents.record(session, client_id, path, uploaded_by or actor.login, is_folder=False,
                         digests=upload.digests)  # fmt: skip
        fulfilment.arrived(context, parts)
        if along is not None:
            along(new)
    return new


def _keep_replaced(context: RequestContext, actor: Actor, action: Action, parts: tuple[str, ...], disk: Path) -> None:
    """The policy, again, for the file as it is now (its uploader may have changed since the gate);
    then what it is about to replace becomes an earlier version."""
    client_id, path = parts[0], _below(parts)
    document = documents.current(context.session, client_id, path)
    uploader = document.uploaded_by if document else None
    decision = decide(actor, action, Target(parts, exists=True, uploaded_by=uploader), context.rules(client_id))
    if not decision.allowed:
        raise _taken(parts[-1])
    if keeps_versions(parts[-1]):
        versions.keep(context.session, context.portal.storage, document, disk, client_id=client_id, path=path,
                      replaced_by=actor.login)  # fmt: skip


def move(context: RequestContext, source: Path, src: tuple[str, ...], dest: tuple[str, ...], *,
         overwrite: bool) -> None:  # fmt: skip
    """A MOVE: renamed in place (nothing copied), its records, versions and properties along."""
    portal, session, actor = context.portal, context.session, _actor(context)
    disk = portal.storage.path_of(dest)
    with portal.name_locks.held(session, dest[0], _below(dest)):
        if not os.path.lexists(source):
            raise NotFound(f"'{src[-1]}' is no longer there: someone moved or deleted it meanwhile.")
        renaming = src[-1] if src[:-1] == dest[:-1] else None
        if not (os.path.lexists(disk) and os.path.samefile(source, disk)):  # not a change of case alone
            _enforce(case_clash(dest[-1], portal.storage.case_twin(dest), renaming_from=renaming))
            if os.path.lexists(disk):
                if not overwrite or os.path.isdir(disk) or os.path.isdir(source):
                    raise _taken(dest[-1])
                _keep_replaced(context, actor, Action.REMOVE, dest, disk)
        setting_aside = source.is_file() and sets_aside(src[-1], dest[-1])
        if setting_aside:
            # A desktop client saving: the original goes to a temporary name, the new one takes its
            # place. The original's bytes stay a version of the document; its history stays put.
            document = documents.current(session, src[0], _below(src))
            versions.keep(session, portal.storage, document, source, client_id=src[0], path=_below(src),
                          replaced_by=actor.login)  # fmt: skip
        else:
            versions.move(session, (src[0], _below(src)), (dest[0], _below(dest)))
        os.rename(source, disk)  # same filesystem: atomic, and nothing is copied
        sync_folder(disk.parent)
        if disk.parent != source.parent:
            sync_folder(source.parent)
        documents.move(session, (src[0], _below(src)), (dest[0], _below(dest)))
        if not setting_aside:  # a desktop client saving: the document is still there, its new bytes come next
            fulfilment.left(context, src)
            fulfilment.arrived(context, dest)


def make_folder(context: RequestContext, parts: tuple[str, ...]) -> None:
    """A MKCOL: a folder made once, whoever else makes the same folder at the same moment."""
    portal, session = context.portal, context.session
    disk = portal.storage.path_of(parts)
    with portal.name_locks.held(session, parts[0], _below(parts)):
        _enforce(case_clash(parts[-1], portal.storage.case_twin(parts)))
        try:
            os.mkdir(disk)
        except FileExistsError:
            raise NotAllowedHere(f"'{parts[-1]}' is already here.") from None
        sync_folder(disk.parent)
        documents.record(session, parts[0], _below(parts), _actor(context).login, is_folder=True)


def restore(context: RequestContext, parts: tuple[str, ...], version_id: int) -> Version:
    """Put an earlier version back; the bytes it replaces become a version in their turn."""
    portal, session, actor = context.portal, context.session, _actor(context)
    client_id, path, disk = parts[0], _below(parts), portal.storage.path_of(parts)
    with portal.name_locks.held(session, client_id, path):
        version = session.get(Version, version_id)
        if version is None or (version.client_id, version.path) != (client_id, path) or version.trash_item_id:
            raise NotFound("There is no such earlier version of this document.")
        record = documents.current(session, client_id, path)
        document = Target(parts, exists=os.path.lexists(disk), uploaded_by=record.uploaded_by if record else None)
        written_in = Target((client_id, *version.written_in.split("/")), exists=True)
        _enforce(may_restore(actor, document, written_in, context.rules(client_id)))
        upload = copy_beside(versions.file_of(portal.storage, version), disk, block_size=1024 * 1024)
        try:
            if document.exists:
                versions.keep(session, portal.storage, record, disk, client_id=client_id, path=path,
                              replaced_by=actor.login)  # fmt: skip
            upload.commit()
        finally:
            upload.discard()
        # The restored bytes are their writer's again, as they were.
        documents.record(session, client_id, path, version.written_by, is_folder=False, digests=upload.digests)
    return version


def _actor(context: RequestContext) -> Actor:
    assert context.actor is not None  # past the gate (or the CLI's actor): never anonymous
    return context.actor
