"""The provider layer: a client's folders and files on disk, as WsgiDAV resources.

Unlike WsgiDAV's FilesystemProvider it never truncates a file before the new one has fully
arrived, never follows or lists symlinks, lists a folder with one scandir and filters it with
the policy, and keeps the record of who uploaded what in step with the storage.
"""

from __future__ import annotations

import os
import shutil
import stat
from pathlib import Path
from urllib.parse import quote

from lxml import etree
from wsgidav import util
from wsgidav.dav_error import HTTP_NOT_FOUND, DAVError
from wsgidav.dav_provider import DAVCollection, DAVNonCollection, DAVProvider

from davportal import documents
from policy import Action, Role, Target, decide
from policy.names import is_desktop_file, is_reserved, normalize
from wsgidav_ext.atomic import AtomicUpload, copy_atomically, sync_folder
from wsgidav_ext.domain_controller import ACTOR_KEY
from wsgidav_ext.runtime import Portal

BLOCK_SIZE = 1024 * 1024  # large blocks: fewer system calls per GET, COPY and PUT
OC_CHECKSUMS = "{http://owncloud.org/ns}checksums"


def split_path(path: str) -> tuple[str, ...]:
    return tuple(normalize(p) for p in path.split("/") if p)


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
            return None
        if not parts:
            return PortalFolder("/", environ, disk, st)
        if not self.storage.is_plain(disk):
            return None  # a symlink anywhere on the way: never followed
        return _resource(util.join_uri("/", *parts), environ, disk, st)

    def record(self, environ: dict, path: str, *, is_folder: bool, uploaded_by: str | None = None,
               digests: documents.Digests | None = None):  # fmt: skip
        parts = split_path(path)
        if len(parts) < 2:
            return
        documents.record(self.portal.request_session(environ), parts[0], "/".join(parts[1:]),
                         uploaded_by or environ[ACTOR_KEY].login, is_folder=is_folder, digests=digests)  # fmt: skip

    def digests_of(self, path: str, environ: dict) -> documents.Digests | None:
        """A file's digests; a listing asks once per folder, so this is one query per folder."""
        parts = split_path(path)
        if len(parts) < 2:
            return None
        folder = parts[:-1]
        cache = environ.setdefault("davportal.checksums", {})
        if folder not in cache:
            with self.portal.sessions() as session:
                cache[folder] = documents.checksums(session, folder[0], "/".join(folder[1:]))
        return cache[folder].get(parts[-1])

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

    def get_property_value(self, name):
        # ownCloud's checksum property: rclone and Nextcloud clients verify content with it.
        # Asked for by name only (not in allprop), from the SHA-1 taken when the file arrived.
        if name == OC_CHECKSUMS:
            digests = self.provider.digests_of(self.path, self.environ)
            if digests is None:
                raise DAVError(HTTP_NOT_FOUND)
            element = etree.Element(OC_CHECKSUMS)
            text = f"SHA1:{digests.sha1} MD5:{digests.md5}"
            etree.SubElement(element, "{http://owncloud.org/ns}checksum").text = text
            return element
        return super().get_property_value(name)

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
        upload.commit()
        self.st = os.lstat(self.disk)
        self.provider.record(self.environ, self.path, is_folder=False, digests=upload.digests)

    def delete(self):
        os.unlink(self.disk)
        sync_folder(self.disk.parent)
        self.remove_all_properties(recursive=False)
        self.remove_all_locks(recursive=False)
        self.provider.forget(self.environ, self.path)

    def copy_move_single(self, dest_path, *, is_move):
        dest = self.provider.storage.path_of(split_path(dest_path))
        digests = copy_atomically(self.disk, dest, block_size=BLOCK_SIZE)
        # A copy is the copier's document; a moved file stays its uploader's.
        uploader = self.provider.uploader_of(self.path) if is_move else None
        self.provider.record(self.environ, dest_path, is_folder=False, uploaded_by=uploader, digests=digests)
        self._move_dead_properties(dest_path, is_move=is_move, with_children=False)


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
        rules = self.provider.portal.rules
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
        if self.provider.prop_manager:
            # Every entry's dead properties in one query, for the PROPFIND that follows.
            urls = [self.get_ref_url(), *(m.get_ref_url() for m in members)]
            self.provider.prop_manager.prefetch(urls, self.environ)
        return members

    def get_member(self, name):
        return self.provider.get_resource_inst(util.join_uri(self.path, name), self.environ)

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
        shutil.rmtree(self.disk)  # rmtree removes symlinks, never what they point to
        sync_folder(self.disk.parent)
        self.remove_all_properties(recursive=True)
        self.remove_all_locks(recursive=True)
        self.provider.forget(self.environ, self.path)
        return []

    def copy_move_single(self, dest_path, *, is_move):
        dest = self.provider.storage.path_of(split_path(dest_path))
        if not dest.is_dir():
            os.mkdir(dest)
        shutil.copystat(self.disk, dest)
        uploader = self.provider.uploader_of(self.path) if is_move else None
        self.provider.record(self.environ, dest_path, is_folder=True, uploaded_by=uploader)
        self._move_dead_properties(dest_path, is_move=is_move, with_children=False)
