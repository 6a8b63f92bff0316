"""Document requests on the web: what a contact is asked for, on their home page; a client's
requests, a request's page and everything outstanding, for staff.

Every change goes through `davportal.services.requests` (the functions the CLI calls) in the
page's own request context, so it commits with its audit rows, or not at all. A contact's upload
into an item is the page's ordinary upload (a PUT into the item's folder): the drive's path, the
drive's checks, and the item is fulfilled on the server as for any file put there.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from functools import cached_property
from typing import Any
from urllib.parse import quote, urlencode

from sqlalchemy import select

from davportal.core.errors import NotFound, PortalError
from davportal.core.models import Account, Client, Document, DocumentRequest, Membership, RequestItem
from davportal.notifications.asked import long_date
from davportal.services import fulfilment
from davportal.services import requests as document_requests
from davportal.services.request import RequestContext
from davportal.services.requests import NewItem
from davportal.web import form
from davportal.web.console.acting import PAGE_SIZE, client_or_404, when
from davportal.web.console.paging import paging
from davportal.web.console.visit import Visit
from davportal.web.render import WEB, common_context, redirect
from policy import Actor, Role
from policy.names import human_size, is_desktop_file, is_reserved
from policy.pages import Tool, may_use, sees_request
from policy.requests import NOT_ACCEPTED_FOLDER, ItemStatus, RequestStatus, asks, is_overdue

PREFIX = "/requests"  # below WEB
BLANK_ROWS = 5  # empty item rows on the new request form: enough without JavaScript
MAX_ROWS = 100  # item rows read from one form
DONE_SHOWN = 20  # finished requests under "Done" on a contact's page
HISTORY_ROWS = 500
FINISHED = (RequestStatus.COMPLETE.value, RequestStatus.CANCELLED.value)

# The history's actions in plain words (the audit trail's details say which item and why).
HISTORY_WORDS = {
    document_requests.CREATED: "Request made", document_requests.SENT: "Sent to the client",
    fulfilment.UPLOADED: "Document sent", fulfilment.REOPENED: "Document removed: wanted again",
    document_requests.ACCEPTED: "Accepted", document_requests.REJECTED: "Not accepted",
    document_requests.CHANGED: "Changed", document_requests.CANCELLED: "Cancelled",
    document_requests.COMPLETED: "Complete", document_requests.REMINDED: "Reminder sent",
}  # fmt: skip


def url_of(request_id: int) -> str:
    """A request's address for everyone: staff get its page, its contacts their page on it."""
    return f"{WEB}{PREFIX}/{request_id}"


def is_requests(route: str) -> bool:
    return route == PREFIX or route.startswith(PREFIX + "/")


# --- in words -----------------------------------------------------------------------------------
def today_of(portal) -> date:
    """Today in the firm's time zone (by the portal's clock): due dates are the firm's days."""
    return portal.authenticator.clock().astimezone(portal.settings.requests.zone).date()


def due_words(due_on: date | None, today: date) -> str:
    if due_on is None:
        return ""
    if is_overdue(due_on, today):
        days = (today - due_on).days
        return f"overdue by {days} day{'s' if days != 1 else ''}"
    return "due today" if due_on == today else f"due {long_date(due_on)}"


def item_words(item: RequestItem) -> str:
    """An item's status as a client reads it."""
    if item.status == ItemStatus.ACCEPTED.value:
        return "Accepted"
    if item.status == ItemStatus.UPLOADED.value:
        return "Sent, waiting for the firm to check"
    if item.rejected_reason:
        return f"Not accepted: {item.rejected_reason} — please send it again"
    return "Still needed"


def files_words(item: RequestItem) -> str:
    """ "2 of 3 files" where several are expected."""
    expected = item.files_expected or 1
    if expected <= 1 or item.status == ItemStatus.ACCEPTED.value:
        return ""
    return f"{min(item.files, expected)} of {expected} files"


def counts_words(total: int, uploaded: int, accepted: int) -> str:
    needed = total - uploaded - accepted
    return f"{needed} needed · {uploaded} to check · {accepted} accepted"


