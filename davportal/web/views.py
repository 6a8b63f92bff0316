"""What a folder page and the Received page show: built from the provider's policy-filtered listing."""

from __future__ import annotations

from datetime import datetime, timezone
from urllib.parse import quote

from sqlalchemy import select

from davportal.core.models import Client, Document, Membership
from davportal.services import records
from davportal.services.request import RequestContext
from policy import Action, Actor, Target, decide
from policy.documents import newsworthy
from policy.names import human_size
from policy.pages import Audience, Tool, audience_of, may_use
from policy.properties import permissions
from policy.requests import CLOSED_AREA, ITEM_AREA, REQUEST_AREA

AREA_WORDS = {
    Audience.CLIENT: {
        "team-shared": "From the firm",
        "client-shared": "Your uploads",
        "private": "Private to the firm",
        REQUEST_AREA: "Asked for by the firm",
        ITEM_AREA: "Send this document here",
        CLOSED_AREA: "Kept by the firm",
    },
    Audience.FIRM: {
        "team-shared": "Team's shared",
        "client-shared": "Client's shared",
        "private": "Private",
        REQUEST_AREA: "Document request",
        ITEM_AREA: "Asked for: the client sends it here",
        CLOSED_AREA: "Request: the firm's only",
    },  # fmt: skip
}
HOME_WORDS = {Audience.CLIENT: "Your documents", Audience.FIRM: "All clients"}
PREVIEWABLE = {"pdf", "png", "jpg", "jpeg", "gif", "webp"}


def folder_context(environ: dict, actor: Actor, path: str, query: str = "", *, include_archived: bool = False) -> dict:
    context = RequestContext.of(environ)
    portal, provider = context.portal, environ["wsgidav.provider"]
    resource = provider.get_resource_inst(path, environ)
    parts = context.parts(path)
    rules = context.rules(parts[0] if parts else None)
    names, archived = client_names(portal) if len(parts) <= 1 else ({}, set())
    # Staff's list of clients leaves out those archived unless asked (their folders stay open).
    hidden = archived if not parts and not include_archived else set()
    audience = audience_of(actor)
    words = AREA_WORDS[audience]
    tools = {tool: may_use(actor, tool) for tool in Tool}
    entries = []
    for member in sorted(resource.get_member_list(), key=lambda m: (not m.is_collection, m.name.casefold())):
        member_parts = context.parts(member.path)
        facts = records.facts_of(context, context.parts(member.record_path)) if len(member_parts) >= 2 else None
        target = Target(member_parts, exists=True, is_collection=member.is_collection,
                        uploaded_by=facts.uploaded_by if facts else None)  # fmt: skip
        letters = permissions(actor, target, rules) if len(member_parts) >= 2 else "G"
        if len(member_parts) == 1 and member.name in hidden:
            continue
        label = names.get(member.name, member.name) if len(member_parts) == 1 else member.name
        if query and query.casefold() not in f"{member.name} {label}".casefold():
            continue
        area = rules.rule_at(member_parts[1:]).area if len(member_parts) == 2 and member.is_collection else None
        entries.append({
            "label": label, "path": member.path, "folder": member.is_collection,
            "url": quote(member.path) + ("/" if member.is_collection else ""),
            "size": "" if member.is_collection else human_size(member.get_content_length()),
            "modified": _date(member.get_last_modified()),
            "uploaded_by": facts.uploaded_by if facts else None,
            "description": facts.description if facts else None,
            "shared": bool(facts and facts.shared) and tools[Tool.SHARE],
            "preview": not member.is_collection and member.name.rpartition(".")[2].lower() in PREVIEWABLE,
            "area": area, "area_words": words.get(area, area) if area else None,
            "can_delete": "D" in letters, "can_move": tools[Tool.MOVE] and "N" in letters,
            "can_copy": tools[Tool.COPY_TO] and not member.is_collection,
            "can_see_versions": not member.is_collection and (tools[Tool.DESCRIBE] or "W" in letters),
            "can_describe": tools[Tool.DESCRIBE] and "W" in letters, "can_share": tools[Tool.SHARE] and "R" in letters,
        })  # fmt: skip
    here_area = rules.rule_at(parts[1:]).area if len(parts) >= 2 else None
    may_create = len(parts) >= 1 and decide(actor, Action.CREATE, Target((*parts, "new")), rules).allowed
    uploads = portal.settings.uploads
    return {
        "title": names.get(parts[0], parts[0]) if len(parts) == 1 else (parts[-1] if parts else "Clients"),
        "crumbs": crumbs_of(parts, names or client_names(portal)[0], HOME_WORDS[audience]),
        "entries": entries, "area": here_area, "area_words": words.get(here_area, here_area) if here_area else None,
        "here_path": path if path.endswith("/") else path + "/",
        "here_url": quote(path if path.endswith("/") else path + "/"),
        "can_upload": may_create and len(parts) >= 2, "can_mkdir": may_create,
        "search": not parts and tools[Tool.FIND_CLIENT], "query": query, "include_archived": include_archived,
        "max_bytes": uploads.max_bytes, "max_size": human_size(uploads.max_bytes),
        "allowed_types": "" if "*" in (types := uploads.allowed_extensions) else ",".join(types),
    }  # fmt: skip


