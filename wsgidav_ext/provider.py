"""The provider layer: a client's folders and files on disk, as WsgiDAV resources.

Unlike WsgiDAV's FilesystemProvider it never truncates a file before the new one has fully
arrived, never follows or lists symlinks, lists a folder with one scandir and filters it with
the policy, and keeps the record of who uploaded what in step with the storage.
"""

from __future__ import annotations

import errno
import os
import shutil
import stat
from collections.abc import Callable
from functools import cached_property
from http import HTTPStatus
from pathlib import Path
from typing import Any
from urllib.parse import quote

from wsgidav import util
from wsgidav.dav_error import HTTP_SERVICE_UNAVAILABLE, DAVError
from wsgidav.dav_provider import DAVCollection, DAVNonCollection, DAVProvider

from davportal.core.atomic import AtomicUpload
from davportal.core.outages import outage_of
from davportal.notifications import events
from davportal.services import locks, placing, records
from davportal.services.portal import Portal
from davportal.services.request import RequestContext
from davportal.services.shared_view import shared_view
from policy import Action, Area, Target, decide
from policy.documents import Disposal, owner_after
from policy.names import is_desktop_file, is_reserved, normalize
from wsgidav_ext.audit import audit_with_change
from wsgidav_ext.content_types import content_type
from wsgidav_ext.live_properties import is_live_property, live_property_value, set_live_property
from wsgidav_ext.lock_store import PortalLockStorage, lock_discovery

BLOCK_SIZE = 1024 * 1024  # large blocks: fewer system calls per GET, COPY and PUT
HREF_SAFE = "/!*(),$-_|."  # left as they are in an href; "'" encoded, for neon (cadaver, davfs2)
READING = frozenset({"GET", "HEAD", "OPTIONS", "PROPFIND"})  # methods that change nothing on disk


class PortalProvider(DAVProvider):
    """Maps URL paths to resources; what a change does to records, trash and notices is the services'."""

    def __init__(self, wsgidav_app):
        super().__init__()
        self.portal = Portal.of(wsgidav_app.config)
        self.storage = self.portal.storage

    def __repr__(self):
        return f"{self.__class__.__name__}({str(self.storage.root)!r})"

    def is_readonly(self):
        return False

    def get_resource_inst(self, path: str, environ: dict):
        self._count_get_resource_inst += 1
        context = RequestContext.of(environ)
        if environ["REQUEST_METHOD"] not in READING:
            return self._resource_at(path, environ, context)
        # The gate and WsgiDAV both ask for the target: a request that changes nothing looks once.
        try:
            return context.resources[path]
        except KeyError:
            resource = context.resources[path] = self._resource_at(path, environ, context)
            return resource

    def _resource_at(self, path: str, environ: dict, context: RequestContext):
        parts = context.parts(path)
        if any(is_reserved(p) for p in parts):
            return None
        disk = self.storage.path_of(parts)
        try:
            st = os.lstat(disk)
        except (FileNotFoundError, NotADirectoryError):
            return self._shared_file(context, parts, environ)
        except OSError as exc:
            if exc.errno == errno.ENAMETOOLONG:
                return None  # no such name can exist; creating one is refused by check_new_name
            raise
        if not parts:
            return PortalFolder("/", environ, disk, st)
        if not self.storage.is_plain(disk):
            return None  # a symlink anywhere on the way: never followed
        if is_desktop_file(parts[-1]) and not self._readable_desktop_file(context, parts):
            return None  # the other side's Finder/Office file: not there at all, as far as they can tell
        return _resource(util.join_uri("/", *parts), environ, disk, st)

    @staticmethod
    def _readable_desktop_file(context: RequestContext, parts: tuple[str, ...]) -> bool:
        if context.actor is None or len(parts) < 2:
            return True
        written_by = records.writers(context, parts[:-1], [parts[-1]]).get(parts[-1])
        target = Target(parts, exists=True, written_by=written_by)
        return decide(context.actor, Action.READ, target, context.rules(parts[0])).allowed

    def _shared_file(self, context: RequestContext, parts: tuple[str, ...], environ: dict) -> PortalFile | None:
        """For a contact, a file shared from a private folder, as it appears in Team's shared."""
        actor = context.actor
        if actor is None or not actor.is_contact or len(parts) != 3 or not self.is_team_root(parts[:2]):
            return None
        real_path = shared_view(context, parts[0]).get(parts[2])
        real = self.get_resource_inst(real_path, environ) if real_path else None
        if real is None or real.is_collection:
            return None
        assert real_path is not None  # real was found by it
        return SharedFile(util.join_uri("/", *parts), environ, real.disk, real.st, real_path)

    def is_team_root(self, parts: tuple[str, ...]) -> bool:
        rules = self.portal.matter_types.default_rules  # the area folders are the same for every client
        below = parts[1:]
        return len(parts) == 2 and rules.is_rule_folder(below) and rules.rule_at(below).area == Area.TEAM_SHARED


