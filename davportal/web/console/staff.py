"""The console's Staff: the firm's team, who of them administers, whose login is on."""

from __future__ import annotations

from sqlalchemy import select

from davportal.core.errors import NotFound
from davportal.core.models import Account
from davportal.services import account_links
from davportal.web.console import logins
from davportal.web.console.acting import account_or_404, attempt, when
from davportal.web.console.visit import Visit
from policy import Role
from provisioning import accounts


def handle(visit: Visit):
    match visit.method, visit.parts:
        case method, [] if method in ("GET", "HEAD"):
            return _list(visit)
        case "POST", []:
            return _add(visit)
        case "POST", [login, "admin"]:
            return _set_admin(visit, login)
        case "POST", [login, action] if action in logins.ACTIONS:
            return logins.act(visit, login, Role.STAFF, action, visit.url("staff"))
    raise NotFound("Not found.")


def _list(visit: Visit):
    with visit.portal.sessions() as session:
        team = session.scalars(select(Account).where(Account.role == Role.STAFF.value).order_by(Account.login)).all()
    return visit.page("console_staff.html", {"team": team, "when": when, "url": visit.url})


def _add(visit: Visit):
    form = visit.form
    login = form.get("login", "").strip()
    name = form.get("name", "").strip() or None
    email = form.get("email", "").strip() or None
    admin = form.get("admin") == "1"
    invite = form.get("invite") == "1"

    def add(session, actor) -> str:
        accounts.add_staff(session, login, password=None, admin=admin, email=email, name=name)
        added = f"{login} added to the staff{' as an administrator' if admin else ''}"
        if not invite:
            return added + "."
        account_links.invite(session, visit.portal.settings, login, actor=actor)
        return f"{added}; an invitation is on its way to {email}."

    return attempt(visit, visit.url("staff"), add)


def _set_admin(visit: Visit, login: str):
    admin = visit.form.get("admin") == "1"

    def set_admin(session, actor) -> str:
        account_or_404(session, login, Role.STAFF)
        changed = accounts.set_admin(session, login, admin, actor=actor)
        if changed:
            return f"{login} is now an administrator." if admin else f"{login} is no longer an administrator."
        return f"{login} already is an administrator." if admin else f"{login} is not an administrator."

    return attempt(visit, visit.url("staff"), set_admin)