# --- a contact's home page --------------------------------------------------------------------------
def home_requests(environ: dict, actor: Actor, client_id: str | None) -> dict:
    """A contact's requests for their home page (`/`: every client of theirs; `/<client>/`: that
    one's): the open ones with their items and an upload per wanted item, the finished ones
    under "Done". Only their own clients', and only those for their participant type."""
    if not actor.is_contact:
        return {}
    context = RequestContext.of(environ)
    portal = context.portal
    client_ids = [c for c in actor.clients if client_id is None or c == client_id]
    if not client_ids:
        return {}
    base = (select(DocumentRequest, Client.name).join(Client, Client.id == DocumentRequest.client_id)
            .where(DocumentRequest.client_id.in_(client_ids), Client.archived_at.is_(None)))  # fmt: skip
    with portal.sessions() as session:
        open_rows = session.execute(base.where(DocumentRequest.status == RequestStatus.OPEN.value)
                                    .order_by(DocumentRequest.due_on.is_(None), DocumentRequest.due_on,
                                              DocumentRequest.id)).all()  # fmt: skip
        done_rows = session.execute(base.where(DocumentRequest.status.in_(FINISHED))
                                    .order_by(DocumentRequest.id.desc()).limit(DONE_SHOWN)).all()  # fmt: skip
        shown = [(r, name) for r, name in [*open_rows, *done_rows]
                 if sees_request(actor, r.client_id, r.for_types, sent=r.sent_at is not None)]  # fmt: skip
        items = _items_by_request(session, [r.id for r, _ in shown if r.status == RequestStatus.OPEN.value])
        for request, _ in shown:
            session.expunge(request)
    today = today_of(portal)
    several = len(actor.clients) > 1 and client_id is None
    uploads = portal.settings.uploads
    open_requests, done_requests = [], []
    for request, client_name in shown:
        if request.status == RequestStatus.OPEN.value:
            open_requests.append(_for_contact(request, items.get(request.id, []), today))
        else:
            ended = request.completed_at if request.status == RequestStatus.COMPLETE.value else request.cancelled_at
            verb = "Complete" if request.status == RequestStatus.COMPLETE.value else "Cancelled by the firm"
            done_requests.append({"id": request.id, "title": request.title,
                                  "words": f"{verb}{' on ' + long_date(ended.date()) if ended else ''}"})  # fmt: skip
        if several:
            (open_requests if request.status == RequestStatus.OPEN.value else done_requests)[-1]["client"] = client_name
    return {
        "open_requests": open_requests, "done_requests": done_requests,
        "max_bytes": uploads.max_bytes, "max_size": human_size(uploads.max_bytes),
        "allowed_types": "" if "*" in (types := uploads.allowed_extensions) else ",".join(types),
    }  # fmt: skip


def _for_contact(request: DocumentRequest, items: list[RequestItem], today: date) -> dict:
    return {
        "id": request.id, "title": request.title, "message": request.message,
        "due": due_words(request.due_on, today), "overdue": is_overdue(request.due_on, today),
        "items": [{
            "id": item.id, "name": item.name, "note": item.note, "status": item.status, "words": item_words(item),
            "rejected": item.status == ItemStatus.REQUESTED.value and bool(item.rejected_reason),
            "files": files_words(item),
            "upload_url": (quote(f"/{request.client_id}/{item.folder}/")
                           if item.folder and item.status != ItemStatus.ACCEPTED.value else None),
        } for item in items],
    }  # fmt: skip


def _items_by_request(session, request_ids: Iterable[int]) -> dict[int, list[RequestItem]]:
    ids = list(request_ids)
    if not ids:
        return {}
    items: dict[int, list[RequestItem]] = {}
    query = (select(RequestItem).where(RequestItem.request_id.in_(ids))
             .order_by(RequestItem.request_id, RequestItem.position, RequestItem.id))  # fmt: skip
    for item in session.scalars(query):
        session.expunge(item)
        items.setdefault(item.request_id, []).append(item)
    return items


# --- a client's page, for staff ----------------------------------------------------------------------
def client_requests(environ: dict, actor: Actor, client_id: str) -> dict:
    """The Requests section of a client's page for staff: open ones with their counts, the rest below."""
    if not may_use(actor, Tool.REQUESTS):
        return {}
    portal = RequestContext.of(environ).portal
    today = today_of(portal)
    with portal.sessions() as session:
        requests = document_requests.of_client(session, client_id)
        rows = [{
            "url": url_of(r.id), "title": r.title, "status": r.status, "due": due_words(r.due_on, today),
            "overdue": r.status == RequestStatus.OPEN.value and is_overdue(r.due_on, today),
            "counts": counts_words(r.items_total, r.items_uploaded, r.items_accepted),
        } for r in requests]  # fmt: skip
    live = (RequestStatus.OPEN.value, RequestStatus.DRAFT.value)
    return {
        "staff_requests": [row for row in rows if row["status"] in live],
        "staff_done_requests": [row for row in rows if row["status"] not in live],
        "new_request_url": f"{WEB}{PREFIX}/new?{urlencode({'client': client_id})}",
    }  # fmt: skip


