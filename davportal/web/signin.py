"""Signing in from a browser, and the page routes that are not a folder (Received, actions).

Before WsgiDAV's authenticator: a valid session cookie makes the request its login's (through
the authenticator's trusted key, which no client can send), so the same policy and audit apply
as for Basic auth. Unsafe methods from a session must carry its CSRF token.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import timedelta
from importlib.resources import files
from urllib.parse import quote

from wsgidav.mw.base_mw import BaseMiddleware

from davportal.core.errors import NotFound, TooManyAttempts
from davportal.core.models import Account, utcnow
from davportal.services import two_factor
from davportal.services.authentication import record_sign_in
from davportal.services.portal import Portal
from davportal.services.request import RequestContext
from davportal.web import actions, console, document_requests, health, sessions
from davportal.web.console.visit import Visit
from davportal.web.form import local as _local
from davportal.web.form import query as _query
from davportal.web.form import read as _form
from davportal.web.form import require_token as _require_token
from davportal.web.form import token_ok as _token_ok
from davportal.web.render import FLASH_COOKIE, WEB, common_context, cookies, redirect, respond, set_cookie, wants_html
from davportal.web.views import received_context
from policy import Actor
from policy.pages import SecondStep, Tool, may_use, second_step

TRUSTED_KEY = "davportal.web_login"  # WsgiDAV's trusted_auth_header: an environ key, never a header
LOGIN_CSRF_COOKIE = "davportal_login"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "PROPFIND"})
STATIC = {"portal.css": "text/css; charset=utf-8", "portal.js": "text/javascript; charset=utf-8"}


@dataclass(frozen=True)
class SignedIn:
    """A browser's session that is still good, with its account: read once per request."""

    session: sessions.Signed
    account: Account
    actor: Actor  # whose the session is; it acts only once `pending` is None

    @property
    def login(self) -> str:
        return self.session.login

    @property
    def csrf(self) -> str:
        return self.session.csrf

    @property
    def pending(self) -> str | None:
        return self.session.pending


