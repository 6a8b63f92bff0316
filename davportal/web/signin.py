"""Signing in from a browser, and the page routes that are not a folder (Received, actions).

Before WsgiDAV's authenticator: a valid session cookie makes the request its login's (through
the authenticator's trusted key, which no client can send), so the same policy and audit apply
as for Basic auth. Unsafe methods from a session must carry its CSRF token.
"""

from __future__ import annotations

import secrets
from datetime import timedelta
from importlib.resources import files
from urllib.parse import parse_qs, quote, unquote

from wsgidav.mw.base_mw import BaseMiddleware

from davportal import two_factor
from davportal.errors import NotAllowed, NotFound, PortalError, TooManyAttempts
from web import actions, health, sessions
from web.render import WEB, cookies, redirect, respond, set_cookie, wants_html
from web.views import received_context
from wsgidav_ext.domain_controller import ACTOR_KEY, ATTEMPTED_LOGIN_KEY
from wsgidav_ext.runtime import Portal

TRUSTED_KEY = "davportal.web_login"  # WsgiDAV's trusted_auth_header: an environ key, never a header
CSRF_KEY = "davportal.csrf"
LOGIN_CSRF_COOKIE = "davportal_login"
FLASH_COOKIE = "davportal_flash"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "PROPFIND"})
STATIC = {"portal.css": "text/css; charset=utf-8", "portal.js": "text/javascript; charset=utf-8"}
MAX_FORM_BYTES = 64 * 1024


