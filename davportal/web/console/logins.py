"""What an admin does to any login, a contact's or staff's: invite it (again), turn it off and
on, let it sign in again after failed attempts."""

from __future__ import annotations

from davportal.services import account_links
from davportal.services.authentication import unblock
from davportal.web.console.acting import account_or_404, attempt
from davportal.web.console.visit import Visit
from policy import Role
from provisioning import accounts


def act(visit: Visit, login: str, role: Role, action: str, back: str):
    visit.form  # noqa: B018 - the CSRF token is checked before anything is looked up

    def change(session, actor) -> str:
        account = account_or_404(session, login, role)
        if action == "invite":
            account_links.invite(session, visit.portal.settings, login, actor=actor)
            return f"An invitation is on its way to {account.email}."
        if action == "disable":
            changed = accounts.disable(session, login, actor=actor)
            return f"{login} can no longer sign in." if changed else f"{login} was already turned off."
        if action == "enable":
            changed = accounts.enable(session, login, actor=actor)
            return f"{login} can sign in again." if changed else f"{login} was not turned off."
        waiting = unblock(session, login)
        if account.disabled:
            return f"{login} is still turned off: turn the login on for them to sign in."
        return f"{login} may sign in again now." if waiting else f"{login} was not held back."

    return attempt(visit, back, change)


ACTIONS = ("invite", "disable", "enable", "unblock")
