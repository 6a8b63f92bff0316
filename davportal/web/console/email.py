"""The outbox: how many emails wait, went out or could not be sent, and sending the failed ones again."""

from __future__ import annotations

from davportal.core.errors import NotFound
from davportal.notifications import outbox
from davportal.web.console.acting import attempt
from davportal.web.console.ids import number
from davportal.web.console.visit import Visit

SLUG = "email"


def handle(visit: Visit):
    match visit.method, visit.parts:
        case ("GET" | "HEAD", []):
            return _status(visit)
        case "POST", ["retry"]:
            return _retry(visit)
        case "POST", ["retry-failed"]:
            return _retry_failed(visit)
    raise NotFound("Not found.")


def _status(visit: Visit):
    settings = visit.portal.settings
    with visit.portal.sessions() as session:
        found = outbox.listing(session)
    return visit.page("console_email.html", {
        "counts": found.counts, "failed": [m for m in found.messages if m.status == outbox.FAILED],
        "pending": [m for m in found.messages if m.status == outbox.PENDING], "waiting": found.waiting,
        "mail_server": settings.mail.host, "notifications_on": settings.notifications.enabled,
        "PENDING": outbox.PENDING, "SENT": outbox.SENT, "FAILED": outbox.FAILED,
    })  # fmt: skip


def _retry(visit: Visit):
    message_id = number(visit.form.get("message"), "email")

    def retry(session, actor) -> str:
        return f"The email to {outbox.retry(session, message_id, actor=actor).recipient} will be sent again."

    return attempt(visit, visit.url(SLUG), retry)


def _retry_failed(visit: Visit):
    _ = visit.form  # reading it checks its token: a page out of date sends nothing again

    def retry_all(session, actor) -> str:
        return f"{outbox.retry_failed(session, actor=actor)} email(s) that could not be sent will be sent again."

    return attempt(visit, visit.url(SLUG), retry_all)
