"""What the page's buttons do: each becomes the very WebDAV request a drive would send.

The request goes through the whole app (audit, login, the policy, the provider), so the page has
no rule of its own: a refusal comes back with the same status and reason a WebDAV client gets.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from urllib.parse import quote
from xml.sax.saxutils import escape

from lxml import etree

from davportal.services.request import RequestContext

NS = "urn:davportal"


@dataclass(frozen=True)
class Outcome:
    ok: bool
    message: str
    back: str  # the folder page to return to


def perform(environ: dict, form: dict[str, str]) -> Outcome:
    action, path = form.get("action", ""), form.get("path", "")
    parts = RequestContext.of(environ).parts(path)
    folder = "/" + "/".join(parts[:-1]) + "/" if parts else "/"
    name = parts[-1] if parts else ""
    if action == "delete":
        return _outcome(_request(environ, "DELETE", path), f"Deleted {name}.", folder)
    if action == "mkdir":
        new = form.get("name", "").strip()
        here = "/" + "/".join(parts) + "/" if parts else "/"
        return _outcome(_request(environ, "MKCOL", here + new + "/"), f"Created the folder {new}.", here)
    if action in ("move", "copy"):
        destination = form.get("destination", "").strip()
        if destination.endswith("/"):
            destination += name
        if not destination.startswith("/"):
            destination = folder + destination
        method = "MOVE" if action == "move" else "COPY"
        headers = {"HTTP_DESTINATION": quote(destination), "HTTP_OVERWRITE": "F"}
        status = _request(environ, method, path, headers=headers)
        verb = "Moved" if action == "move" else "Copied"
        return _outcome(status, f"{verb} {name} to {destination}.", folder)
    if action == "restore":
        version = form.get("version", "")
        body = (f"<D:propertyupdate xmlns:D='DAV:' xmlns:p='{NS}'><D:set><D:prop><p:restore-version>"
                f"{escape(version)}</p:restore-version></D:prop></D:set></D:propertyupdate>")  # fmt: skip
        return _outcome(_request(environ, "PROPPATCH", path, body=body.encode()),
                        f"{name} is back as it was in that version; what it replaced is kept.", folder)  # fmt: skip
    if action in ("describe", "share", "unshare"):
        prop, value = ("description", form.get("text", "").strip()) if action == "describe" else (
            "shared", "true" if action == "share" else "false")  # fmt: skip
        body = (f"<D:propertyupdate xmlns:D='DAV:' xmlns:p='{NS}'><D:set><D:prop><p:{prop}></p:{prop}></D:prop>"
                "</D:set></D:propertyupdate>")  # fmt: skip
        root = etree.fromstring(body)
        root.find(f".//{{{NS}}}{prop}").text = value
        done = {"describe": "Description saved.", "share": f"{name} is shared with the client.",
                "unshare": f"{name} is no longer shared."}[action]  # fmt: skip
        return _outcome(_request(environ, "PROPPATCH", path, body=etree.tostring(root)), done, folder)
    return Outcome(False, "That action is not known.", folder)


def _request(environ: dict, method: str, path: str, *, headers: dict | None = None,
             body: bytes = b"") -> tuple[int, str]:  # fmt: skip
    """Run one request through the whole app as the signed-in user; (status, reason or body).

    The sub-request keeps none of this request's state (no `davportal.*` or `wsgidav.*` key):
    it gets a context of its own from the audit trail and signs in again from the cookie,
    carrying the session's CSRF token as a page's script would.
    """
    csrf = RequestContext.of(environ).csrf or ""
    sub = {key: value for key, value in environ.items() if not key.startswith(("davportal.", "wsgidav."))}
    sub.update({
        "REQUEST_METHOD": method, "PATH_INFO": path, "SCRIPT_NAME": "", "QUERY_STRING": "",
        "REQUEST_URI": quote(path), "RAW_URI": quote(path), "CONTENT_LENGTH": str(len(body)),
        "CONTENT_TYPE": "application/xml" if body else "", "wsgi.input": io.BytesIO(body),
        "HTTP_X_CSRF_TOKEN": csrf, "HTTP_ACCEPT": "*/*",
    })  # fmt: skip
    sub.pop("HTTP_TRANSFER_ENCODING", None)
    sub.update(headers or {})
    captured = {}

    def start_response(status, response_headers, exc_info=None):
        captured["status"] = int(status.split(" ", 1)[0])

    chunks = environ["wsgidav.app"](sub, start_response)
    try:
        text = b"".join(chunks).decode("utf-8", "replace")
    finally:
        if hasattr(chunks, "close"):
            chunks.close()
    return captured.get("status", 500), text


def _outcome(result: tuple[int, str], success: str, back: str) -> Outcome:
    status, text = result
    if status == 207:
        # PROPPATCH answers per property: the reason of a refusal is in the multistatus body.
        tree = etree.fromstring(text.encode())
        statuses = [s.text or "" for s in tree.iter("{DAV:}status")]
        if all(" 200 " in s for s in statuses):
            return Outcome(True, success, back)
        reasons = [d.text for d in tree.iter("{DAV:}responsedescription") if d.text]
        return Outcome(False, (reasons[0] if reasons else "That was not allowed."), back)
    if 200 <= status < 300:
        return Outcome(True, success, back)
    return Outcome(False, text.strip() or f"That did not work (status {status}).", back)
