"""Fixes to WsgiDAV 4.4 applied on import, until they are fixed there.

1. RequestServer._copy_or_move splits the Destination with `urlparse`, which drops `;...` from
   the last segment as "params": a MOVE to "Minutes; final.docx" would land on "Minutes".
   `urlsplit` keeps the path whole.
2. WsgiDAVApp answers a path that climbs above the root ("/../x") with a Content-Length but
   no body (its generator discards the error page), so the client hangs until a timeout.
   Such a path is mapped to "/" here and refused with a clear 400 by RequestGuard, which
   checks the path as the client sent it.
"""

from urllib.parse import ParseResult, urlsplit

from wsgidav import request_server, util
from wsgidav.dav_error import DAVError

_normalize_path = util.normalize_path


def _urlparse_whole_path(url, scheme="", allow_fragments=True):
    parts = urlsplit(url, scheme, allow_fragments)
    return ParseResult(parts.scheme, parts.netloc, parts.path, "", parts.query, parts.fragment)


def _normalize_path_within_root(path):
    try:
        return _normalize_path(path)
    except DAVError:
        return "/"


request_server.urlparse = _urlparse_whole_path
util.normalize_path = _normalize_path_within_root
