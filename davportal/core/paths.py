"""URL paths as the portal reads them: segments, in NFC."""

import re
from urllib.parse import quote

from policy.names import normalize

_CONTROL = re.compile("[\x00-\x1f\x7f]")


def has_control_characters(text: str) -> bool:
    """NUL, line breaks, escapes and DEL: in no path or login a client may send."""
    return _CONTROL.search(text) is not None


def split_path(path: str) -> tuple[str, ...]:
    return tuple(normalize(p) for p in path.split("/") if p)


def ref_url(client_id: str, path: str, *, is_folder: bool) -> str:
    """WsgiDAV's key for a resource's locks and dead properties (its quoted URL path)."""
    return quote(f"/{client_id}/{path}") + ("/" if is_folder else "")