# --- the routes ---------------------------------------------------------------------------------------
class RequestVisit(Visit):
    """A visit to a requests page: the console's way of reading forms and answering, outside the console."""

    @property
    def parts(self) -> list[str]:
        """ "/requests/12/accept" -> ["12", "accept"]."""
        rest = self.route.removeprefix(PREFIX).strip("/")
        return rest.split("/") if rest else []

    def _context(self, context: dict) -> dict:
        return common_context(self.environ, self.actor) | context

    def url(self, *segments: str) -> str:
        return "/".join([WEB + PREFIX, *(quote(s, safe="") for s in segments)])

    @property
    def form(self) -> dict[str, str]:
        return {key: values[0] for key, values in self.form_lists.items()}

    @cached_property
    def form_lists(self) -> dict[str, list[str]]:
        """The POSTed form with every value of a repeated field (the contacts ticked), its CSRF token checked."""
        sent = form.read_lists(self.environ)
        form.require_token(next(iter(sent.get("csrf", [])), None), self.csrf)
        return sent


def route(visit: RequestVisit):
    """A requests page or action. Staff only, except a request's own address, which takes a
    contact to it on their page; anything a visitor may not see is a page that does not exist."""
    actor, parts, method = visit.actor, visit.parts, visit.method
    if actor.is_contact:
        if method in ("GET", "HEAD") and len(parts) == 1:
            return _contact_goes_to(visit, _number(parts[0]))
        raise NotFound("Not found.")
    if not may_use(actor, Tool.REQUESTS):
        raise NotFound("Not found.")
    match method, parts:
        case ("GET" | "HEAD", []):
            return _outstanding(visit)
        case ("GET" | "HEAD", ["new"]):
            return _new_form(visit)
        case "POST", ["new"]:
            return _create(visit)
        case ("GET" | "HEAD", [number]):
            return _request_page(visit, _number(number))
        case ("GET" | "HEAD", [number, "cancel"]):
            return _confirm_cancel(visit, _number(number))
        case "POST", [number, action] if action in ACTIONS:
            return _act(visit, _number(number), action)
    raise NotFound("Not found.")


def _number(text: str) -> int:
    if not text.isdigit() or len(text) > 12:
        raise NotFound("Not found.")
    return int(text)


def _contact_goes_to(visit: RequestVisit, request_id: int):
    with visit.portal.sessions() as session:
        request = session.get(DocumentRequest, request_id)
        client = session.get(Client, request.client_id) if request is not None else None
        archived = client is None or client.archived_at is not None
    # The same 404 for a request that does not exist and one that is not theirs to see.
    if request is None or archived or not sees_request(visit.actor, request.client_id, request.for_types,
                                                       sent=request.sent_at is not None):  # fmt: skip
        raise NotFound("Not found.")
    return redirect(visit.start_response, f"{quote('/' + request.client_id + '/')}#request-{request.id}")


# --- everything outstanding --------------------------------------------------------------------------
def _outstanding(visit: RequestVisit):
    query, portal = visit.query, visit.portal
    today = today_of(portal)
    client = query.get("client", "").strip()
    matter_type = query.get("matter_type", "").strip()
    staff = query.get("staff", "").strip()
    overdue = query.get("overdue") == "1"
    due_before, problem = _date(query.get("due_before", ""))
    filters: dict[str, Any] = {"client": client or None, "matter_type": matter_type or None,
                               "staff": staff or None, "due_before": due_before,
                               "overdue_on": today if overdue else None}  # fmt: skip
    with portal.sessions() as session:
        page = paging(visit, document_requests.count_outstanding(session, **filters), PAGE_SIZE)
        rows = document_requests.outstanding(session, **filters, offset=page.offset, limit=page.size)
        staff_logins = list(session.scalars(select(Account.login).where(Account.role == Role.STAFF.value)
                                            .order_by(Account.login)))  # fmt: skip
    matter_types = sorted((m.id, m.name) for m in portal.matter_types_file.current().values())
    return visit.page("requests_outstanding.html", {
        "rows": [{
            "url": url_of(row.id), "client_url": quote(f"/{row.client_id}/"), "client": row.client_name,
            "title": row.title, "due": due_words(row.due_on, today), "overdue": is_overdue(row.due_on, today),
            "needed": row.items_requested, "waiting": row.items_uploaded, "accepted": row.items_accepted,
        } for row in rows],
        "paging": page, "client": client, "matter_type": matter_type, "staff": staff, "overdue": overdue,
        "due_before": query.get("due_before", "") if due_before else "", "problem": problem,
        "matter_types": matter_types, "staff_logins": staff_logins,
    })  # fmt: skip


