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
import uuid
from datetime import datetime
from pathlib import Path
from urllib.parse import quote

from wsgidav import util
from wsgidav.dav_provider import DAVCollection, DAVNonCollection, DAVProvider

from davportal import documents, trash
from notifications import events
from policy import Action, Role, Target, decide
from policy.names import RESERVED_PREFIX, is_desktop_file, is_reserved, normalize
from wsgidav_ext.antivirus import Infected, ScannerUnavailable
from wsgidav_ext.atomic import AtomicUpload, copy_atomically, sync_folder
from wsgidav_ext.audit import add_event
from wsgidav_ext.audit_keys import AUDIT_PATH_KEY
from wsgidav_ext.domain_controller import ACTOR_KEY
from wsgidav_ext.paths import split_path
from wsgidav_ext.portal_properties import is_portal_property, portal_property_value, set_portal_property
from wsgidav_ext.runtime import Portal
from wsgidav_ext.shared_view import shared_view

BLOCK_SIZE = 1024 * 1024  # large blocks: fewer system calls per GET, COPY and PUT
QUARANTINE_FOLDER = RESERVED_PREFIX + "quarantine"  # infected uploads kept apart, for the admin


class PortalProvider(DAVProvider):
    def __init__(self, wsgidav_app):
        super().__init__()
        self.portal = Portal.of(wsgidav_app.config)
        self.storage = self.portal.storage
        self.portal.sweep()  # a crash's half-written uploads, found at start

    def __repr__(self):
        return f"{self.__class__.__name__}({str(self.storage.root)!r})"

    def is_readonly(self):
        return False

    def get_resource_inst(self, path: str, environ: dict):
        self._count_get_resource_inst += 1
        parts = split_path(path)
        if any(is_reserved(p) for p in parts):
            return None
        disk = self.storage.path_of(parts)
        try:
            st = os.lstat(disk)
        except (FileNotFoundError, NotADirectoryError):
            return self._shared_file(parts, environ)
        except OSError as exc:
            if exc.errno == errno.ENAMETOOLONG:
                return None  # no such name can exist; creating one is refused by check_new_name
            raise
        if not parts:
            return PortalFolder("/", environ, disk, st)
        if not self.storage.is_plain(disk):
            return None  # a symlink anywhere on the way: never followed
        if is_desktop_file(parts[-1]) and not self._readable_desktop_file(parts, environ):
            return None  # the other side's Finder/Office file: not there at all, as far as they can tell
        return _resource(util.join_uri("/", *parts), environ, disk, st)

    def _readable_desktop_file(self, parts: tuple[str, ...], environ: dict) -> bool:
        actor = environ.get(ACTOR_KEY)
        if actor is None or len(parts) < 2:
            return True
        written_by = self.writers(parts[:-1], [parts[-1]]).get(parts[-1])
        target = Target(parts, exists=True, written_by=written_by)
        return decide(actor, Action.READ, target, self.portal.rules_for(parts[0], environ)).allowed

    def _shared_file(self, parts: tuple[str, ...], environ: dict) -> PortalFile | None:
        """For a contact, a file shared from a private folder, as it appears in Team's shared."""
        actor = environ.get(ACTOR_KEY)
        if actor is None or not actor.is_contact or len(parts) != 3 or not self.is_team_root(parts[:2]):
            return None
        real_path = shared_view(self, environ, parts[0]).get(parts[2])
        real = self.get_resource_inst(real_path, environ) if real_path else None
        if real is None or real.is_collection:
            return None
        return SharedFile(util.join_uri("/", *parts), environ, real.disk, real.st, real_path)

    def is_team_root(self, parts: tuple[str, ...]) -> bool:
        rules = self.portal.matter_types.default_rules  # the area folders are the same for every client
        return len(parts) == 2 and rules.is_rule_folder(parts[1:]) and rules.rule_at(parts[1:]).area == "team-shared"

    def record(self, environ: dict, path: str, *, is_folder: bool, uploaded_by: str | None = None,
               digests: documents.Digests | None = None):  # fmt: skip
        parts = split_path(path)
        if len(parts) < 2:
            return
        documents.record(self.portal.request_session(environ), parts[0], "/".join(parts[1:]),
                         uploaded_by or environ[ACTOR_KEY].login, is_folder=is_folder, digests=digests)  # fmt: skip

    def facts_of(self, path: str, environ: dict) -> documents.Facts | None:
        """What the portal knows of a document; a listing asks once per folder (one query each)."""
        parts = split_path(path)
        if len(parts) < 2:
            return None
        folder = parts[:-1]
        cache = environ.setdefault("davportal.facts", {})
        if folder not in cache:
            with self.portal.sessions() as session:
                cache[folder] = documents.facts_in(session, folder[0], "/".join(folder[1:]))
        return cache[folder].get(parts[-1])

    def seen_by(self, path: str, environ: dict) -> list[tuple[str, datetime]]:
        """Contacts who downloaded a document, and when first; one query per folder listed."""
        parts = split_path(path)
        folder = parts[:-1]
        cache = environ.setdefault("davportal.seen", {})
        if folder not in cache:
            with self.portal.sessions() as session:
                cache[folder] = documents.seen_in(session, folder[0], "/".join(folder[1:]))
        return cache[folder].get(parts[-1], [])

    def forget(self, environ: dict, path: str):
        parts = split_path(path)
        if len(parts) >= 2:
            documents.forget(self.portal.request_session(environ), parts[0], "/".join(parts[1:]))

    def moved(self, environ: dict, src: str, dest: str):
        src_parts, dest_parts = split_path(src), split_path(dest)
        documents.move(
            self.portal.request_session(environ),
            (src_parts[0], "/".join(src_parts[1:])),
            (dest_parts[0], "/".join(dest_parts[1:])),
        )

    def writers(self, folder: tuple[str, ...], names: list[str]) -> dict[str, Role]:
        """Whether staff or a contact wrote each named document in a client's folder (one query)."""
        if not folder or not names:
            return {}
        prefix = "/".join(folder[1:])
        paths = {f"{prefix}/{name}" if prefix else name: name for name in names}
        with self.portal.sessions() as session:
            roles = documents.writer_roles(session, folder[0], list(paths))
        return {paths[path]: Role(role) for path, role in roles.items()}

    def case_clash(self, path: str) -> str | None:
        """A name in the same folder that differs from this one only in case, if there is one."""
        parts = split_path(path)
        folder = self.storage.path_of(parts[:-1])
        wanted = parts[-1].casefold()
        try:
            with os.scandir(folder) as it:
                for entry in it:
                    name = normalize(entry.name)
                    if name != parts[-1] and name.casefold() == wanted and not is_reserved(name):
                        return name
        except (FileNotFoundError, NotADirectoryError):
            pass
        return None

    def tell_written(self, environ: dict, path: str, *, new: bool) -> None:
        """An upload finished: staff's tells the client's contacts; a contact's tells the firm."""
        actor = environ[ACTOR_KEY]
        parts = split_path(path)
        if len(parts) < 3:
            return
        session, settings = self.portal.request_session(environ), self.portal.settings.notifications
        below = "/".join(parts[1:])
        if actor.is_contact:
            events.tell_staff(session, settings, client_id=parts[0], path=below, actor=actor.login)
        else:
            events.tell_contacts(session, settings, self.portal.rules_for(parts[0], environ), client_id=parts[0],
                                 path=below, kind=events.NEW if new else events.UPDATED, actor=actor.login)  # fmt: skip

    def tell_arrived(self, environ: dict, src: str, dest: str, *, moved: bool) -> None:
        """Staff moved documents where contacts can now read them (and could not before), or copied
        them in from another client ("copy to matter"). A copy within one client tells nobody."""
        actor = environ[ACTOR_KEY]
        src_parts, dest_parts = split_path(src), split_path(dest)
        same_client = src_parts[:1] == dest_parts[:1]
        if actor.is_contact or len(dest_parts) < 3 or (same_client and not moved):
            return
        session, settings = self.portal.request_session(environ), self.portal.settings.notifications
        src_rules = self.portal.rules_for(src_parts[0], environ)
        dest_rules = self.portal.rules_for(dest_parts[0], environ)
        kind = events.MOVED if moved else events.COPIED
        disk = self.storage.path_of(dest_parts)
        files = [disk] if disk.is_file() else [p for p in disk.rglob("*") if p.is_file() and not p.is_symlink()]
        for file in files:
            relative = file.relative_to(disk).parts
            before = Target((*src_parts, *relative), exists=True)

            def could_read_before(contact, before=before) -> bool:
                return same_client and decide(contact, Action.READ, before, src_rules).allowed

            events.tell_contacts(session, settings, dest_rules, client_id=dest_parts[0], kind=kind,
                                 path="/".join((*dest_parts[1:], *relative)), actor=actor.login,
                                 could_read_before=could_read_before)  # fmt: skip

    def screen(self, environ: dict, upload: AtomicUpload, path: str) -> None:
        """Scan an upload before anyone can see it; an infected one is refused (or quarantined)."""
        scanner, settings = self.portal.scanner, self.portal.settings.antivirus
        if scanner is None or upload.size == 0:
            return
        try:
            verdict = scanner.scan(upload.temp)
        except ScannerUnavailable:
            if settings.when_unavailable == "accept":
                add_event(environ, "UNSCANNED", path, "stored without a virus scan: the scanner was unavailable")
                return
            upload.discard()
            raise
        if verdict.clean:
            return
        parts = split_path(path)
        if settings.on_infected == "quarantine":
            quarantine = self.storage.root / QUARANTINE_FOLDER
            quarantine.mkdir(exist_ok=True)
            os.replace(upload.temp, quarantine / f"{uuid.uuid4().hex}-{parts[-1]}")
        upload.discard()
        add_event(environ, "VIRUS", path, verdict.signature)
        with self.portal.sessions.begin() as session:  # kept even though the request is refused
            events.tell_staff(session, self.portal.settings.notifications, client_id=parts[0], kind=events.INFECTED,
                              path="/".join(parts[1:]), actor=environ[ACTOR_KEY].login)  # fmt: skip
        raise Infected(parts[-1], verdict.signature)

    def trash(self, resource: _OnDisk) -> None:
        """Out of every listing at once; bytes and records kept for the retention period."""
        parts = split_path(resource.path)
        environ = resource.environ
        trash.put_in_trash(self.portal.request_session(environ), self.storage, client_id=parts[0],
                           path="/".join(parts[1:]), is_folder=resource.is_collection,
                           deleted_by=environ[ACTOR_KEY].login, property_url=resource.get_ref_url())  # fmt: skip
        sync_folder(resource.disk.parent)

    def uploader_of(self, path: str) -> str | None:
        parts = split_path(path)
        if len(parts) < 2:
            return None
        with self.portal.sessions() as session:
            return documents.sole_uploader(session, parts[0], "/".join(parts[1:]))