class WebSignIn(BaseMiddleware):
    def __init__(self, wsgidav_app, next_app, config):
        super().__init__(wsgidav_app, next_app, config)
        self.portal = Portal.of(config)

    def __call__(self, environ, start_response):
        path = environ["PATH_INFO"]
        signed = self._session(environ)
        if path.startswith(WEB + "/"):
            return self._route(environ, start_response, path.removeprefix(WEB), signed)
        if signed is not None and signed.pending:
            return redirect(start_response, second_step_url(signed.pending))
        if signed is None and "HTTP_AUTHORIZATION" not in environ and _browser_navigation(environ):
            return redirect(start_response, f"{WEB}/login?next={quote(path)}")
        if signed is not None and environ["REQUEST_METHOD"] not in SAFE_METHODS:
            _require_token(environ.get("HTTP_X_CSRF_TOKEN"), signed.csrf)
        return self.next_app(environ, start_response)

    def _session(self, environ) -> SignedIn | None:
        """The browser's session, if it is still good: its row, then its account (read once)."""
        token = cookies(environ).get(sessions.COOKIE)
        if not token or "HTTP_AUTHORIZATION" in environ:
            return None  # Basic auth wins: a drive never sends the browser's cookie
        with self.portal.sessions() as session:
            signed = sessions.find(session, token)
        if signed is None:
            return None
        account, actor = self.portal.authenticator.load(signed.login)
        if actor is None or not sessions.still_good(signed, account):
            return None
        context = RequestContext.of(environ)
        context.csrf = signed.csrf
        if signed.pending is None:  # a session waiting for its second factor opens nothing yet
            context.actor = actor
            environ[TRUSTED_KEY] = actor.login
        return SignedIn(signed, account, actor)

    # --- the page routes ---------------------------------------------------------------
    def _route(self, environ, start_response, route: str, signed: SignedIn | None):
        from davportal.web import account  # it imports this module (SignedIn, the sign-in cookie)

        method = environ["REQUEST_METHOD"]
        if route == health.PATH.removeprefix(WEB) and method in ("GET", "HEAD"):
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
                environ, start_response, next_path=_local(_query(environ).get("next")))  # fmt: skip
        if route == "/logout" and method == "POST":
            return self._logout(environ, start_response, signed)
        if route in account.PUBLIC_ROUTES and method in ("GET", "HEAD", "POST"):
            return account.public(self.portal, environ, start_response, route)
        if signed is None:
            # A page's address opened in a browser (a request's link in an email) is shown after the sign-in.
            after = f"?next={quote(WEB + route)}" if _browser_navigation(environ) and method == "GET" else ""
            return redirect(start_response, f"{WEB}/login{after}")
        if route == "/login/code" and signed.pending == SecondStep.CODE:
            return self._code(environ, start_response, signed)
        # Not while a code is due: the page could turn on two-factor with a new secret, passing it by.
        if route == "/account" and signed.pending != SecondStep.CODE and may_use(signed.actor, Tool.ACCOUNT):
            return account.account_page(self.portal, environ, start_response, signed)
        if signed.pending:
            return redirect(start_response, second_step_url(signed.pending))
        actor = signed.actor
        if console.is_console(route):
            return console.route(Visit(environ, start_response, self.portal, actor, signed.csrf, route))
        if document_requests.is_requests(route):
            return document_requests.route(
                document_requests.RequestVisit(environ, start_response, self.portal, actor, signed.csrf, route)
            )
        if route == "/received" and method == "GET" and may_use(actor, Tool.RECEIVED):
            query = _query(environ)
            context = received_context(environ, actor, query.get("client", ""), query.get("since", ""))
            return respond(environ, start_response, "200 OK", "received.html", common_context(environ, actor) | context)
        if route == "/do" and method == "POST":
            form = _form(environ)
            _require_token(form.get("csrf"), signed.csrf)
            outcome = actions.perform(environ, form)
            flash = ("ok:" if outcome.ok else "error:") + outcome.message
            return redirect(start_response, quote(_local(form.get("back") or outcome.back)),
                            extra=[set_cookie(environ, FLASH_COOKIE, quote(flash), max_age=60)])  # fmt: skip
        raise NotFound("Not found.")

    def _static(self, environ, start_response, name: str):
        if name not in STATIC:
            raise NotFound("Not found.")
        body = files("davportal.web").joinpath("static", name).read_bytes()
        start_response("200 OK", [("Content-Type", STATIC[name]), ("Content-Length", str(len(body))),
                                  ("X-Content-Type-Options", "nosniff"),
                                  ("Cache-Control", "max-age=3600")])  # fmt: skip
        return [b"" if environ["REQUEST_METHOD"] == "HEAD" else body]

    def _login_page(self, environ, start_response, *, next_path: str, error: str = "", login: str = "",
                    status: str = "200 OK"):  # fmt: skip
        token = secrets.token_urlsafe(24)
        context = common_context(environ) | {"login_csrf": token, "next": next_path, "error": error, "login": login}
        return respond(environ, start_response, status, "login.html", context,
                       extra=[set_cookie(environ, LOGIN_CSRF_COOKIE, token)])  # fmt: skip

    def _login(self, environ, start_response):
        form = _form(environ)
        next_path = _local(form.get("next"))
        if not _token_ok(form.get("csrf"), cookies(environ).get(LOGIN_CSRF_COOKIE)):
            return self._login_page(environ, start_response, next_path=next_path, status="403 Forbidden",
                                    error="The sign-in page was out of date: please try again.")  # fmt: skip
        login, password = form.get("login", "").strip(), form.get("password", "")
        context = RequestContext.of(environ)
        try:
            actor = self.portal.authenticator.authenticate(login, password, environ.get("REMOTE_ADDR", ""), web=True)
        except TooManyAttempts as refused:
            context.attempted_login = login  # audited as a blocked login
            return self._login_page(environ, start_response, next_path=next_path, login=login,
                                    status="429 Too Many Requests", error=refused.reason)  # fmt: skip
        if actor is None:
            context.attempted_login = login  # audited as a failed login, as for Basic auth
            return self._login_page(environ, start_response, next_path=next_path, login=login,
                                    status="401 Unauthorized", error="The login or password is not right.")  # fmt: skip
        account = self.portal.authenticator.account_of(actor.login)
        pending = second_step(actor, has_two_factor=bool(account.totp_secret),
                              staff_must_enrol=self.portal.settings.auth.staff_two_factor)  # fmt: skip
        lifetime = timedelta(hours=self.portal.settings.web.session_hours)
        with self.portal.sessions.begin() as session:
            token, _ = sessions.start(session, actor.login, account.password_hash, lifetime,
                                      pending=pending.value if pending else None)  # fmt: skip
            record_sign_in(session, actor.login, utcnow())  # even when the password was verified a moment ago
        cookie = set_cookie(environ, sessions.COOKIE, token, max_age=int(lifetime.total_seconds()))
        used = set_cookie(environ, LOGIN_CSRF_COOKIE, "", max_age=0)
        after = second_step_url(pending, next_path) if pending else quote(next_path)
        return redirect(start_response, after, extra=[cookie, used])

    def _code(self, environ, start_response, signed: SignedIn):
        """The second step of a sign-in with two-factor: a code from the app, or a recovery code."""
        context = common_context(environ) | {"next": _local(_query(environ).get("next")), "error": ""}
        if environ["REQUEST_METHOD"] != "POST":
            return respond(environ, start_response, "200 OK", "code.html", context)
        form = _form(environ)
        _require_token(form.get("csrf"), signed.csrf)
        authenticator, address = self.portal.authenticator, environ.get("REMOTE_ADDR", "")
        next_path = _local(form.get("next"))
        try:
            attempt = authenticator.reserve_try(signed.login, address)  # codes are throttled like passwords
        except TooManyAttempts as refused:
            RequestContext.of(environ).attempted_login = signed.login
            return respond(environ, start_response, "429 Too Many Requests", "code.html",
                           context | {"next": next_path, "error": refused.reason})  # fmt: skip
        with self.portal.sessions.begin() as session:
            ok = two_factor.second_factor_ok(session, signed.login, form.get("code", ""))
            if ok:
                sessions.complete(session, cookies(environ)[sessions.COOKIE])
        if not ok:
            authenticator.failed(attempt)
            RequestContext.of(environ).attempted_login = signed.login
            return respond(environ, start_response, "401 Unauthorized", "code.html",
                           context | {"next": next_path, "error": "That code is not right."})  # fmt: skip
        authenticator.succeeded(attempt)
        return redirect(start_response, quote(next_path))

    def _logout(self, environ, start_response, signed: SignedIn | None):
        form = _form(environ)
        if signed is not None and _token_ok(form.get("csrf"), signed.csrf):
            with self.portal.sessions.begin() as session:
                sessions.end(session, cookies(environ)[sessions.COOKIE])
        return redirect(start_response, f"{WEB}/login", extra=[set_cookie(environ, sessions.COOKIE, "", max_age=0)])


def second_step_url(pending: str, next_path: str | None = None) -> str:
    if pending == SecondStep.CODE:
        return f"{WEB}/login/code" + (f"?next={quote(next_path)}" if next_path else "")
    return f"{WEB}/account"


def _browser_navigation(environ) -> bool:
    return environ["REQUEST_METHOD"] in ("GET", "HEAD") and wants_html(environ)