def _overwrite(environ: dict) -> bool:
    return environ.get("HTTP_OVERWRITE", "T").upper() != "F"


def _declared_sha1(header: str) -> str | None:
    """The SHA-1 an ownCloud-style client declares for its upload ("SHA1:<hex>", maybe among others)."""
    for part in header.split():
        kind, _, value = part.partition(":")
        if kind.upper() == "SHA1" and value:
            return value.lower()
    return None


def _resource(path: str, environ: dict, disk: Path | str, st: os.stat_result):
    if stat.S_ISDIR(st.st_mode):
        return PortalFolder(path, environ, disk, st)
    if stat.S_ISREG(st.st_mode):
        return PortalFile(path, environ, disk, st)
    return None  # sockets, devices, symlinks: not ours to serve


class _OnDisk:
    """What files and folders share: where they are and their stat."""

    provider: PortalProvider
    path: str
    environ: dict
    is_collection: bool
    # From WsgiDAV's DAVResource, which every file and folder also derives from.
    get_ref_url: Callable[[], str]
    remove_all_properties: Callable[..., None]

    def _init_disk(self, disk: Path | str, st: os.stat_result | None):
        if isinstance(disk, Path):
            self.disk = disk
        else:
            self._where = disk  # a listed entry's path from scandir: a Path only when used
        self.st = st
        self.name = os.path.basename(disk)
        self.context = RequestContext.of(self.environ)

    @cached_property
    def disk(self) -> Path:
        return Path(self._where)

    @cached_property
    def parts(self) -> tuple[str, ...]:
        return self.context.parts(self.path)  # on first use: a listing's entries mostly never ask

    def get_display_name(self):
        return self.name

    def get_href(self):
        # WsgiDAV leaves "'" unencoded; neon (cadaver, davfs2) sends %27 and then cannot match
        # "Team's shared" in the answer. Encoded, every client matches it.
        return quote(self.provider.mount_path + self.provider.share_path + self.get_preferred_path(),
                     safe=HREF_SAFE)  # fmt: skip

    def get_creation_date(self):
        return self.st.st_ctime if self.st else None

    def get_last_modified(self):
        return self.st.st_mtime if self.st else None

    @property
    def record_path(self) -> str:
        """The path the portal's records know this document by."""
        return self.path

    def get_property_value(self, name):
        try:
            if is_live_property(name):
                return live_property_value(self, name)
            if name == "{DAV:}lockdiscovery":
                return self._lock_discovery()
            return super().get_property_value(name)
        except Exception as exc:
            if outage_of(exc) is None:
                raise
            # The database (the locks, the properties) is down: this property answers 503 and the
            # listing goes on; WsgiDAV would print a traceback per entry for anything but a DAVError.
            raise DAVError(HTTP_SERVICE_UNAVAILABLE) from exc

    def _lock_discovery(self) -> Any:
        """Who holds a lock may show; its token only to the holder (a token is half a credential)."""
        storage: PortalLockStorage = self.provider.lock_manager.storage
        actor = self.context.actor
        return lock_discovery(storage.locks_on(self.get_ref_url(), self.environ), lockroot_href=self.get_href(),
                              login=actor.login if actor else None, now=storage.clock())  # fmt: skip

    def set_property_value(self, name, value, *, dry_run=False):
        if is_live_property(name):
            return set_live_property(self, name, value, dry_run=dry_run)
        return super().set_property_value(name, value, dry_run=dry_run)

    def set_last_modified(self, dest_path, time_stamp, *, dry_run):
        secs = time_stamp if isinstance(time_stamp, int) else util.parse_time_string(time_stamp)
        if not dry_run:
            os.utime(self.disk, (secs, secs))
        return True

    def _move_dead_properties(self, dest_path: str, *, is_move: bool, with_children: bool):
        prop_manager = self.provider.prop_manager
        if not prop_manager:
            return
        dest_url = self.provider.get_resource_inst(dest_path, self.environ).get_ref_url()
        if is_move:
            prop_manager.move_properties(self.get_ref_url(), dest_url, with_children=with_children,
                                         environ=self.environ)  # fmt: skip
        else:
            prop_manager.copy_properties(self.get_ref_url(), dest_url, self.environ)

    def support_recursive_move(self, dest_path):
        return True

    def move_recursive(self, dest_path):
        dest_parts = self.context.parts(dest_path)
        dest = self.provider.storage.path_of(dest_parts)
        placing.move(self.context, self.disk, self.parts, dest_parts, overwrite=_overwrite(self.environ))
        self._move_dead_properties(dest_path, is_move=True, with_children=True)
        self._tell_arrived(dest_parts, dest, moved=True)
        return []

    def _tell_arrived(self, dest_parts: tuple[str, ...], dest: Path, *, moved: bool) -> None:
        files: list[tuple[str, ...]] = [()] if dest.is_file() else [
            p.relative_to(dest).parts for p in dest.rglob("*") if p.is_file() and not p.is_symlink()]  # fmt: skip
        events.tell_arrived(self.context, self.parts, dest_parts, files, moved=moved)

    def _owner_after(self, *, is_move: bool) -> str | None:
        uploader = records.uploader_of(self.context, self.parts) if is_move else None
        assert self.context.actor is not None  # past the gate, which lets no one in anonymously
        return owner_after(moved=is_move, actor=self.context.actor, uploader=uploader)

    def _remove(self) -> None:
        disposal = records.remove(self.context, self.parts, self.disk, is_folder=self.is_collection,
                                  property_url=self.get_ref_url())  # fmt: skip
        if disposal is Disposal.FOR_GOOD:
            self.remove_all_properties(recursive=False)
        self.remove_all_locks(recursive=self.is_collection)

    def remove_all_locks(self, *, recursive: bool) -> None:
        # In the request's transaction: the locks go with the deletion, or stay if it fails.
        locks.remove_at(self.context.session, self.get_ref_url(), below=recursive)