def received_context(environ: dict, actor: Actor, client_filter: str, since: str) -> dict:
    """Every document a client's contact put in the portal (uploaded, or copied in), newest first,
    under the name and in the folder it has now: nothing a client sends is missed, however it was
    renamed or moved since. It is read from the documents' records, which follow every move."""
    context = RequestContext.of(environ)
    portal, provider = context.portal, environ["wsgidav.provider"]
    # Whoever belongs to a client is a contact: staff belong to none.
    query = (select(Document.client_id, Document.path, Document.uploaded_by, Document.uploaded_at)
             .where(Document.is_folder.is_(False), Document.uploaded_by.in_(select(Membership.login)))
             .order_by(Document.uploaded_at.desc(), Document.client_id, Document.path).limit(500))  # fmt: skip
    if client_filter:
        query = query.where(Document.client_id == client_filter)
    if since:
        try:
            query = query.where(Document.uploaded_at >= datetime.fromisoformat(since).replace(tzinfo=timezone.utc))
        except ValueError:
            since = ""
    with portal.sessions() as session:
        uploads = session.execute(query).all()
    names, _ = client_names(portal)
    rows = []
    for client_id, path, login, uploaded_at in uploads:
        full = f"/{client_id}/{path}"
        target = Target(context.parts(full), exists=True)
        if not newsworthy(target.parts[-1]) or not decide(actor, Action.READ, target, context.rules(client_id)).allowed:
            continue
        rows.append({"when": uploaded_at.strftime("%Y-%m-%d %H:%M"), "login": login, "path": path,
                     "full_path": full, "url": quote(full) if provider.get_resource_inst(full, environ) else None,
                     "client_name": names.get(client_id, client_id), "client_url": quote(f"/{client_id}/"),
                     # Into the client's own folder: private to the firm, and always there.
                     "suggested": f"/{client_id}/{path.rsplit('/', 1)[-1]}"})  # fmt: skip
    return {"rows": rows, "client_filter": client_filter, "since": since}


def client_names(portal) -> tuple[dict[str, str], set[str]]:
    """Every client's name by id, and which clients are archived: one query."""
    with portal.sessions() as session:
        rows = session.execute(select(Client.id, Client.name, Client.archived_at.is_not(None))).all()
    return {client_id: name for client_id, name, _ in rows}, {client_id for client_id, _, gone in rows if gone}


def crumbs_of(parts: tuple[str, ...], names: dict[str, str], home: str) -> list[dict]:
    crumbs = [{"name": home, "url": "/"}]
    for depth in range(1, len(parts) + 1):
        label = names.get(parts[0], parts[0]) if depth == 1 else parts[depth - 1]
        crumbs.append({"name": label, "url": quote("/" + "/".join(parts[:depth]) + "/")})
    return crumbs


def _date(timestamp: float | None) -> str:
    if not timestamp:
        return ""
    return datetime.fromtimestamp(timestamp, tz=timezone.utc).strftime("%Y-%m-%d %H:%M")
