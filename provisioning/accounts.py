"""Staff and contacts: create, name, list, change password, take off a client, disable and enable, admin."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from davportal.core.errors import BadRequest, Conflict, NotFound, refusal
from davportal.core.models import Account, Client, DocumentRequest, Membership, RequestContact
from davportal.notifications import events
from davportal.services import audit, passwords
from policy import Actor, Role, Target
from policy.accounts import admin_change, disabling
from policy.model import DEFAULT_PARTICIPANT_TYPE

# No colon (it ends the login in Basic auth), no slash or space: logins appear in URLs and logs.
LOGIN_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@+-]{0,127}$")
EMAIL_PATTERN = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
NAME_LENGTH = 200


@dataclass(frozen=True)
class AccountView:
    login: str
    role: str
    is_admin: bool
    email: str | None
    disabled: bool
    clients: tuple[str, ...]
    name: str | None = None
    last_sign_in_at: datetime | None = None


def add_staff(session: Session, login: str, *, password: str | None, admin: bool = False, email: str | None = None,
              name: str | None = None, min_length: int = passwords.MIN_LENGTH, actor: Actor) -> Account:  # fmt: skip
    """A staff login; without a password they can sign in once invited (account_links.invite)."""
    account = _add(session, login, Role.STAFF, password=password, admin=admin, email=email, name=name,
                   min_length=min_length)  # fmt: skip
    audit.record(session, actor, "ADD-STAFF", Target(()), f"{login} added to the staff{' as admin' if admin else ''}")
    return account


def add_contact(
    session: Session,
    login: str,
    *,
    client_id: str,
    password: str | None,
    email: str | None = None,
    participant_type: str = DEFAULT_PARTICIPANT_TYPE,
    name: str | None = None,
    min_length: int = passwords.MIN_LENGTH,
    actor: Actor,
) -> Account:
    """A contact of a client; without a password they can sign in once invited (account_links.invite)."""
    if session.get(Client, client_id) is None:
        raise NotFound(f"There is no client '{client_id}'.")
    existing = session.get(Account, login)
    if existing is not None and existing.role == Role.CONTACT.value:
        # A contact of several clients (an accountant, say) is added once per client.
        if _join(session, existing, client_id, participant_type):
            audit.record(session, actor, "ADD-CONTACT", Target((client_id,)),
                         f"existing contact {login} added to {client_id} as {participant_type}")  # fmt: skip
        return existing
    account = _add(session, login, Role.CONTACT, password=password, admin=False, email=email, name=name,
                   min_length=min_length)  # fmt: skip
    _join(session, account, client_id, participant_type)
    audit.record(session, actor, "ADD-CONTACT", Target((client_id,)),
                 f"new contact {login} added to {client_id} as {participant_type}")  # fmt: skip
    return account


def _add(session, login, role, *, password, admin, email, name, min_length) -> Account:
    if not LOGIN_PATTERN.match(login):
        raise BadRequest(f"'{login}' is not a valid login: use letters, digits and . _ @ + - (at most 128).")
    if email is not None and not EMAIL_PATTERN.match(email):
        raise BadRequest(f"'{email}' is not a valid email address.")
    if session.get(Account, login) is not None:
        raise Conflict(f"The login '{login}' is already taken (logins are unique across staff and contacts).")
    name = checked_name(name)
    account = Account(
        login=login,
        name=name,
        role=role.value,
        is_admin=admin,
        email=email,
        password_hash=(passwords.choose(password, login=login, name=name, min_length=min_length)
                       if password is not None else None),
    )  # fmt: skip
    session.add(account)
    return account


def _join(session: Session, account: Account, client_id: str, participant_type: str) -> bool:
    """False when the account already belonged to the client as that participant type."""
    membership = session.get(Membership, (account.login, client_id))
    if membership is None:
        session.add(Membership(login=account.login, client_id=client_id, participant_type=participant_type))
        return True
    if membership.participant_type != participant_type:
        raise Conflict(f"'{account.login}' already belongs to '{client_id}' as {membership.participant_type}.")
    return False


def set_password(session: Session, login: str, password: str, *, actor: Actor,
                 min_length: int = passwords.MIN_LENGTH) -> None:  # fmt: skip
    """A new password, by the admin or its owner: the same rules as any chosen one. A new hash
    ends the login's other browser sessions and cached drive logins (their fingerprint is of it)."""
    account = _get(session, login)
    account.password_hash = passwords.choose(password, login=login, name=account.name, min_length=min_length)
    detail = f"password of {login} changed by {audit.by_whom(actor, login)}"
    audit.record(session, actor, "PASSWORD-CHANGE", Target(()), detail)