class PortalFile(_OnDisk, DAVNonCollection):
    def __init__(self, path: str, environ: dict, disk: Path | str, st: os.stat_result | None):
        super().__init__(path, environ)
        self._init_disk(disk, st)  # st is None for a file whose first upload is arriving
        self._upload: AtomicUpload | None = None

    def get_content_length(self):
        return self.st.st_size if self.st else 0

    def get_content_type(self):
        return content_type(self.path, self.environ["wsgidav.config"])

    def get_etag(self):
        if not self.st:
            return None
        return f"{self.st.st_ino:x}-{self.st.st_mtime_ns:x}-{self.st.st_size:x}"

    def support_etag(self):
        return True

    def support_ranges(self):
        return True

    def get_content(self):
        return open(self.disk, "rb", buffering=0)

    def begin_write(self, *, content_type=None):
        declared = self.environ.get("CONTENT_LENGTH")
        self._upload = AtomicUpload(
            self.disk,
            max_bytes=self.provider.portal.settings.uploads.max_bytes,
            expected_bytes=int(declared) if declared else None,
            expected_sha1=_declared_sha1(self.environ.get("HTTP_OC_CHECKSUM", "")),
        )
        return self._upload

    def end_write(self, *, with_errors):
        upload, self._upload = self._upload, None
        if upload is None:
            return
        if with_errors:
            upload.discard()
            return
        placing.receive(self.context, self.parts, upload, expect_new=self.st is None, along=self._told_and_audited)
        self.context.audited = True  # committed, with its events
        self.st = os.lstat(self.disk)

    def _told_and_audited(self, new: bool) -> None:
        """The notices and the audit event of an upload, in the transaction of its record."""
        events.tell_written(self.context, self.parts, new=new)
        audit_with_change(self.environ, self.context, HTTPStatus.CREATED if new else HTTPStatus.NO_CONTENT)

    def delete(self):
        if self._overwritten_by_a_file():
            return  # replaced in place by the copy or move, its bytes kept as an earlier version
        self._remove()

    def _overwritten_by_a_file(self) -> bool:
        source, dest = self.context.target, self.context.destination
        return dest is not None and dest.parts == self.parts and source is not None and not source.is_collection

    def copy_move_single(self, dest_path, *, is_move):
        dest_parts = self.context.parts(dest_path)
        placing.copy_in(self.context, self.disk, dest_parts, uploaded_by=self._owner_after(is_move=is_move),
                        overwrite=_overwrite(self.environ), block_size=BLOCK_SIZE)  # fmt: skip
        dest = self.provider.storage.path_of(dest_parts)
        self._move_dead_properties(dest_path, is_move=is_move, with_children=False)
        self._tell_arrived(dest_parts, dest, moved=is_move)