def _date(text: str) -> tuple[date | None, str]:
    text = text.strip()
    if not text:
        return None, ""
    try:
        return date.fromisoformat(text), ""
    except ValueError:
        return None, f"'{text}' is not a date: write it as 2027-01-31."


# --- a new request -----------------------------------------------------------------------------------
@dataclass
class Draft:
    """What the new request form holds: from a template, or as sent back with a refusal."""

    title: str = ""
    message: str = ""
    due: str = ""
    template: str = ""
    items: list[dict[str, str]] | None = None
    contacts: set[str] | None = None  # None: every contact ticked


def _new_form(visit: RequestVisit, draft: Draft | None = None, *, client_id: str | None = None, error: str = "",
              status: str = "200 OK"):  # fmt: skip
    portal = visit.portal
    client_id = client_id if client_id is not None else visit.query.get("client", "")
    matter_types = portal.matter_types_file.current()
    with portal.sessions() as session:
        client = client_or_404(session, client_id)
        contacts = session.execute(
            select(Membership.login, Account.name, Membership.participant_type)
            .join(Account, Account.login == Membership.login)
            .where(Membership.client_id == client.id).order_by(Membership.login)).all()  # fmt: skip
        client_name, client_type = client.name, client.matter_type
    # The client's own type's templates first, then every other type's.
    templates = sorted(((m.id != client_type, m.name, template_id, spec.title)
                        for m in matter_types.values() for template_id, spec in m.requests.items()))  # fmt: skip
    if draft is None:
        draft = Draft()
        chosen = visit.query.get("template", "")
        if chosen:
            try:
                _, spec = matter_types.request_template(chosen)
            except PortalError as unknown:
                error = unknown.reason
            else:
                days = spec.due_in_days
                due = (today_of(portal) + timedelta(days=days)).isoformat() if days is not None else ""
                draft = Draft(
                    spec.title,
                    spec.message or "",
                    due,
                    chosen,
                    [{"name": i.name, "note": i.note or "", "files": str(i.files or "")} for i in spec.items],
                    {login for login, _, kind in contacts if asks(spec.participants, kind)},
                )
    items = list(draft.items or [])
    items += [{"name": "", "note": "", "files": ""}] * max(BLANK_ROWS - len(items), 2)
    return visit.page("request_new.html", {
        "client_id": client_id, "client_name": client_name, "client_url": quote(f"/{client_id}/"),
        "draft": draft, "items": items, "error": error,
        "contacts": [{"login": login, "name": name or login, "type": kind,
                      "checked": draft.contacts is None or login in draft.contacts} for login, name, kind in contacts],
        "templates": [{"id": template_id, "label": f"{title} ({type_name})"}
                      for _, type_name, template_id, title in templates],
        "action": visit.url("new"),
    }, status=status)  # fmt: skip


def _create(visit: RequestVisit):
    lists = visit.form_lists
    sent = visit.form
    client_id = sent.get("client", "")
    items = []
    for row in range(MAX_ROWS):
        name = sent.get(f"item-{row}-name", "")
        note, files = sent.get(f"item-{row}-note", ""), sent.get(f"item-{row}-files", "").strip()
        if name.strip() or note.strip() or files:
            items.append({"name": name, "note": note, "files": files})
    draft = Draft(sent.get("title", ""), sent.get("message", ""), sent.get("due", ""), sent.get("template", ""),
                  items, set(lists.get("contact", [])))  # fmt: skip
    due_on, problem = _date(draft.due)
    new_items = []
    for item in items:
        files = item["files"]
        if files and not files.isdigit():
            problem = problem or f"'{item['name']}': the number of files is a number, e.g. 2."
        new_items.append(NewItem(item["name"], item["note"] or None, int(files) if files.isdigit() else None))
    if not problem:
        context = RequestContext.of(visit.environ)
        try:
            with visit.portal.sessions() as session:
                client_or_404(session, client_id)
            reminders, template = None, draft.template or None
            if template:
                settings = visit.portal.settings.requests
                _, spec = visit.portal.matter_types_file.current().request_template(template)
                reminders = document_requests.reminders_of(settings, spec)
            request = document_requests.create(
                context, client_id, title=draft.title, items=new_items, message=draft.message, due_on=due_on,
                contacts=sorted(draft.contacts or ()), reminders=reminders, template=template,
                send=sent.get("send") == "yes")  # fmt: skip
            context.session.flush()
            request_id = request.id
        except NotFound:
            raise
        except PortalError as refused:
            context.session.rollback()
            problem = refused.reason
        else:
            verb = "sent to the client" if sent.get("send") == "yes" else "saved; it is not sent yet"
            return visit.done(f"The request '{request.title}' is {verb}.", url_of(request_id))
    return _new_form(visit, draft, client_id=client_id, error=problem, status="400 Bad Request")