def set_name(session: Session, login: str, name: str | None, *, actor: Actor) -> bool:
    """What emails and pages call the login ("Alice Martin"); empty or None: the login itself.
    False when it already was so."""
    account, name = _get(session, login), checked_name(name)
    if account.name == name:
        return False
    detail = f"{login} renamed from {account.name or 'no name'} to {name or 'no name'}"
    account.name = name
    audit.record(session, actor, "SET-NAME", Target(()), detail)
    return True


def checked_name(name: str | None) -> str | None:
    name = " ".join((name or "").split())
    if len(name) > NAME_LENGTH or any(ord(ch) < 32 for ch in name):
        raise BadRequest(f"A name has at most {NAME_LENGTH} characters, on one line.")
    return name or None


def remove_from_client(session: Session, login: str, client_id: str, *, actor: Actor) -> None:
    """Take a contact off one client: their access to it ends at once (the membership is a
    login's row, read again on every node within a second); their other clients stay."""
    membership = session.get(Membership, (login, client_id))
    if membership is None:
        _get(session, login)
        raise NotFound(f"'{login}' does not belong to client '{client_id}'.")
    session.delete(membership)
    # Nor is the contact one of the client's document requests is for any longer.
    session.execute(delete(RequestContact).where(RequestContact.login == login, RequestContact.request_id.in_(
        select(DocumentRequest.id).where(DocumentRequest.client_id == client_id))))  # fmt: skip
    events.leave_out(session, client_id, contact=login)
    audit.record(session, actor, "REMOVE-CONTACT", Target((client_id,)), f"{login} removed from {client_id}")


def disable(session: Session, login: str, *, actor: Actor) -> bool:
    """Returns False when the login was already disabled."""
    account = _get(session, login)
    was_enabled = not account.disabled
    decision = disabling(login, is_enabled_admin=bool(account.is_admin) and was_enabled,
                         other_enabled_admins=_other_enabled_admins(session, login))  # fmt: skip
    if not decision.allowed:
        raise refusal(decision.status, decision.reason)
    account.disabled = True
    if was_enabled:
        audit.record(session, actor, "DISABLE", Target(()), f"{login} disabled")
    return was_enabled


def enable(session: Session, login: str, *, actor: Actor) -> bool:
    """Undo `disable`: the login signs in again with the password it had. False when it was enabled."""
    account = _get(session, login)
    was_disabled = account.disabled
    account.disabled = False
    if was_disabled:
        audit.record(session, actor, "ENABLE", Target(()), f"{login} enabled")
    return was_disabled


def set_admin(session: Session, login: str, admin: bool, *, actor: Actor) -> bool:
    """Make a member of staff admin, or not; False when nothing changed."""
    account = _get(session, login)
    enabled_admin = bool(account.is_admin) and not account.disabled
    decision = admin_change(login, Role(account.role), admin=admin, is_admin=enabled_admin,
                            other_enabled_admins=_other_enabled_admins(session, login))  # fmt: skip
    if not decision.allowed:
        raise refusal(decision.status, decision.reason)
    if bool(account.is_admin) == admin:
        return False
    account.is_admin = admin
    audit.record(session, actor, "SET-ADMIN", Target(()), f"{login} {'made admin' if admin else 'no longer admin'}")
    return True


def list_accounts(session: Session, role: Role) -> list[AccountView]:
    accounts = session.scalars(select(Account).where(Account.role == role.value).order_by(Account.login))
    memberships: dict[str, list[str]] = {}
    for login, client_id in session.execute(
        select(Membership.login, Membership.client_id).order_by(Membership.client_id)
    ):
        memberships.setdefault(login, []).append(client_id)
    return [
        AccountView(
            a.login,
            a.role,
            a.is_admin,
            a.email,
            a.disabled,
            tuple(memberships.get(a.login, ())),
            a.name,
            a.last_sign_in_at,
        )  # fmt: skip
        for a in accounts
    ]


def _other_enabled_admins(session: Session, login: str) -> int:
    return session.scalar(select(func.count()).select_from(Account).where(
        Account.is_admin.is_(True), Account.disabled.is_(False), Account.login != login)) or 0  # fmt: skip


def _get(session: Session, login: str) -> Account:
    account = session.get(Account, login)
    if account is None:
        raise NotFound(f"There is no login '{login}'.")
    return account
