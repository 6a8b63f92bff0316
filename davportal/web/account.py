"""A person's own account in the browser: choosing a password from an emailed link, "forgot your
password", and the account page (password, two-factor sign-in, app passwords).

A link's token travels in the query string: the request log and the audit trail write the path
only. Its pages send no Referer, and the form posts the token in its body, never in an address.
"""

from __future__ import annotations

import secrets
from dataclasses import replace
from datetime import timedelta

from davportal.core.errors import BadRequest, NotAllowed, PortalError
from davportal.core.models import Account
from davportal.services import account_links, audit, passwords, two_factor
from davportal.services.account_links import LinkNotUsable
from davportal.services.portal import Portal
from davportal.web import sessions
from davportal.web.form import query, read, require_token, token_ok
from davportal.web.render import WEB, common_context, cookies, redirect, respond, set_cookie
from davportal.web.signin import LOGIN_CSRF_COOKIE, SignedIn, second_step_url
from policy import Actor, Role, Target
from policy.pages import SecondStep, may_turn_off_two_factor, second_step
from provisioning import accounts

PUBLIC_ROUTES = frozenset({"/link", "/forgot"})  # pages for people not signed in
NO_REFERRER = "no-referrer"
PAGE_OUT_OF_DATE = "This page was out of date: please try again."


def public(portal: Portal, environ, start_response, route: str):
    if route == "/link":
        return _link(portal, environ, start_response)
    return _forgot(portal, environ, start_response)


# --- choosing a password from a link ----------------------------------------------------------
def _link(portal: Portal, environ, start_response):
    post = environ["REQUEST_METHOD"] == "POST"
    form = read(environ) if post else query(environ)
    token = form.get("token", "")
    now = portal.authenticator.clock()
    try:
        with portal.sessions() as session:
            link = account_links.look_up(session, token, now=now)
    except LinkNotUsable as gone:
        status = "404 Not Found" if gone.purpose is None else "410 Gone"
        return respond(environ, start_response, status, "link_gone.html",
                       common_context(environ) | {"reason": gone.reason, "purpose": gone.purpose},
                       referrer=NO_REFERRER)  # fmt: skip
    if not post:
        return _link_page(portal, environ, start_response, link, token)
    if not token_ok(form.get("csrf"), cookies(environ).get(LOGIN_CSRF_COOKIE)):
        return _link_page(portal, environ, start_response, link, token, error=PAGE_OUT_OF_DATE, status="403 Forbidden")
    password = form.get("password", "")
    if password != form.get("again", ""):
        return _link_page(portal, environ, start_response, link, token, status="400 Bad Request",
                          error="The two passwords are not the same: type the same one twice.")  # fmt: skip
    try:
        with portal.sessions.begin() as session:
            account = account_links.redeem(session, token, password, now=now,
                                           min_length=portal.settings.accounts.password_min_length)  # fmt: skip
            actor = Actor(account.login, Role(account.role), is_admin=account.is_admin)
            pending = second_step(actor, has_two_factor=bool(account.totp_secret),
                                  staff_must_enrol=portal.settings.auth.staff_two_factor)  # fmt: skip
            lifetime = timedelta(hours=portal.settings.web.session_hours)
            cookie_token, _ = sessions.start(session, account.login, account.password_hash, lifetime,
                                             pending=pending.value if pending else None)  # fmt: skip
    except LinkNotUsable as gone:  # used in another tab a moment ago
        return respond(environ, start_response, "410 Gone", "link_gone.html",
                       common_context(environ) | {"reason": gone.reason, "purpose": gone.purpose},
                       referrer=NO_REFERRER)  # fmt: skip
    except BadRequest as weak:
        return _link_page(portal, environ, start_response, link, token, error=weak.reason, status="400 Bad Request")
    cookie = set_cookie(environ, sessions.COOKIE, cookie_token, max_age=int(lifetime.total_seconds()))
    used = set_cookie(environ, LOGIN_CSRF_COOKIE, "", max_age=0)
    if pending:
        after = second_step_url(pending, "/")
    else:
        after = f"{WEB}/account" if form.get("two_factor") else "/"
    return redirect(start_response, after, extra=[cookie, used])


def _link_page(portal: Portal, environ, start_response, link, token: str, *, error: str = "", status="200 OK"):
    csrf = secrets.token_urlsafe(24)
    context = common_context(environ) | {
        "login_csrf": csrf, "token": token, "link": link, "error": error,
        "invite": link.purpose == account_links.INVITE, "min_length": portal.settings.accounts.password_min_length,
        "expires": link.expires_at.strftime("%d %B %Y at %H:%M UTC"),
    }  # fmt: skip
    return respond(environ, start_response, status, "set_password.html", context, referrer=NO_REFERRER,
                   extra=[set_cookie(environ, LOGIN_CSRF_COOKIE, csrf)])  # fmt: skip


# --- forgot your password ----------------------------------------------------------------------
def _forgot(portal: Portal, environ, start_response):
    context = common_context(environ) | {"error": "", "who": "",
                                         "hours": f"{portal.settings.accounts.reset_hours:g}"}  # fmt: skip
    if environ["REQUEST_METHOD"] != "POST":
        csrf = secrets.token_urlsafe(24)
        return respond(environ, start_response, "200 OK", "forgot.html", context | {"login_csrf": csrf},
                       extra=[set_cookie(environ, LOGIN_CSRF_COOKIE, csrf)])  # fmt: skip
    form = read(environ)
    who = form.get("who", "").strip()
    if not token_ok(form.get("csrf"), cookies(environ).get(LOGIN_CSRF_COOKIE)):
        csrf = secrets.token_urlsafe(24)
        return respond(environ, start_response, "403 Forbidden", "forgot.html",
                       context | {"login_csrf": csrf, "who": who, "error": PAGE_OUT_OF_DATE},
                       extra=[set_cookie(environ, LOGIN_CSRF_COOKIE, csrf)])  # fmt: skip
    with portal.sessions.begin() as session:
        # The same answer whether or not the login or address is known, or the request throttled.
        account_links.request_reset(session, portal.settings, who, environ.get("REMOTE_ADDR", ""),
                                    now=portal.authenticator.clock())  # fmt: skip
    return respond(environ, start_response, "200 OK", "forgot_sent.html", context | {"who": who},
                   extra=[set_cookie(environ, LOGIN_CSRF_COOKIE, "", max_age=0)])  # fmt: skip