# --- a request's page, for staff ------------------------------------------------------------------------
def _request_page(visit: RequestVisit, request_id: int):
    portal = visit.portal
    today = today_of(portal)
    with portal.sessions() as session:
        request = document_requests.find(session, request_id)
        client = client_or_404(session, request.client_id)
        items = document_requests.items_of(session, request.id)
        contacts = session.execute(
            select(Account.login, Account.name)
            .where(Account.login.in_(document_requests.contacts_of(session, request.id)))
            .order_by(Account.login)
        ).all()
        files = _files_by_folder(session, request)
        history = _history(session, request)
        for thing in (request, client, *items):
            session.expunge(thing)
    is_open = request.status == RequestStatus.OPEN.value
    changeable = request.status != RequestStatus.CANCELLED.value
    return visit.page("request.html", {
        "request": request, "client_name": client.name, "client_url": quote(f"/{request.client_id}/"),
        "status_words": _status_words(request), "is_open": is_open, "changeable": changeable,
        "is_draft": request.status == RequestStatus.DRAFT.value,
        "due": due_words(request.due_on, today) if is_open else "",
        "overdue": is_open and is_overdue(request.due_on, today),
        "due_value": request.due_on.isoformat() if request.due_on else "",
        "contacts": [{"login": login, "name": name or login} for login, name in contacts],
        "items": [{
            "id": item.id, "name": item.name, "note": item.note, "status": item.status,
            "words": _staff_item_words(item), "files_words": files_words(item),
            "expected": item.files_expected, "reason": item.rejected_reason,
            "uploaded": (f"{item.uploaded_by} · {when(item.uploaded_at)}" if item.uploaded_at else ""),
            "reviewed": (f"{item.reviewed_by} · {when(item.reviewed_at)}" if item.reviewed_at else ""),
            "files": files.get(item.folder or "", []),
            "may_review": is_open and item.status != ItemStatus.ACCEPTED.value,
            "folder_url": quote(f"/{request.client_id}/{item.folder}/") if item.folder else None,
        } for item in items],
        "set_aside": [dict(f, item=folder.rsplit("/", 1)[-1]) for folder, held in files.items()
                      if folder.startswith(f"{request.folder}/{NOT_ACCEPTED_FOLDER}/") for f in held],
        "history": history, "act": lambda action: visit.url(str(request.id), action),
        "folder_url": quote(f"/{request.client_id}/{request.folder}/") if request.folder else None,
    })  # fmt: skip


def _status_words(request: DocumentRequest) -> str:
    if request.status == RequestStatus.DRAFT.value:
        return "Not sent yet"
    if request.status == RequestStatus.OPEN.value:
        return f"Open since {when(request.sent_at)}"
    if request.status == RequestStatus.COMPLETE.value:
        return f"Complete: every item accepted ({when(request.completed_at)})"
    return f"Cancelled by {request.cancelled_by} ({when(request.cancelled_at)})"


def _staff_item_words(item: RequestItem) -> str:
    if item.status == ItemStatus.ACCEPTED.value:
        return "Accepted"
    if item.status == ItemStatus.UPLOADED.value:
        return "Sent: to check"
    if item.rejected_reason:
        return f"Not accepted ({item.rejected_reason}): wanted again"
    return "Still needed"


