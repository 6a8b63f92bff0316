"""Uploads written beside their target and renamed into place only when complete."""

from __future__ import annotations

import errno
import hashlib
import os
import secrets
import shutil
import time
from pathlib import Path
from typing import NamedTuple

from davportal.core.errors import BadRequest, TooLarge
from policy.names import RESERVED_PREFIX, too_large_reason


class Digests(NamedTuple):
    """Of a file's content, taken while it arrived: clients verify downloads against them."""

    sha1: str
    md5: str


class AtomicUpload:
    """A file-like sink: counts bytes, refuses past the limit, and replaces the target on commit.

    Until `commit()` the previous version stays intact and nothing half-written is visible:
    the bytes go to a hidden temporary file in the same folder (same filesystem, so the final
    rename is atomic).
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

    def write(self, data: bytes) -> int:
        self.size += len(data)
        if self.size > self.max_bytes:
            raise TooLarge(too_large_reason(self.max_bytes))
        self._sha1.update(data)
        self._md5.update(data)
        return self._file.write(data)

    @property
    def digests(self) -> Digests:
        return Digests(self._sha1.hexdigest(), self._md5.hexdigest())

    def writelines(self, chunks) -> None:
        for chunk in chunks:
            self.write(chunk)

    def close(self) -> None:
        """Flush to disk; the target is untouched until commit()."""
        if not self._file.closed:
            self._file.flush()
            os.fsync(self._file.fileno())
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
        if not self._file.closed:
            self._file.close()
        self.temp.unlink(missing_ok=True)


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
    """fsync a folder, so that a rename or a new entry in it survives a power cut."""
    fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


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