def _declared_sha1(header: str) -> str | None:
    """The SHA-1 an ownCloud-style client declares for its upload ("SHA1:<hex>", maybe among others)."""
    for part in header.split():
        kind, _, value = part.partition(":")
        if kind.upper() == "SHA1" and value:
            return value.lower()
    return None


def _resource(path: str, environ: dict, disk: Path, st: os.stat_result):
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

    def _init_disk(self, disk: Path, st: os.stat_result | None):
        self.disk = disk
        self.st = st
        self.name = disk.name

    def get_display_name(self):
        return self.name

    def get_href(self):
        # WsgiDAV leaves "'" unencoded; neon (cadaver, davfs2) sends %27 and then cannot match
        # "Team's shared" in the answer. Encoded, every client matches it.
        return quote(self.provider.mount_path + self.provider.share_path + self.get_preferred_path(),
                     safe="/!*(),$-_|.")  # fmt: skip

    def get_creation_date(self):
        return self.st.st_ctime if self.st else None

    def get_last_modified(self):
        return self.st.st_mtime if self.st else None

    @property
    def record_path(self) -> str:
        """The path the portal's records know this document by."""
        return self.path

    def get_property_value(self, name):
        if is_portal_property(name):
            return portal_property_value(self, name)
        value = super().get_property_value(name)
        if name == "{DAV:}lockdiscovery":
            self._hide_others_lock_tokens(value)
        return value

    def _hide_others_lock_tokens(self, discovery) -> None:
        """Who holds a lock may show; its token only to the holder (a token is half a credential)."""
        actor = self.environ.get(ACTOR_KEY)
        holders = {lock["token"]: lock["principal"]
                   for lock in self.provider.lock_manager.get_url_lock_list(self.get_ref_url())}  # fmt: skip
        for active in discovery.findall("{DAV:}activelock"):
            token = active.find("{DAV:}locktoken")
            if token is not None and (actor is None or holders.get(token.findtext("{DAV:}href")) != actor.login):
                active.remove(token)

    def set_property_value(self, name, value, *, dry_run=False):
        if is_portal_property(name):
            return set_portal_property(self, name, value, dry_run=dry_run)
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
        dest = self.provider.storage.path_of(split_path(dest_path))
        os.rename(self.disk, dest)  # same filesystem: atomic, and nothing is copied
        sync_folder(dest.parent)
        if dest.parent != self.disk.parent:
            sync_folder(self.disk.parent)
        self.provider.moved(self.environ, self.path, dest_path)
        self._move_dead_properties(dest_path, is_move=True, with_children=True)
        self.provider.tell_arrived(self.environ, self.path, dest_path, moved=True)
        return []


