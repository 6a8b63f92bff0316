"""A fix to WsgiDAV 4.4 applied on import, until it is fixed there.

RequestServer._copy_or_move splits the Destination with `urlparse`, which drops `;...` from
the last segment as "params": a MOVE to "Minutes; final.docx" would land on "Minutes".
`urlsplit` keeps the path whole.
"""

from urllib.parse import ParseResult, urlsplit

from wsgidav import request_server


def _urlparse_whole_path(url, scheme="", allow_fragments=True):
    parts = urlsplit(url, scheme, allow_fragments)
    return ParseResult(parts.scheme, parts.netloc, parts.path, "", parts.query, parts.fragment)


request_server.urlparse = _urlparse_whole_path
