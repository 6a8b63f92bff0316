"""HTML responses: Jinja2 templates (autoescaped), and the headers every page carries."""

from __future__ import annotations

from http.cookies import SimpleCookie
from urllib.parse import unquote

from jinja2 import Environment, PackageLoader, select_autoescape
from wsgidav import util

from davportal.services.request import RequestContext
from policy import Actor
from policy.pages import tools_of

WEB = "/.davportal-web"  # the pages' own routes: a reserved name, never a client's folder
FLASH_COOKIE = "davportal_flash"  # what the last action did, shown once on the next page
PAGE_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data: https:; "
    "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)
templates = Environment(loader=PackageLoader("davportal.web"), autoescape=select_autoescape(["html"]))


def page_headers(environ: dict, body: bytes | None, *, extra=(),
                 referrer: str = "same-origin") -> list[tuple[str, str]]:  # fmt: skip
    """A page's headers; with no body, for a page written as it goes (sent in chunks)."""
    headers = [
        ("Content-Type", "text/html; charset=utf-8"),
        *([("Content-Length", str(len(body)))] if body is not None else []),
        ("Content-Security-Policy", PAGE_CSP),
        ("X-Content-Type-Options", "nosniff"),
        ("X-Frame-Options", "DENY"),
        ("Referrer-Policy", referrer),  # "no-referrer" on a page whose address holds a secret
        ("Cache-Control", "no-store"),
        ("Date", util.get_rfc1123_time()),
        *extra,
    ]
    if environ.get("wsgi.url_scheme") == "https":
        headers.append(("Strict-Transport-Security", "max-age=31536000"))
    return headers


def respond(environ, start_response, status: str, template: str, context: dict, *, extra=(),
            referrer: str = "same-origin"):  # fmt: skip
    body = templates.get_template(template).render(web=WEB, **context).encode("utf-8")
    start_response(status, page_headers(environ, body, extra=extra, referrer=referrer))
    return [b"" if environ["REQUEST_METHOD"] == "HEAD" else body]


def respond_as_it_goes(environ, start_response, template: str, context: dict):
    """A page sent while it is being written: for work that shows its progress (no transaction
    may stay open while it streams)."""
    start_response("200 OK", page_headers(environ, None))
    if environ["REQUEST_METHOD"] == "HEAD":
        return [b""]
    return (piece.encode("utf-8") for piece in templates.get_template(template).generate(web=WEB, **context))


def redirect(start_response, location: str, *, extra=()):
    start_response("303 See Other", [("Location", location), ("Content-Length", "0"), *extra])
    return [b""]


def cookies(environ: dict) -> dict[str, str]:
    jar = SimpleCookie()
    try:
        jar.load(environ.get("HTTP_COOKIE", ""))
    except Exception:  # a malformed Cookie header is just no cookie
        return {}
    return {name: morsel.value for name, morsel in jar.items()}


def set_cookie(environ: dict, name: str, value: str, *, max_age: int | None = None) -> tuple[str, str]:
    parts = [f"{name}={value}", "Path=/", "HttpOnly", "SameSite=Lax"]
    if environ.get("wsgi.url_scheme") == "https":
        parts.append("Secure")
    if max_age is not None:
        parts.append(f"Max-Age={max_age}")
    return ("Set-Cookie", "; ".join(parts))


def wants_html(environ: dict) -> bool:
    return "text/html" in environ.get("HTTP_ACCEPT", "")


def common_context(environ, actor: Actor | None = None) -> dict:
    """What every page shows: the firm, the signed-in login and its tools, a message left by the last action."""
    context = RequestContext.of(environ)
    settings = context.portal.settings
    kind, _, message = unquote(cookies(environ).get(FLASH_COOKIE, "")).partition(":")
    return {"firm": settings.firm_name, "logo_url": settings.web.logo_url, "actor": actor,
            "tools": {tool.value for tool in tools_of(actor)}, "csrf": context.csrf or "", "message": message,
            "message_kind": "error" if kind == "error" else "ok"}  # fmt: skip