class WebSignIn(BaseMiddleware):
    def __init__(self, wsgidav_app, next_app, config):
        super().__init__(wsgidav_app, next_app, config)
        self.portal = Portal.of(config)

    def __call__(self, environ, start_response):
        path = environ["PATH_INFO"]
        signed = self._session(environ)
        if path.startswith(WEB + "/"):
            return self._route(environ, start_response, path[len(WEB):], signed)
        if signed is not None and signed.pending:
            return redirect(start_response, f"{WEB}/login/code" if signed.pending == "code" else f"{WEB}/account")
        if signed is None and "HTTP_AUTHORIZATION" not in environ and _browser_navigation(environ):
            return redirect(start_response, f"{WEB}/login?next={quote(path)}")
        if signed is not None and environ["REQUEST_METHOD"] not in SAFE_METHODS:
            if not secrets.compare_digest(environ.get("HTTP_X_CSRF_TOKEN", ""), signed.csrf):
                raise NotAllowed("This page is out of date: reload it and try again.")
        return self.next_app(environ, start_response)

    def _session(self, environ) -> sessions.Signed | None:
        token = cookies(environ).get(sessions.COOKIE)
        if not token or "HTTP_AUTHORIZATION" in environ:
            return None  # Basic auth wins: a drive never sends the browser's cookie
        with self.portal.sessions() as session:
            signed = sessions.find(session, token)
        actor = self.portal.authenticator.actor_of(signed.login) if signed else None
        if actor is None:
            return None
        environ[CSRF_KEY] = signed.csrf
        if signed.pending is None:  # a session waiting for its second factor opens nothing yet
            environ[ACTOR_KEY] = actor
            environ[TRUSTED_KEY] = actor.login
        return signed

    # --- the page routes ---------------------------------------------------------------
    def _route(self, environ, start_response, route: str, signed):
        method = environ["REQUEST_METHOD"]
        if route == "/health" and method in ("GET", "HEAD"):
            down = health.check(self.portal)
            body = ("ok\n" if not down else f"down: {', '.join(down)}\n").encode()
            start_response("200 OK" if not down else "503 Service Unavailable",
                           [("Content-Type", "text/plain; charset=utf-8"), ("Content-Length", str(len(body))),
                            ("Cache-Control", "no-store")])  # fmt: skip
            return [b"" if method == "HEAD" else body]
        if route.startswith("/static/") and method in ("GET", "HEAD"):
            return self._static(environ, start_response, route.removeprefix("/static/"))
        if route == "/login":
            return self._login(environ, start_response) if method == "POST" else self._login_page(
                environ, start_response, next_path=_query(environ).get("next", "/"))  # fmt: skip
        if route == "/logout" and method == "POST":
            return self._logout(environ, start_response, signed)
        if signed is None:
            return redirect(start_response, f"{WEB}/login")
        if route == "/login/code" and signed.pending == "code":
            return self._code(environ, start_response, signed)
        if route == "/account":
            return self._account(environ, start_response, signed)
        if signed.pending:
            return redirect(start_response, f"{WEB}/login/code" if signed.pending == "code" else f"{WEB}/account")
        actor = environ[ACTOR_KEY]
        if route == "/received" and method == "GET" and not actor.is_contact:
            query = _query(environ)
            context = received_context(self.portal, environ["wsgidav.provider"], environ, actor,
                                       query.get("client", ""), query.get("since", ""))  # fmt: skip
            return respond(environ, start_response, "200 OK", "received.html", self._common(environ, actor) | context)
        if route == "/do" and method == "POST":
            form = _form(environ)
            if not secrets.compare_digest(form.get("csrf", ""), signed.csrf):
                raise NotAllowed("This page is out of date: reload it and try again.")
            outcome = actions.perform(environ, form)
            back = form.get("back") or outcome.back
            flash = ("ok:" if outcome.ok else "error:") + outcome.message
            return redirect(start_response, quote(back) if back.startswith("/") and not back.startswith("//") else "/",
                            extra=[set_cookie(environ, FLASH_COOKIE, quote(flash), max_age=60)])  # fmt: skip
        raise NotFound("Not found.")

    def _static(self, environ, start_response, name: str):
        if name not in STATIC:
            raise NotFound("Not found.")
        body = files("web").joinpath("static", name).read_bytes()
        start_response("200 OK", [("Content-Type", STATIC[name]), ("Content-Length", str(len(body))),
                                  ("X-Content-Type-Options", "nosniff"),
                                  ("Cache-Control", "max-age=3600")])  # fmt: skip
        return [b"" if environ["REQUEST_METHOD"] == "HEAD" else body]

    def _login_page(self, environ, start_response, *, next_path: str, error: str = "", login: str = "",
                    status: str = "200 OK"):  # fmt: skip
        token = secrets.token_urlsafe(24)
        context = self._common(environ, None) | {"login_csrf": token, "next": next_path, "error": error, "login": login}
        return respond(environ, start_response, status, "login.html", context,
                       extra=[set_cookie(environ, LOGIN_CSRF_COOKIE, token)])  # fmt: skip

    def _login(self, environ, start_response):
        form = _form(environ)
        next_path = form.get("next", "/")
        if not next_path.startswith("/") or next_path.startswith("//"):
            next_path = "/"  # never a redirect off this server
        expected = cookies(environ).get(LOGIN_CSRF_COOKIE, "")
        if not expected or not secrets.compare_digest(form.get("csrf", ""), expected):
            return self._login_page(environ, start_response, next_path=next_path, status="403 Forbidden",
                                    error="The sign-in page was out of date: please try again.")  # fmt: skip
        login, password = form.get("login", "").strip(), form.get("password", "")
        try:
            actor = self.portal.authenticator.authenticate(login, password, environ.get("REMOTE_ADDR", ""), web=True)
        except TooManyAttempts as refused:
            environ[ATTEMPTED_LOGIN_KEY] = login  # audited as a blocked login
            return self._login_page(environ, start_response, next_path=next_path, login=login,
                                    status="429 Too Many Requests", error=refused.reason)  # fmt: skip
        if actor is None:
            environ[ATTEMPTED_LOGIN_KEY] = login  # audited as a failed login, as for Basic auth
            return self._login_page(environ, start_response, next_path=next_path, login=login,
                                    status="401 Unauthorized", error="The login or password is not right.")  # fmt: skip
        account = self.portal.authenticator.account_of(actor.login)
        pending = "code" if account.totp_secret else (
            "enrol" if not actor.is_contact and self.portal.settings.auth.staff_two_factor else None)  # fmt: skip
        lifetime = timedelta(hours=self.portal.settings.web.session_hours)
        with self.portal.sessions.begin() as session:
            token, _ = sessions.start(session, actor.login, account.password_hash, lifetime, pending=pending)
        cookie = set_cookie(environ, sessions.COOKIE, token, max_age=int(lifetime.total_seconds()))
        used = set_cookie(environ, LOGIN_CSRF_COOKIE, "", max_age=0)
        after = {"code": f"{WEB}/login/code?next={quote(next_path)}", "enrol": f"{WEB}/account"}.get(pending)
        return redirect(start_response, after or quote(next_path), extra=[cookie, used])

    def _code(self, environ, start_response, signed):
        """The second step of a sign-in with two-factor: a code from the app, or a recovery code."""
        context = self._common(environ, None) | {"next": _query(environ).get("next", "/"), "error": ""}
        if environ["REQUEST_METHOD"] != "POST":
            return respond(environ, start_response, "200 OK", "code.html", context)
        form = _form(environ)
        if not secrets.compare_digest(form.get("csrf", ""), signed.csrf):
            raise NotAllowed("This page is out of date: reload it and try again.")
        authenticator, address = self.portal.authenticator, environ.get("REMOTE_ADDR", "")
        next_path = form.get("next", "/")
        next_path = next_path if next_path.startswith("/") and not next_path.startswith("//") else "/"
        try:
            authenticator.refuse_if_waiting(signed.login, address)
        except TooManyAttempts as refused:
            environ[ATTEMPTED_LOGIN_KEY] = signed.login
            return respond(environ, start_response, "429 Too Many Requests", "code.html",
                           context | {"next": next_path, "error": refused.reason})  # fmt: skip
        with self.portal.sessions.begin() as session:
            ok = two_factor.second_factor_ok(session, signed.login, form.get("code", ""))
            if ok:
                sessions.complete(session, cookies(environ)[sessions.COOKIE])
        if not ok:
            authenticator.count_failure(signed.login, address)  # codes are throttled like passwords
            environ[ATTEMPTED_LOGIN_KEY] = signed.login
            return respond(environ, start_response, "401 Unauthorized", "code.html",
                           context | {"next": next_path, "error": "That code is not right."})  # fmt: skip
        return redirect(start_response, quote(next_path))

    def _account(self, environ, start_response, signed):
        """Two-factor enrolment and app passwords."""
        login = signed.login
        shown_once, recovery_codes, error = "", [], ""
        if environ["REQUEST_METHOD"] == "POST":
            form = _form(environ)
            if not secrets.compare_digest(form.get("csrf", ""), signed.csrf):
                raise NotAllowed("This page is out of date: reload it and try again.")
            try:
                with self.portal.sessions.begin() as session:
                    action = form.get("action")
                    if action == "enable":
                        recovery_codes = two_factor.enable(session, login, form.get("secret", ""), form.get("code", ""))
                        shown_once = "Two-factor sign-in is on."
                        sessions.complete(session, cookies(environ)[sessions.COOKIE])
                        signed = sessions.Signed(signed.login, signed.csrf, None)
                    elif action == "create" and not signed.pending:
                        shown_once = two_factor.create_app_password(session, login, form.get("name", ""))
                    elif action == "revoke" and not signed.pending:
                        two_factor.revoke_app_password(session, login, int(form.get("id", "0") or 0))
            except PortalError as refused:
                error = refused.reason
        account = self.portal.authenticator.account_of(login)
        with self.portal.sessions() as session:
            apps = two_factor.list_app_passwords(session, login)
        secret = two_factor.new_secret()
        actor = self.portal.authenticator.actor_of(login) if not signed.pending else None
        context = self._common(environ, actor) | {
            "two_factor": bool(account.totp_secret), "must_enrol": signed.pending == "enrol", "secret": secret,
            "qr": two_factor.qr_svg(secret, login, self.portal.settings.firm_name), "shown_once": shown_once,
            "recovery_codes": recovery_codes,
            "app_passwords": [{"id": a.id, "name": a.name, "created": _day(a.created_at),
                               "last_used": _day(a.last_used_at)} for a in apps],
        }  # fmt: skip
        if error:
            context |= {"message": error, "message_kind": "error"}
        return respond(environ, start_response, "200 OK", "account.html", context)

    def _logout(self, environ, start_response, signed):
        form = _form(environ)
        if signed is not None and secrets.compare_digest(form.get("csrf", ""), signed.csrf):
            with self.portal.sessions.begin() as session:
                sessions.end(session, cookies(environ)[sessions.COOKIE])
        return redirect(start_response, f"{WEB}/login", extra=[set_cookie(environ, sessions.COOKIE, "", max_age=0)])

    def _common(self, environ, actor) -> dict:
        return common_context(self.portal, environ, actor)


def common_context(portal, environ, actor) -> dict:
    """What every page shows: the firm, the signed-in login, a message left by the last action."""
    kind, _, message = unquote(cookies(environ).get(FLASH_COOKIE, "")).partition(":")
    return {"firm": portal.settings.firm_name, "logo_url": portal.settings.web.logo_url, "actor": actor,
            "csrf": environ.get(CSRF_KEY, ""), "message": message,
            "message_kind": "error" if kind == "error" else "ok"}  # fmt: skip


def _day(moment) -> str:
    return moment.strftime("%Y-%m-%d %H:%M") if moment else ""


def _browser_navigation(environ) -> bool:
    return environ["REQUEST_METHOD"] in ("GET", "HEAD") and wants_html(environ)


def _query(environ) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(environ.get("QUERY_STRING", "")).items()}


def _form(environ) -> dict[str, str]:
    try:
        length = int(environ.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = 0
    body = environ["wsgi.input"].read(min(length, MAX_FORM_BYTES)) if length else b""
    environ["wsgidav.all_input_read"] = 1
    return {k: v[0] for k, v in parse_qs(body.decode("utf-8", "replace")).items()}
