"""Fixes to WsgiDAV 4.4 applied on import, until they are fixed there.

1. RequestServer._copy_or_move splits the Destination with `urlparse`, which drops `;...` from
   the last segment as "params": a MOVE to "Minutes; final.docx" would land on "Minutes".
   `urlsplit` keeps the path whole.
2. WsgiDAVApp answers a path that climbs above the root ("/../x") with a Content-Length but
   no body (its generator discards the error page), so the client hangs until a timeout.
   Such a path is mapped to "/" here and refused with a clear 400 by RequestGuard, which
   checks the path as the client sent it.
3. WsgiDAVApp decodes the path as UTF-8 before any middleware and lets the error escape, so a
   path that is not UTF-8 (an "overlong" %c0%ae dot) drops the connection without an answer.
   It is kept as sent here, and RequestGuard refuses it with a 400.
4. RequestServer.do_PROPPATCH answers 400 to a Depth header other than 0, which RFC 4918 does not
   define for PROPPATCH: webdavclient3's set_property sends "Depth: 1". The header is ignored, so
   the PROPPATCH applies to the one resource it names, as without it.
"""

from urllib.parse import ParseResult, urlsplit

from wsgidav import request_server, util
from wsgidav.dav_error import DAVError

_normalize_path = util.normalize_path
_re_encode_wsgi = util.re_encode_wsgi


def _urlparse_whole_path(url, scheme="", allow_fragments=True):
    parts = urlsplit(url, scheme, allow_fragments)
    return ParseResult(parts.scheme, parts.netloc, parts.path, "", parts.query, parts.fragment)


def _normalize_path_within_root(path):
    try:
        return _normalize_path(path)
    except DAVError:
        return "/"


_do_proppatch = request_server.RequestServer.do_PROPPATCH


def _proppatch_without_depth(self, environ, start_response):
    environ.pop("HTTP_DEPTH", None)
    return _do_proppatch(self, environ, start_response)


def _re_encode_or_keep(s, *, encoding="utf-8", fallback=True):
    return _re_encode_wsgi(s, encoding=encoding, fallback=fallback)


request_server.urlparse = _urlparse_whole_path
util.normalize_path = _normalize_path_within_root
util.re_encode_wsgi = _re_encode_or_keep
request_server.RequestServer.do_PROPPATCH = _proppatch_without_depth
