"""How files shared from private folders appear to a contact in Team's shared."""

from __future__ import annotations

import os

from davportal import documents
from policy.names import normalize

_CACHE_KEY = "davportal.shared_view"


def shared_view(provider, environ: dict, client_id: str) -> dict[str, str]:
    """Name shown in Team's shared -> URL path of the private file (one query, one scandir).

    A name already taken by a real file there gets a visible suffix: "Letter (shared).pdf".
    """
    cache = environ.setdefault(_CACHE_KEY, {})
    if client_id in cache:
        return cache[client_id]
    with provider.portal.sessions() as session:
        paths = documents.shared_files(session, client_id)
    view: dict[str, str] = {}
    if paths:
        team = provider.storage.path_of((client_id, provider.portal.settings.folders.team_shared))
        try:
            taken = {normalize(name).casefold() for name in os.listdir(team)}
        except FileNotFoundError:
            taken = set()
        for path in paths:
            name = shown_name(path.rsplit("/", 1)[-1], taken)
            taken.add(name.casefold())
            view[name] = f"/{client_id}/{path}"
    cache[client_id] = view
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