class PortalFolder(_OnDisk, DAVCollection):
    def __init__(self, path: str, environ: dict, disk: Path | str, st: os.stat_result):
        super().__init__(path, environ)
        self._init_disk(disk, st)

    def get_etag(self):
        return None

    def _entries(self):
        with os.scandir(self.disk) as it:
            for entry in it:
                name = normalize(entry.name)
                if is_reserved(name) or entry.is_symlink():
                    continue
                if entry.is_dir(follow_symlinks=False) or entry.is_file(follow_symlinks=False):
                    yield name, entry

    def _visible(self, names):
        """Only what the actor may read: hidden means absent from every listing."""
        actor = self.context.actor
        if actor is None:
            return []
        parts = self.parts
        rules = self.context.rules(parts[0] if parts else None)
        writers = records.writers(self.context, parts, [n for n in names if is_desktop_file(n)])
        return [
            n for n in names
            if decide(actor, Action.READ, Target((*parts, n), exists=True, written_by=writers.get(n)), rules).allowed
        ]  # fmt: skip

    def get_member_names(self):
        return self._visible([name for name, _ in self._entries()])

    def get_member_list(self):
        members = self.visible_members()
        if self.environ["REQUEST_METHOD"] == "PROPFIND":
            # Every entry's dead properties and locks in one statement, for the answer that follows
            # (a tree's COPY, MOVE or DELETE walks its folders without reading them).
            urls = [self.get_ref_url(), *(m.get_ref_url() for m in members)]
            self.provider.lock_manager.storage.prefetch(urls, self.environ)
        return members

    def visible_members(self) -> list[PortalFile | PortalFolder]:
        """What the actor may see in the folder: one scandir, no stat per child beyond what
        scandir already has (no N+1), the policy on every child; for a contact in Team's
        shared, the files shared with the client as well."""
        entries = dict(self._entries())
        members: list[PortalFile | PortalFolder] = []
        prefix = self.path.rstrip("/") + "/"
        for name in self._visible(list(entries)):
            entry = entries[name]
            try:
                st = entry.stat(follow_symlinks=False)
            except FileNotFoundError:
                continue  # deleted since the folder was read: as if the listing came a moment later
            child = _resource(prefix + name, self.environ, entry.path, st)
            if child is not None:
                members.append(child)
        actor = self.context.actor
        if actor is not None and actor.is_contact and self.provider.is_team_root(self.parts):
            for name in shared_view(self.context, self.parts[0]):
                shared = self.provider.get_resource_inst(util.join_uri(self.path, name), self.environ)
                if shared is not None:
                    members.append(shared)
        return members

    def get_member(self, name):
        return self.provider.get_resource_inst(util.join_uri(self.path, name), self.environ)

    def get_descendants(self, **kwargs):
        # WsgiDAV asks for the whole tree when copying, even for "COPY, Depth: 0" of a folder,
        # which must copy the folder alone (RFC 4918, 9.8.3).
        environ = self.environ
        if (environ["REQUEST_METHOD"] == "COPY" and environ.get("HTTP_DEPTH") == "0"
                and self.parts == self.context.parts(environ["PATH_INFO"])):  # fmt: skip
            kwargs["depth"] = "0"
        return super().get_descendants(**kwargs)

    def create_empty_resource(self, name):
        path = util.join_uri(self.path, name)
        parts = self.context.parts(path)
        disk = self.provider.storage.path_of(parts)
        if self.environ["REQUEST_METHOD"] == "PUT":
            # Nothing on disk until the body has fully arrived (see PortalFile.end_write).
            return PortalFile(path, self.environ, disk, None)
        # LOCK on an unmapped URL: an empty file, created like any upload.
        placing.receive(self.context, parts, AtomicUpload(disk, max_bytes=0), expect_new=True)
        return self.provider.get_resource_inst(path, self.environ)

    def create_collection(self, name):
        placing.make_folder(self.context, self.context.parts(util.join_uri(self.path, name)))

    def support_recursive_delete(self):
        return True

    def delete(self):
        self._remove()
        return []

    def copy_move_single(self, dest_path, *, is_move):
        dest_parts = self.context.parts(dest_path)
        dest = self.provider.storage.path_of(dest_parts)
        try:
            os.mkdir(dest)
        except FileExistsError:
            pass  # copying over a folder: its contents are merged (RFC 4918, 9.8.4)
        shutil.copystat(self.disk, dest)
        records.record(self.context, dest_parts, is_folder=True, uploaded_by=self._owner_after(is_move=is_move))
        self._move_dead_properties(dest_path, is_move=is_move, with_children=False)


class SharedFile(PortalFile):
    """A private file shared with the client: read-only, at its place in Team's shared."""

    def __init__(self, path: str, environ: dict, disk: Path, st: os.stat_result, real_path: str):
        super().__init__(path, environ, disk, st)
        self.real_path = real_path

    @property
    def record_path(self) -> str:
        return self.real_path

    def get_content(self):
        # The download is the private document's: its read receipts and audit say so.
        self.context.audit_path = self.real_path
        return super().get_content()
