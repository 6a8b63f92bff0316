"""The trash: what was deleted, by client, a page at a time; restore it, or delete it for good."""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import urlencode

from sqlalchemy import select

from davportal.core.errors import NotFound
from davportal.core.models import Client
from davportal.services import trash
from davportal.web.console.acting import attempt
from davportal.web.console.ids import number
from davportal.web.console.paging import paging
from davportal.web.console.visit import Visit

SLUG = "trash"


def handle(visit: Visit):
    match visit.method, visit.parts:
        case ("GET" | "HEAD", []):
            return _listing(visit)
        case "POST", ["restore"]:
            return _restore(visit)
        case ("GET" | "HEAD", ["purge"]):
            return _confirm_purge(visit)
        case "POST", ["purge"]:
            return _purge(visit)
    raise NotFound("Not found.")


def _listing(visit: Visit):
    client_id = visit.query.get("client", "").strip()
    portal = visit.portal
    with portal.sessions() as session:
        page = paging(visit, trash.count_items(session, client_id))
        items = trash.list_items(session, client_id, offset=page.offset, limit=page.size)
        ids = {item.client_id for item in items} | ({client_id} if client_id else set())
        names = dict(session.execute(select(Client.id, Client.name).where(Client.id.in_(ids))).all())
    return visit.page("console_trash.html", {
        "items": items, "names": names, "client": client_id, "unknown_client": client_id and client_id not in names,
        "paging": page, "retention_days": portal.settings.trash.retention_days,
    })  # fmt: skip


def _restore(visit: Visit):
    item_id = number(visit.form.get("item"), "item in the trash")

    def restore(session, actor) -> str:
        restored = trash.restore(session, visit.portal.storage, item_id, actor=actor)
        return f"Restored to {restored.client_id}/{restored.path}."

    return attempt(visit, visit.url(SLUG) + _kept_filter(visit), restore)


def _confirm_purge(visit: Visit):
    """What a purge would delete for good, and the button that does it: nothing is deleted by a GET."""
    item_id = visit.query.get("item")
    days = visit.portal.settings.trash.retention_days
    with visit.portal.sessions() as session:
        if item_id is not None:
            item = trash.find(session, number(item_id, "item in the trash"))
            return visit.page("console_trash_purge.html", {"item": item, "days": days})
        count = trash.count_older(session, older_than=timedelta(days=days))
    return visit.page("console_trash_purge.html", {"item": None, "count": count, "days": days})


def _purge(visit: Visit):
    sent = visit.form
    item_id = number(sent["item"], "item in the trash") if sent.get("item") else None
    if sent.get("confirm") != "yes":
        again = visit.url(SLUG, "purge") + (f"?item={item_id}" if item_id is not None else "")
        return visit.done("Nothing was deleted: tick the box to confirm.", again, ok=False)
    storage, days = visit.portal.storage, visit.portal.settings.trash.retention_days

    def purge(session, actor) -> str:
        if item_id is not None:
            item = trash.purge_item(session, storage, item_id, actor=actor)
            return f"{item.client_id}/{item.path} is deleted for good."
        count = trash.purge(session, storage, older_than=timedelta(days=days), actor=actor)
        return f"{count} item(s) deleted more than {days:g} day(s) ago are deleted for good."

    return attempt(visit, visit.url(SLUG), purge)


def _kept_filter(visit: Visit) -> str:
    kept = {key: visit.form[key] for key in ("client", "page") if visit.form.get(key)}
    return "?" + urlencode(kept) if kept else ""
