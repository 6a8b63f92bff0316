"""The audit trail: who read or changed what, and when; filtered, a page at a time (newest first),
and the filtered rows as a CSV or JSON download. The filters are the audit service's."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from urllib.parse import urlencode

from davportal.core.errors import BadRequest, NotFound
from davportal.services import audit
from davportal.web.console.paging import paging
from davportal.web.console.visit import Visit

SLUG = "audit"
DOWNLOADS = {  # the filtered rows, as files to keep or hand on
    "export.csv": ("text/csv; charset=utf-8", audit.as_csv),
    "export.json": ("application/json", audit.as_json),
}


@dataclass(frozen=True)
class Field:
    name: str  # in the page's query
    label: str
    kind: str = "text"  # the input's type


# The filters the page offers, in the order of its form.
FIELDS = (
    Field("client", "Client"),
    Field("user", "Login"),
    Field("path", "Folder or file"),
    Field("action", "Action"),
    Field("from", "From", "date"),
    Field("to", "To (included)", "date"),
)


def handle(visit: Visit):
    match visit.method, visit.parts:
        case ("GET" | "HEAD", []):
            return _trail(visit)
        case ("GET" | "HEAD", [download]) if download in DOWNLOADS:
            return _download(visit, download)
    raise NotFound("Not found.")


def _filters(visit: Visit) -> tuple[dict, list[str]]:
    """The audit service's filters from the page's query, and what in it could not be read."""
    query, problems = visit.query, []

    def day(name: str) -> datetime | None:
        text = query.get(name, "").strip()
        if not text:
            return None
        try:
            return datetime.combine(date.fromisoformat(text), time(), tzinfo=UTC)
        except ValueError:
            problems.append(f'"{text}" is not a date: write it as 2026-01-31.')
            return None

    since, to = day("from"), day("to")
    filters = {"client_id": query.get("client", "").strip() or None, "login": query.get("user", "").strip() or None,
               "path": query.get("path", "").strip() or None, "action": query.get("action", "").strip() or None,
               "since": since, "until": to + timedelta(days=1) if to else None}  # fmt: skip
    return filters, problems


def _trail(visit: Visit):
    filters, problems = _filters(visit)
    with visit.portal.sessions() as session:
        page = paging(visit, 0 if problems else audit.count(session, **filters))
        # The service reads oldest first: the newest page is the last rows of its order.
        end = page.total - page.offset
        start = max(0, end - page.size)
        rows = audit.events(session, **filters, offset=start, limit=end - start) if end > 0 else []
    newest_first = rows[::-1]
    kept = urlencode({k: v for k, v in visit.query.items() if v and k != "page"})
    return visit.page("console_audit.html", {
        "fields": [(field, visit.query.get(field.name, "")) for field in FIELDS], "rows": newest_first,
        "columns": audit.COLUMNS, "problems": problems, "paging": page, "kept": kept,
    })  # fmt: skip


def _download(visit: Visit, name: str):
    filters, problems = _filters(visit)
    if problems:
        raise BadRequest(" ".join(problems))
    content_type, render = DOWNLOADS[name]
    with visit.portal.sessions() as session:
        body = render(audit.events(session, **filters)).encode("utf-8")
    stamp = datetime.now(UTC).strftime("%Y-%m-%d")
    visit.start_response("200 OK", [
        ("Content-Type", content_type), ("Content-Length", str(len(body))),
        ("Content-Disposition", f'attachment; filename="audit-{stamp}.{name.rpartition(".")[2]}"'),
        ("X-Content-Type-Options", "nosniff"), ("Cache-Control", "no-store"),
    ])  # fmt: skip
    return [b"" if visit.method == "HEAD" else body]
