"""The data set every server serves: two folders of many small files, a large and a huge file."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from davportal.core.settings import Folders

CLIENT = "bench"
DATA_FOLDER = "Data"
SMALL_FILES = 1000
SMALL_SIZE = 10 * 1024
BIG_FILE = "big.pdf"
BIG_SIZE = 1024 * 1024
HUGE_FILE = "huge.pdf"
# A Depth 1 listing of the data folder: the folder itself, the small files, the big and the huge one.
LISTING_ENTRIES = 1 + SMALL_FILES + 2
# The folder a contact lists: the portal's Team's shared (its default name), with as many files.
SHARED_FOLDER = Folders().team_shared
SHARED_LISTING_ENTRIES = 1 + SMALL_FILES
HUGE_BLOCK = 1024 * 1024


def small_name(index: int) -> str:
    return f"f{index:04d}.txt"


def write_client_data(storage_root: Path, huge_size: int) -> None:
    """Write the files straight to disk, into the tree every server's own is copied from: the bench
    measures serving them, not uploading them."""
    client = storage_root / CLIENT
    folder = client / DATA_FOLDER
    shared = client / SHARED_FOLDER
    folder.mkdir(parents=True)
    shared.mkdir()
    block = os.urandom(SMALL_SIZE)
    for index in range(SMALL_FILES):
        (folder / small_name(index)).write_bytes(numbered(block, index))
        (shared / small_name(index)).write_bytes(numbered(block, SMALL_FILES + index))
    (folder / BIG_FILE).write_bytes(os.urandom(BIG_SIZE))
    with open(folder / HUGE_FILE, "wb") as huge:
        for chunk in blocks(huge_size):
            huge.write(chunk)


def blocks(size: int):
    """`size` bytes in blocks of one random MiB, each numbered: cheap to make, never all in memory."""
    block = os.urandom(HUGE_BLOCK)
    for index, offset in enumerate(range(0, size, HUGE_BLOCK)):
        yield numbered(block, index)[: size - offset]


def numbered(block: bytes, index: int) -> bytes:
    # A counter in front makes every file (and block) differ, without the cost of fresh random bytes.
    prefix = f"{index:08d}".encode()
    return prefix + block[len(prefix) :]


def copy_tree(storage_root: Path, destination: Path) -> Path:
    """Each other server gets its own copy, taken before any server starts, so all trees are identical.

    `destination` may exist already: another portal's storage, holding the folders its client add made.
    """
    return Path(shutil.copytree(storage_root, destination, dirs_exist_ok=True))
