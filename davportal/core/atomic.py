"""Uploads written beside their target and renamed into place only when complete."""

from __future__ import annotations

import errno
import hashlib
import os
import queue
import secrets
import shutil
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

from davportal.core.errors import BadRequest, TooLarge
from policy.names import RESERVED_PREFIX, too_large_reason


class Digests(NamedTuple):
    """Of a file's content, taken while it arrived: clients verify downloads against them."""

    sha1: str
    md5: str


BLOCKS_IN_FLIGHT = 1  # between the network read and the disk: a large upload's memory stays flat
# Uploads hashed and written beside their network read at once, per process: one per core is all
# the overlap there is; the others are stored as they arrive, so many at once add no memory.
PIPELINES = threading.BoundedSemaphore(os.cpu_count() or 1)
FLUSH_EVERY = 16 * 1024 * 1024  # bytes a large upload writes before their flush to disk is started


class AtomicUpload:
    """A file-like sink: counts bytes, refuses past the limit, and replaces the target on commit.

    Until `commit()` the previous version stays intact and nothing half-written is visible:
    the bytes go to a hidden temporary file in the same folder (same filesystem, so the final
    rename is atomic). From its second block on, an upload is hashed, written and flushed by a
    thread of its own while the next block arrives (hashlib and the disk release the GIL).
    """

    def __init__(
        self, target: Path, *, max_bytes: int, expected_bytes: int | None = None, expected_sha1: str | None = None
    ):
        self.target = target
        self.max_bytes = max_bytes
        self.expected_bytes = expected_bytes
        self.expected_sha1 = expected_sha1
        self.size = 0
        # Taken on the way in, never by reading the file again.
        self._sha1 = hashlib.sha1(usedforsecurity=False)
        self._md5 = hashlib.md5(usedforsecurity=False)
        self.temp = target.with_name(f"{RESERVED_PREFIX}{secrets.token_hex(8)}.part")
        self._file = open(self.temp, "xb")
        self._writer: _Writer | None = None
        self._inline = False
        self._unflushed = 0
        self._flushed = 0

    def write(self, data: bytes) -> int:
        if self.size and self._writer is None and not self._inline:
            # A second block: the upload is large. Overlapped where a core is free for it.
            if PIPELINES.acquire(blocking=False):
                self._writer = _Writer(self._store_flushing)
            else:
                self._inline = True
        self.size += len(data)
        if self.size > self.max_bytes:
            raise TooLarge(too_large_reason(self.max_bytes))
        if self._writer is not None:
            self._writer.put(data)
        else:
            self._store(data)
        return len(data)

    def _store(self, data: bytes) -> None:
        self._sha1.update(data)
        self._md5.update(data)
        self._file.write(data)

    def _store_flushing(self, data: bytes) -> None:
        self._store(data)
        self._unflushed += len(data)
        if self._unflushed >= FLUSH_EVERY:
            # Start writing what has arrived to disk without waiting for it (Linux starts the
            # writeback of dirty pages it is told are not needed), so the last flush is short.
            self._file.flush()
            if hasattr(os, "posix_fadvise"):  # Linux, the BSDs; not macOS
                os.posix_fadvise(self._file.fileno(), self._flushed, self._unflushed, os.POSIX_FADV_DONTNEED)
            self._flushed += self._unflushed
            self._unflushed = 0

    @property
    def digests(self) -> Digests:
        return Digests(self._sha1.hexdigest(), self._md5.hexdigest())

    def writelines(self, chunks) -> None:
        for chunk in chunks:
            self.write(chunk)

    def close(self) -> None:
        """Flush to disk; the target is untouched until commit()."""
        if self._writer is not None:
            writer, self._writer = self._writer, None
            writer.finish()
        if not self._file.closed:
            self._file.flush()
            os.fdatasync(self._file.fileno())  # the bytes and what reading them needs; not the times
            self._file.close()

    def verify(self) -> None:
        """Flush, and refuse an upload that arrived short or damaged (discarding it)."""
        self.close()
        if self.expected_bytes is not None and self.size != self.expected_bytes:
            self.discard()
            raise BadRequest(
                f"The upload was cut short: {self.size:,} of {self.expected_bytes:,} bytes arrived. "
                "Nothing was changed; please try again."
            )
        if self.expected_sha1 is not None and self.digests.sha1 != self.expected_sha1:
            self.discard()
            raise BadRequest("The file arrived damaged (its checksum does not match). Nothing was changed; "
                             "please try again.")  # fmt: skip

    def commit(self, *, exclusive: bool = False) -> None:
        """Put the complete file in place: over the target, or (`exclusive`) only where nothing is.

        An exclusive commit raises FileExistsError and leaves the upload to discard when the
        name was taken meanwhile, whoever took it.
        """
        self.verify()
        if exclusive:
            place_new(self.temp, self.target)
        else:
            os.replace(self.temp, self.target)
        sync_folder(self.target.parent)

    def discard(self) -> None:
        if self._writer is not None:
            writer, self._writer = self._writer, None
            writer.abandon()
        if not self._file.closed:
            self._file.close()
        self.temp.unlink(missing_ok=True)