class PortalFile(_OnDisk, DAVNonCollection):
    def __init__(self, path: str, environ: dict, disk: Path, st: os.stat_result | None):
        super().__init__(path, environ)
        self._init_disk(disk, st)  # st is None for a file whose first upload is arriving
        self._upload: AtomicUpload | None = None

    def get_content_length(self):
        return self.st.st_size if self.st else 0

    def get_content_type(self):
        return util.guess_mime_type(self.path, self.environ["wsgidav.config"])

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
        new = self.st is None
        upload.close()
        self.provider.screen(self.environ, upload, self.path)
        upload.commit()
        self.st = os.lstat(self.disk)
        self.provider.record(self.environ, self.path, is_folder=False, digests=upload.digests)
        self.provider.tell_written(self.environ, self.path, new=new)

    def delete(self):
        if is_desktop_file(self.name):
            # Finder's and Office's own files go for good: nobody restores a ~$ owner file.
            os.unlink(self.disk)
            sync_folder(self.disk.parent)
            self.remove_all_properties(recursive=False)
            self.provider.forget(self.environ, self.path)
        else:
            self.provider.trash(self)
        self.remove_all_locks(recursive=False)

    def copy_move_single(self, dest_path, *, is_move):
        dest = self.provider.storage.path_of(split_path(dest_path))
        digests = copy_atomically(self.disk, dest, block_size=BLOCK_SIZE)
        # A copy is the copier's document; a moved file stays its uploader's.
        uploader = self.provider.uploader_of(self.path) if is_move else None
        self.provider.record(self.environ, dest_path, is_folder=False, uploaded_by=uploader, digests=digests)
        self._move_dead_properties(dest_path, is_move=is_move, with_children=False)
        self.provider.tell_arrived(self.environ, self.path, dest_path, moved=is_move)


