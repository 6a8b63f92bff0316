"""A file's Content-Type from its name, looked up once per extension.

WsgiDAV asks `mimetypes` for every file (a listing of 1,000 files: 1,000 guesses); the answer
depends on the extension alone, so it is kept in a small table. Names whose answer depends on
more than the last extension (".tar.gz", ".tgz") are guessed each time, as WsgiDAV does.
"""

from __future__ import annotations

import mimetypes
import posixpath
from typing import Any

from wsgidav import util

_MAX_KEPT = 1024  # distinct extensions: a few dozen in practice; the cap bounds an odd folder
_known: dict[tuple[str, str | None], str] = {}


def content_type(path: str, config: dict[str, Any]) -> str:
    """What `wsgidav.util.guess_mime_type` answers for a file at `path` (or called so)."""
    ext = posixpath.splitext(path)[1]
    if ext.lower() in mimetypes.suffix_map or ext in mimetypes.encodings_map:
        return util.guess_mime_type(path, config)
    key = (ext, config.get("default_charset"))
    found = _known.get(key)
    if found is None:
        found = util.guess_mime_type("x" + ext, config)
        if len(_known) < _MAX_KEPT:
            _known[key] = found
    return found