def _files_by_folder(session, request: DocumentRequest) -> dict[str, list[dict]]:
    """The files in the request's folders by the folder holding them, from their records: one query."""
    if request.folder is None:
        return {}
    rows = session.execute(select(Document.path, Document.uploaded_by, Document.uploaded_at).where(
        Document.client_id == request.client_id, Document.is_folder.is_(False),
        Document.path.startswith(request.folder + "/", autoescape=True)).order_by(Document.path)).all()  # fmt: skip
    files: dict[str, list[dict]] = {}
    for path, by, at in rows:
        folder, _, name = path.rpartition("/")
        if is_reserved(name) or is_desktop_file(name):
            continue
        files.setdefault(folder, []).append({"name": name, "url": quote(f"/{request.client_id}/{path}"),
                                             "by": by or "", "when": when(at)})  # fmt: skip
    return files


def _history(session, request: DocumentRequest) -> list[dict]:
    """The request's steps from the audit trail, oldest first, in plain words."""
    return [{"when": when(datetime.fromisoformat(e["at"])), "who": e["name"] or e["login"] or "",
             "what": HISTORY_WORDS.get(e["action"], "Changed"), "detail": _detail(e["detail"] or "", request.id)}
            for e in document_requests.history(session, request, limit=HISTORY_ROWS)]  # fmt: skip


def _detail(text: str, request_id: int) -> str:
    return text.removeprefix(f"request {request_id}").lstrip(" :")


# --- acting on a request ---------------------------------------------------------------------------------
def _confirm_cancel(visit: RequestVisit, request_id: int):
    with visit.portal.sessions() as session:
        request = document_requests.find(session, request_id)
        title, status = request.title, request.status
    return visit.page(
        "request_cancel.html",
        {
            "title": title,
            "finished": status in FINISHED,
            "back": url_of(request_id),
            "action": visit.url(str(request_id), "cancel"),
        },
    )


def _accept(context, request_id: int, sent: dict) -> str:
    item = document_requests.accept(context, request_id, _item_id(sent))
    return f"'{item.name}' is accepted."


def _reject(context, request_id: int, sent: dict) -> str:
    keep = sent.get("keep", "yes") != "no"
    item = document_requests.reject(context, request_id, _item_id(sent), sent.get("reason", ""), keep=keep)
    where = "kept for staff under 'Not accepted'" if keep else "moved to the trash"
    return f"'{item.name}' is not accepted; the client is told why. Its files are {where}."


def _add_item(context, request_id: int, sent: dict) -> str:
    files = sent.get("files", "").strip()
    if files and not files.isdigit():
        raise document_requests.RequestProblem("The number of files is a number, e.g. 2.")
    item = document_requests.add_item(context, request_id, NewItem(sent.get("name", ""), sent.get("note") or None,
                                                                   int(files) if files else None))  # fmt: skip
    return f"'{item.name}' is added."


def _remove_item(context, request_id: int, sent: dict) -> str:
    item_id = _item_id(sent)
    name = next((i.name for i in document_requests.items_of(context.session, request_id) if i.id == item_id), "")
    document_requests.remove_item(context, request_id, item_id)
    return f"'{name}' is no longer asked for; anything sent for it stays in its folder."


def _set_due(context, request_id: int, sent: dict) -> str:
    due_on, problem = _date(sent.get("due", ""))
    if problem:
        raise document_requests.RequestProblem(problem)
    document_requests.set_due(context, request_id, due_on)
    return f"It is now due {long_date(due_on)}." if due_on else "It now has no due date."


def _cancel(context, request_id: int, sent: dict) -> str:
    if sent.get("confirm") != "yes":
        raise document_requests.RequestProblem("Nothing was cancelled: tick the box to confirm.")
    request = document_requests.cancel(context, request_id)
    return f"'{request.title}' is cancelled. Every file sent for it is kept."


def _send(context, request_id: int, sent: dict) -> str:
    request = document_requests.send_request(context, request_id)
    return f"'{request.title}' is sent to the client."


ACTIONS = {"accept": _accept, "reject": _reject, "add-item": _add_item, "remove-item": _remove_item,
           "due": _set_due, "cancel": _cancel, "send": _send}  # fmt: skip


def _item_id(sent: dict) -> int:
    return _number(sent.get("item", ""))


def _act(visit: RequestVisit, request_id: int, action: str):
    sent = visit.form
    context = RequestContext.of(visit.environ)
    try:
        message = ACTIONS[action](context, request_id, sent)
        context.session.flush()
    except NotFound:
        raise  # another request's item, or no such request: the page that does not exist
    except PortalError as refused:
        context.session.rollback()  # nothing of a refused change is kept
        back = url_of(request_id) + ("/cancel" if action == "cancel" else "")
        return visit.done(refused.reason, back, ok=False)
    return visit.done(message, url_of(request_id))