class PortalFolder(_OnDisk, DAVCollection):
    def __init__(self, path: str, environ: dict, disk: Path, st: os.stat_result):
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
        actor = self.environ.get(ACTOR_KEY)
        if actor is None:
            return []
        parts = split_path(self.path)
        rules = self.provider.portal.rules_for(parts[0] if parts else None, self.environ)
        writers = self.provider.writers(parts, [n for n in names if is_desktop_file(n)])
        return [
            n for n in names
            if decide(actor, Action.READ, Target((*parts, n), exists=True, written_by=writers.get(n)), rules).allowed
        ]  # fmt: skip

    def get_member_names(self):
        return self._visible([name for name, _ in self._entries()])

    def get_member_list(self):
        # One scandir, no stat per child beyond what scandir already has: no N+1.
        entries = dict(self._entries())
        members = []
        for name in self._visible(list(entries)):
            entry = entries[name]
            child = _resource(util.join_uri(self.path, name), self.environ,
                              self.disk / entry.name, entry.stat(follow_symlinks=False))  # fmt: skip
            if child is not None:
                members.append(child)
        parts = split_path(self.path)
        actor = self.environ.get(ACTOR_KEY)
        if actor is not None and actor.is_contact and self.provider.is_team_root(parts):
            for name in shared_view(self.provider, self.environ, parts[0]):
                shared = self.provider.get_resource_inst(util.join_uri(self.path, name), self.environ)
                if shared is not None:
                    members.append(shared)
        if self.provider.prop_manager:
            # Every entry's dead properties in one query, for the PROPFIND that follows.
            urls = [self.get_ref_url(), *(m.get_ref_url() for m in members)]
            self.provider.prop_manager.prefetch(urls, self.environ)
        return members

    def get_member(self, name):
        return self.provider.get_resource_inst(util.join_uri(self.path, name), self.environ)

    def get_descendants(self, **kwargs):
        # WsgiDAV asks for the whole tree when copying, even for "COPY, Depth: 0" of a folder,
        # which must copy the folder alone (RFC 4918, 9.8.3).
        environ = self.environ
        if (environ["REQUEST_METHOD"] == "COPY" and environ.get("HTTP_DEPTH") == "0"
                and split_path(self.path) == split_path(environ["PATH_INFO"])):  # fmt: skip
            kwargs["depth"] = "0"
        return super().get_descendants(**kwargs)

    def create_empty_resource(self, name):
        path = util.join_uri(self.path, name)
        disk = self.provider.storage.path_of(split_path(path))
        if self.environ["REQUEST_METHOD"] == "PUT":
            # Nothing on disk until the body has fully arrived (see PortalFile.end_write).
            return PortalFile(path, self.environ, disk, None)
        # LOCK on an unmapped URL: an empty file, created like any upload.
        upload = AtomicUpload(disk, max_bytes=0)
        upload.commit()
        self.provider.record(self.environ, path, is_folder=False, digests=upload.digests)
        return self.provider.get_resource_inst(path, self.environ)

    def create_collection(self, name):
        path = util.join_uri(self.path, name)
        disk = self.provider.storage.path_of(split_path(path))
        os.mkdir(disk)
        sync_folder(self.disk)
        self.provider.record(self.environ, path, is_folder=True)

    def support_recursive_delete(self):
        return True

    def delete(self):
        self.provider.trash(self)
        self.remove_all_locks(recursive=True)
        return []

    def copy_move_single(self, dest_path, *, is_move):
        dest = self.provider.storage.path_of(split_path(dest_path))
        if not dest.is_dir():
            os.mkdir(dest)
        shutil.copystat(self.disk, dest)
        uploader = self.provider.uploader_of(self.path) if is_move else None
        self.provider.record(self.environ, dest_path, is_folder=True, uploaded_by=uploader)
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
        self.environ[AUDIT_PATH_KEY] = self.real_path
        return super().get_content()