# --- the account page --------------------------------------------------------------------------
def account_page(portal: Portal, environ, start_response, signed: SignedIn):
    """Password, two-factor sign-in and app passwords."""
    login, account = signed.login, signed.account
    two_factor_on = bool(account.totp_secret)
    shown_once, error, done = "", "", ""
    recovery_codes: list[str] = []
    if environ["REQUEST_METHOD"] == "POST":
        form = read(environ)
        require_token(form.get("csrf"), signed.csrf)
        action = form.get("action")
        try:
            if action in ("password", "two-factor-off", "recovery-codes") and not signed.pending:
                done, recovery_codes = _with_password(portal, environ, signed, action, form)
                two_factor_on = two_factor_on and action != "two-factor-off"
                shown_once = "Your new recovery codes." if recovery_codes else ""
            else:
                with portal.sessions.begin() as session:
                    if action == "enable" and not two_factor_on:  # a new secret never replaces the one in use
                        recovery_codes = two_factor.enable(session, login, form.get("secret", ""), form.get("code", ""))
                        shown_once, two_factor_on = "Two-factor sign-in is on.", True
                        sessions.complete(session, cookies(environ)[sessions.COOKIE])
                        signed = replace(signed, session=replace(signed.session, pending=None))
                    elif action == "create" and not signed.pending:
                        shown_once = two_factor.create_app_password(session, login, form.get("name", ""))
                    elif action == "revoke" and not signed.pending:
                        two_factor.revoke_app_password(session, login, int(form.get("id", "0") or 0),
                                                       actor=signed.actor)  # fmt: skip
        except PortalError as refused:
            error = refused.reason
    with portal.sessions() as session:
        apps = two_factor.list_app_passwords(session, login)
    secret = two_factor.new_secret()
    firm = portal.settings.firm_name
    actor = signed.actor if not signed.pending else None
    context = common_context(environ, actor) | {
        "two_factor": two_factor_on, "must_enrol": signed.pending == SecondStep.ENROL, "secret": secret,
        "qr": two_factor.qr_svg(secret, login, firm), "setup_link": two_factor.setup_link(secret, login, firm),
        "shown_once": shown_once, "recovery_codes": recovery_codes,
        "min_length": portal.settings.accounts.password_min_length,
        "may_turn_off": may_turn_off_two_factor(signed.actor, staff_must_enrol=portal.settings.auth.staff_two_factor),
        "app_passwords": [{"id": a.id, "name": a.name, "created": _day(a.created_at),
                           "last_used": _day(a.last_used_at)} for a in apps],
    }  # fmt: skip
    if error:
        context |= {"message": error, "message_kind": "error"}
    elif done:
        context |= {"message": done, "message_kind": "ok"}
    return respond(environ, start_response, "200 OK", "account.html", context)


def _with_password(portal: Portal, environ, signed: SignedIn, action: str, form: dict) -> tuple[str, list[str]]:
    """The changes that ask for the current password (and, for two-factor, a code): a session left
    open on a shared computer must not be enough. Wrong guesses count as failed sign-ins."""
    login, authenticator = signed.login, portal.authenticator
    attempt = authenticator.reserve_try(login, environ.get("REMOTE_ADDR", ""))
    account = authenticator.account_of(login)
    right = account is not None and passwords.verify(account.password_hash, form.get("current", ""))
    if right and action != "password":
        with portal.sessions.begin() as session:  # a recovery code is used up here
            right = two_factor.second_factor_ok(session, login, form.get("code", ""))
    if not right:
        authenticator.failed(attempt)
        raise NotAllowed("That is not your current password." if action == "password"
                         else "The password or the code is not right.")  # fmt: skip
    authenticator.succeeded(attempt)
    owner = signed.actor
    with portal.sessions.begin() as session:
        if action == "password":
            new = form.get("password", "")
            if new != form.get("again", ""):
                raise BadRequest("The two new passwords are not the same: type the same one twice.")
            accounts.set_password(session, login, new, actor=owner,
                                  min_length=portal.settings.accounts.password_min_length)  # fmt: skip
            changed = session.get(Account, login)
            assert changed is not None  # set_password found it
            sessions.keep_only(session, cookies(environ)[sessions.COOKIE], login, changed.password_hash)
            return ("Your password is changed. Every other browser, drive and app that used the old one "
                    "is signed out.", [])  # fmt: skip
        if action == "two-factor-off":
            if not may_turn_off_two_factor(signed.actor, staff_must_enrol=portal.settings.auth.staff_two_factor):
                raise NotAllowed("The firm asks staff to sign in with a code: it cannot be turned off.")
            two_factor.reset(session, login, actor=owner)
            return ("Two-factor sign-in is off.", [])
        codes = two_factor.new_recovery_codes(session, login)
        audit.record(session, owner, "RECOVERY-CODES", Target(()), "new recovery codes")
        return ("", codes)


def _day(moment) -> str:
    return moment.strftime("%Y-%m-%d %H:%M") if moment else ""
