"""After the policy has said yes: a browser on a folder gets its page; files get safe headers.

A WebDAV client never GETs a folder (it lists with PROPFIND), so a GET of a folder is a browser
(or something acting like one): it gets the folder's page; so does a GET of a file with
`?versions`, which gets the page of its earlier versions. Files are served by WsgiDAV as for
any client, with headers that keep a browser from running them: only PDFs and images preview
inline, everything else downloads.
"""

from __future__ import annotations

from urllib.parse import parse_qs, quote

from wsgidav.mw.base_mw import BaseMiddleware

from davportal.services.request import RequestContext
from davportal.web.document_requests import client_requests, home_requests
from davportal.web.history import history_context
from davportal.web.render import FLASH_COOKIE, common_context, respond, set_cookie
from davportal.web.views import PREVIEWABLE, folder_context

PREVIEW_CSP = "default-src 'none'; img-src 'self'; style-src 'unsafe-inline'; object-src 'self'; frame-ancestors 'self'"


class WebPages(BaseMiddleware):
    def __call__(self, environ, start_response):
        request = RequestContext.of(environ)
        target = request.target
        if environ["REQUEST_METHOD"] not in ("GET", "HEAD") or target is None or not target.exists:
            return self.next_app(environ, start_response)
        if target.is_collection:
            actor = request.actor
            query = {k: v[0] for k, v in parse_qs(environ.get("QUERY_STRING", "")).items()}
            context = common_context(environ, actor) | folder_context(
                environ, actor, environ["PATH_INFO"], query.get("q", ""), include_archived=query.get("archived") == "1"
            )
            if len(target.parts) <= 1:  # the home page, or a client's: what is asked of the client first
                client_id = target.parts[0] if target.parts else None
                context |= home_requests(environ, actor, client_id)
                if client_id is not None:
                    context |= client_requests(environ, actor, client_id)
            return respond(environ, start_response, "200 OK", "folder.html", context,
                           extra=[set_cookie(environ, FLASH_COOKIE, "", max_age=0)])  # fmt: skip
        if "versions" in parse_qs(environ.get("QUERY_STRING", ""), keep_blank_values=True):
            context = common_context(environ, request.actor) | history_context(environ, request.actor,
                                                                                environ["PATH_INFO"])  # fmt: skip
            return respond(environ, start_response, "200 OK", "versions.html", context)
        return self.next_app(environ, _with_file_headers(environ, start_response, target.parts[-1]))


def _with_file_headers(environ, start_response, name: str):
    previewing = "preview=1" in environ.get("QUERY_STRING", "")
    inline = previewing and name.rpartition(".")[2].lower() in PREVIEWABLE
    disposition = f"{'inline' if inline else 'attachment'}; filename*=UTF-8''{quote(name)}"

    def adding(status, headers, exc_info=None):
        if status.startswith("2"):
            headers = [*headers, ("X-Content-Type-Options", "nosniff"), ("Content-Disposition", disposition)]
            if inline:
                headers.append(("Content-Security-Policy", PREVIEW_CSP))
        return start_response(status, headers, exc_info)

    return adding
