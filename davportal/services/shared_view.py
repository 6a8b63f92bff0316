"""How files shared from private folders appear to a contact in Team's shared."""

from __future__ import annotations

import os

from davportal.services import documents
from davportal.services.request import RequestContext
from policy.names import normalize


def shared_view(context: RequestContext, client_id: str) -> dict[str, str]:
    """Name shown in Team's shared -> URL path of the private file (one query, one scandir).

    A name already taken by a real file there gets a visible suffix: "Letter (shared).pdf".
    """
    if client_id in context.shared_views:
        return context.shared_views[client_id]
    portal = context.portal
    with portal.sessions() as session:
        paths = documents.shared_files(session, client_id)
    view: dict[str, str] = {}
    if paths:
        team = portal.storage.path_of((client_id, portal.settings.folders.team_shared))
        try:
            taken = {normalize(name).casefold() for name in os.listdir(team)}
        except FileNotFoundError:
            taken = set()
        for path in paths:
            name = shown_name(path.rsplit("/", 1)[-1], taken)
            taken.add(name.casefold())
            view[name] = f"/{client_id}/{path}"
    context.shared_views[client_id] = view
    return view


def shown_name(name: str, taken: set[str]) -> str:
    stem, dot, ext = name.rpartition(".")
    if not (dot and stem):
        stem, ext = name, ""
    candidate, n = name, 1
    while candidate.casefold() in taken:
        suffix = " (shared)" if n == 1 else f" (shared {n})"
        candidate = f"{stem}{suffix}.{ext}" if ext else f"{stem}{suffix}"
        n += 1
    return candidate
