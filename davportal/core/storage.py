"""Where a client's files live on disk, and how a URL path maps there without leaving the root."""

from __future__ import annotations

import os
from pathlib import Path

from davportal.core.errors import BadRequest, NotFound
from policy import Target
from policy.names import is_reserved, normalize


class Storage:
    def __init__(self, root: os.PathLike | str):
        self.root = Path(root).absolute()

    def ensure_root(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)

    def path_of(self, parts: tuple[str, ...]) -> Path:
        """The disk path of URL segments; refuses anything that could step outside the root."""
        for part in parts:
            if part in ("", ".", "..") or "/" in part or "\\" in part or "\0" in part:
                raise BadRequest("The path contains a segment that is not allowed.")
        return self.root.joinpath(*parts)

    def is_plain(self, path: Path) -> bool:
        """True when nothing between the root and `path` is a symlink (we never follow them)."""
        # Plain strings, not Path objects: every request asks this of its target and its folders.
        root, current = str(self.root), str(path)
        while len(current) > len(root):
            if os.path.islink(current):
                return False
            current = os.path.dirname(current)
        return True

    def case_twin(self, parts: tuple[str, ...]) -> str | None:
        """A name in the same folder that differs from this one only in case, if there is one."""
        wanted = parts[-1].casefold()
        try:
            names = os.listdir(self.path_of(parts[:-1]))  # names only: no DirEntry, no stat
        except (FileNotFoundError, NotADirectoryError):
            return None
        for name in map(normalize, names):
            if name != parts[-1] and name.casefold() == wanted and not is_reserved(name):
                return name
        return None

    def target(self, parts: tuple[str, ...]) -> Target:
        """What is at a path, for the policy; a document that is not there is refused."""
        disk = self.path_of(parts)
        if not disk.exists() or not self.is_plain(disk):
            raise NotFound(f"There is no '{'/'.join(parts[1:])}' in client '{parts[0]}'.")
        return Target(parts, exists=True, is_collection=disk.is_dir())