class _Writer:
    """Hands blocks to a thread that stores them, at most BLOCKS_IN_FLIGHT ahead of it."""

    def __init__(self, store: Callable[[bytes], None]):
        self._store = store
        self._blocks: queue.Queue[bytes | None] = queue.Queue(BLOCKS_IN_FLIGHT)
        self._failure: BaseException | None = None
        self._abandoned = False
        self._thread = threading.Thread(target=self._run, name="upload-writer", daemon=True)
        self._thread.start()

    def put(self, data: bytes) -> None:
        if self._failure is not None:
            raise self._failure
        if data:
            self._blocks.put(data)

    def finish(self) -> None:
        """Wait until every block is stored; a failure to store one is raised here."""
        self._end()
        if self._failure is not None:
            raise self._failure

    def abandon(self) -> None:
        self._abandoned = True
        self._end()

    def _end(self) -> None:
        self._blocks.put(None)
        self._thread.join()
        PIPELINES.release()

    def _run(self) -> None:
        while (data := self._blocks.get()) is not None:
            if self._failure is None and not self._abandoned:
                try:
                    self._store(data)
                except BaseException as exc:  # raised in the request's thread at its next block
                    self._failure = exc


def place_new(source: Path, target: Path) -> None:
    """Rename `source` to `target` unless something is there: a hard link fails if the name exists."""
    try:
        os.link(source, target)
    except OSError as exc:
        if exc.errno not in (errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP):
            raise
        # A filesystem without hard links: the name lock keeps other portal writers out.
        if os.path.lexists(target):
            raise FileExistsError(errno.EEXIST, "File exists", str(target)) from None
        os.replace(source, target)
        return
    os.unlink(source)


def keep_aside(source: Path, holder: Path) -> None:
    """A second name for a file's bytes, which outlives the file being replaced or deleted."""
    holder.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.link(source, holder)
    except OSError as exc:
        if exc.errno not in (errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP):
            raise
        shutil.copy2(source, holder)  # no hard links here: a copy keeps the bytes as well
    sync_folder(holder.parent)


def sync_folder(folder: Path) -> None:
    """Make a rename or a new entry in `folder` survive a power cut (a flush of the folder)."""
    FOLDER_FLUSHES.wait(folder, FOLDER_FLUSHES.changed(folder))


def flush_folder(folder: Path) -> None:
    """fsync a folder now."""
    fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@dataclass
class _Folder:
    done: threading.Condition
    changes: int = 0  # changes made so far that wait for (or have had) a flush
    flushed: int = 0  # changes known to be on disk
    flushing: bool = False
    waiting: int = 0


class FolderFlushes:
    """Group commit for folders: a flush of a folder that started after my change covers it.

    Concurrent uploads into one folder each note their change once it is made, then wait: one of
    them flushes the folder for every change noted until then, the others wait for that flush
    (or the next), and no change is answered before a flush that began after it.
    """

    def __init__(self):
        self._lock = threading.Lock()
        self._folders: dict[Path, _Folder] = {}

    def changed(self, folder: Path) -> int:
        """Note a change just made in `folder` (a rename, a new entry): the ticket to wait with."""
        with self._lock:
            state = self._folders.get(folder)
            if state is None:
                state = self._folders[folder] = _Folder(threading.Condition(self._lock))
            state.changes += 1
            state.waiting += 1
            return state.changes

    def wait(self, folder: Path, ticket: int) -> None:
        """Return once the change with this ticket is on disk."""
        with self._lock:
            state = self._folders[folder]
            try:
                while state.flushed < ticket:
                    if state.flushing:
                        state.done.wait()
                        continue
                    state.flushing, covered = True, state.changes
                    self._lock.release()
                    try:
                        flush_folder(folder)
                    finally:
                        self._lock.acquire()
                        state.flushing = False
                        state.done.notify_all()
                    state.flushed = max(state.flushed, covered)  # only once the flush succeeded
            finally:
                state.waiting -= 1
                if not state.waiting:
                    del self._folders[folder]


FOLDER_FLUSHES = FolderFlushes()  # per process: the uploads of one process share their flushes


def copy_beside(source: Path, target: Path, *, block_size: int) -> AtomicUpload:
    """A complete copy of a file's bytes and times, beside `target`, ready to commit there."""
    upload = AtomicUpload(target, max_bytes=os.stat(source).st_size)
    try:
        with open(source, "rb") as src:
            while chunk := src.read(block_size):
                upload.write(chunk)
        upload.close()
        st = os.stat(source)
        os.utime(upload.temp, ns=(st.st_atime_ns, st.st_mtime_ns))
    except BaseException:
        upload.discard()
        raise
    return upload


def sweep_partial_uploads(root: Path, stale_seconds: float) -> int:
    """Remove temporary upload files that nobody has written to for a while.

    An upload in progress (on this node or another one sharing the storage) keeps touching its
    file, so only files idle longer than `stale_seconds` are a crash's leftovers.
    """
    cutoff = time.time() - stale_seconds
    removed = 0
    for folder, dirs, files in os.walk(root):
        dirs[:] = [d for d in dirs if not os.path.islink(os.path.join(folder, d))]
        for name in files:
            if name.startswith(RESERVED_PREFIX):
                path = os.path.join(folder, name)
                try:
                    if os.lstat(path).st_mtime < cutoff:
                        os.unlink(path)
                        removed += 1
                except FileNotFoundError:
                    pass
    return removed
