"""Emails as the portal sends them: from the firm, in plain text and HTML, ready for the outbox."""

from __future__ import annotations

import email.utils
from datetime import datetime
from email.headerregistry import Address
from email.message import EmailMessage

from jinja2 import Environment, PackageLoader, select_autoescape

from davportal.core.models import OutboxMessage
from davportal.core.settings import Settings

_templates = Environment(loader=PackageLoader("davportal.notifications"), autoescape=select_autoescape(["html.j2"]),
                         trim_blocks=True, lstrip_blocks=True)  # fmt: skip


def outbox_message(settings: Settings, recipient: str, subject: str, template: str, context: dict,
                   now: datetime) -> OutboxMessage:  # fmt: skip
    """`template`.txt.j2 and `template`.html.j2 rendered with `context` (and the firm, the subject)."""
    context = {"firm": settings.firm_name, "subject": subject} | context
    mail = EmailMessage()
    mail["Subject"] = subject
    mail["From"] = Address(display_name=settings.firm_name, addr_spec=settings.mail.from_address)
    mail["To"] = recipient
    mail["Date"] = email.utils.format_datetime(now)
    domain = settings.mail.from_address.rpartition("@")[2] or "davportal.invalid"
    message_id = email.utils.make_msgid(idstring="davportal", domain=domain)
    mail["Message-ID"] = message_id
    mail.set_content(_templates.get_template(f"{template}.txt.j2").render(context))
    mail.add_alternative(_templates.get_template(f"{template}.html.j2").render(context), subtype="html")
    return OutboxMessage(recipient=recipient, message_id=message_id, raw=mail.as_string(), next_attempt_at=now)
