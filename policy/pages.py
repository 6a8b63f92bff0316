"""What the web pages offer whom: the tools a page shows and the steps of a browser sign-in.

Whether a request is allowed is decided by `policy.access` and `policy.properties`, for the page
and a drive alike; this only says which tools a page offers at all, so that nobody is shown a
button that exists for someone else.
"""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum

from policy.model import Actor, Role
from policy.requests import asks


class Tool(StrEnum):
    """A page, or a control on one, that not everyone is offered."""

    RECEIVED = "received"  # every client upload across all clients, newest first
    FIND_CLIENT = "find-client"  # the search box over every client, on the home page
    MOVE = "move"  # rename or move a file or folder (where the rules let them)
    COPY_TO = "copy-to"  # copy a file elsewhere, e.g. out of a client's uploads
    DESCRIBE = "describe"  # write a file's description
    SHARE = "share"  # share a private file with the client, and see which ones are shared
    ACCOUNT = "account"  # one's own password, two-factor sign-in and app passwords
    REQUESTS = "requests"  # ask clients for documents, review what arrives, everything outstanding
    CONSOLE = "console"  # the admin console: clients, contacts, staff, matter types, trash, audit, email


class Audience(StrEnum):
    """Whose words a page uses for the areas and for the home page."""

    FIRM = "firm"  # staff: "Client's shared", "All clients"
    CLIENT = "client"  # a client's contacts: "Your uploads", "Your documents"


class SecondStep(StrEnum):
    """What a browser sign-in waits for after the password (stored with the session)."""

    CODE = "code"  # a code from the authenticator app, or a recovery code
    ENROL = "enrol"  # setting up two-factor sign-in first: the firm asks it of staff


TOOLS_BY_ROLE: dict[Role, frozenset[Tool]] = {
    Role.STAFF: frozenset(Tool) - {Tool.CONSOLE},
    Role.CONTACT: frozenset({Tool.ACCOUNT}),
}
ADMIN_TOOLS = frozenset({Tool.CONSOLE})  # besides their role's: staff whose account is admin


def may_administer(actor: Actor | None) -> bool:
    """Staff whose account is admin run the firm's portal; nobody else sees that it can be run."""
    return actor is not None and actor.role is Role.STAFF and actor.is_admin


def may_use(actor: Actor, tool: Tool) -> bool:
    return tool in tools_of(actor)


def tools_of(actor: Actor | None) -> frozenset[Tool]:
    """Every tool the actor is offered (none before sign-in)."""
    if actor is None:
        return frozenset()
    return TOOLS_BY_ROLE[actor.role] | (ADMIN_TOOLS if may_administer(actor) else frozenset())


def sees_request(actor: Actor, client_id: str, for_types: Iterable[str], *, sent: bool) -> bool:
    """Whether a contact's home page shows a client's document request: one sent (a draft is the
    firm's alone, even one cancelled unsent), of their own client (not archived: its memberships are left
    out of the actor), for their participant type (the types that read its folders while it is
    open). Staff see every request on its staff page instead, never on a contact's home page."""
    if not actor.is_contact or client_id not in actor.clients or not sent:
        return False
    return asks(for_types, actor.clients[client_id])


def audience_of(actor: Actor) -> Audience:
    return Audience.CLIENT if actor.is_contact else Audience.FIRM


def second_step(actor: Actor, *, has_two_factor: bool, staff_must_enrol: bool) -> SecondStep | None:
    """After a right password in the browser: the code if two-factor is on, else enrolment if
    the firm asks it of its staff, else nothing (the session opens at once)."""
    if has_two_factor:
        return SecondStep.CODE
    if staff_must_enrol and actor.role is Role.STAFF:
        return SecondStep.ENROL
    return None


def may_turn_off_two_factor(actor: Actor, *, staff_must_enrol: bool) -> bool:
    """Anyone may turn their own two-factor sign-in off, except staff of a firm that asks it of them."""
    return not (staff_must_enrol and actor.role is Role.STAFF)
