"""The data set both servers serve: one client folder of many small files and one large file."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

CLIENT = "bench"
DATA_FOLDER = "Data"
SMALL_FILES = 1000
SMALL_SIZE = 10 * 1024
BIG_FILE = "big.pdf"
BIG_SIZE = 1024 * 1024
# A Depth 1 listing of the data folder: the folder itself, the small files and the big one.
LISTING_ENTRIES = 1 + SMALL_FILES + 1


def small_name(index: int) -> str:
    return f"f{index:04d}.txt"


def write_client_data(storage_root: Path) -> None:
    """Write the files straight to disk: the bench measures serving them, not uploading them."""
    folder = storage_root / CLIENT / DATA_FOLDER
    folder.mkdir(parents=True)
    for index in range(SMALL_FILES):
        (folder / small_name(index)).write_bytes(os.urandom(SMALL_SIZE))
    (folder / BIG_FILE).write_bytes(os.urandom(BIG_SIZE))


def copy_tree(storage_root: Path, destination: Path) -> Path:
    """Plain WsgiDAV gets its own copy, taken last, so both trees are identical."""
    return Path(shutil.copytree(storage_root, destination))
