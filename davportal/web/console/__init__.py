"""The admin console: the firm's portal run from a browser, by staff whose account is admin.

Every page and action passes `policy.pages.may_administer` first: anyone else gets the 404 of a
page that does not exist. Every change goes through the service function the CLI calls, which
audits it; a page only reads, asks and shows.
"""

from __future__ import annotations

from davportal.core.errors import NotFound
from davportal.web.console import audit, clients, contacts, email, matter_types, overview, staff, trash
from davportal.web.console.visit import PREFIX, Section, Visit
from policy.pages import may_administer

# The console's sections, in the order of its menu: each a module with `handle(visit)`.
SECTIONS: dict[str, Section] = {
    "": Section("Overview", overview.handle),
    "clients": Section("Clients", clients.handle),
    "contacts": Section("Contacts", contacts.handle),
    "staff": Section("Staff", staff.handle),
    matter_types.SLUG: Section("Matter types", matter_types.handle),
    trash.SLUG: Section("Trash", trash.handle),
    audit.SLUG: Section("Audit trail", audit.handle),
    email.SLUG: Section("Email", email.handle),
}


def route(visit: Visit):
    """A console page or action; 404 for anyone who may not administer, whatever the method."""
    if not may_administer(visit.actor):
        raise NotFound("Not found.")
    slug = visit.route.removeprefix(PREFIX).strip("/").partition("/")[0]
    section = SECTIONS.get(slug)
    if section is None:
        raise NotFound("Not found.")
    return section.handle(visit)


def is_console(route: str) -> bool:
    return route == PREFIX or route.startswith(PREFIX + "/")
