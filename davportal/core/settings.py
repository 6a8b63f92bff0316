"""The `davportal:` section of the config: every key, its type, default and help, in one place.

The config file holds the server's keys (host, port, TLS, logging) and this section; this
module validates the section. How the portal is wired into WsgiDAV is `davportal.app`'s business.
"""

from __future__ import annotations

import os
from datetime import time
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
from pydantic import BaseModel, ConfigDict, Field, IPvAnyNetwork, ValidationError, field_validator

from davportal.core.errors import ConfigError
from policy.requests import Reminders

CONFIG_ENV = "DAVPORTAL_CONFIG"
DATABASE_URL_ENV = "DAVPORTAL_DATABASE_URL"
SMTP_PASSWORD_ENV = "DAVPORTAL_SMTP_PASSWORD"
DATA_DIR = "davportal-data"

DEFAULT_EXTENSIONS = (
    # images
    "jpg", "jpeg", "png", "gif", "webp",
    # video (ts, m2ts, mts: the MPEG transport stream the seeds call "mp2t")
    "mp4", "mpg", "mpeg", "mov", "m4v", "wmv", "avi", "3gp", "ts", "m2ts", "mts",
    # audio (mpga: the seeds' "mpeg" audio)
    "mp3", "mpga", "ogg", "oga", "wav",
    # documents
    "pdf", "csv", "rtf", "txt", "zip", "doc", "docx", "xls", "xlsx", "ppt", "pptx",
)  # fmt: skip


class Section(BaseModel):
    # An unknown key is a typo the admin wants to hear about, not a silent default.
    model_config = ConfigDict(extra="forbid", frozen=True)


class Folders(Section):
    team_shared: str = Field("Team's shared", description="Folder staff write and contacts read")
    client_shared: str = Field("Client's shared", description="Folder contacts write and staff read")


class Uploads(Section):
    max_bytes: int = Field(100 * 1024 * 1024, gt=0, description="Largest file accepted, in bytes")
    allowed_extensions: tuple[str, ...] = Field(
        DEFAULT_EXTENSIONS, description='File types accepted, by extension; ["*"] accepts any'
    )
    stale_partial_seconds: float = Field(
        300, ge=0, description="Unfinished uploads idle this long are removed (at start and with each purge)"
    )

    @field_validator("allowed_extensions")
    @classmethod
    def _lower(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(ext.lower().lstrip(".") for ext in value)


class Auth(Section):
    realm: str = Field("davportal", description="Realm shown in the browser's login prompt")
    cache_seconds: float = Field(300, ge=0, description="How long a verified password is trusted without a new hash")
    slowdown_after: int = Field(3, ge=1, description="Failures (login and network) before tries are spaced out")
    slowdown_max_seconds: float = Field(25, ge=0, description="Longest wait between tries (doubling up to it)")
    staff_two_factor: bool = Field(False, description="Staff must sign in to the web with a code (TOTP)")
    network_slowdown_after: int = Field(
        30, ge=1, description="Failures from one network, across logins, before its tries are spaced out"
    )


class Accounts(Section):
    invite_hours: float = Field(72, gt=0, description="How long an invitation's set-up link works")
    reset_hours: float = Field(2, gt=0, description="How long a password reset link works")
    password_min_length: int = Field(10, ge=8, description="Shortest password anyone may choose")


class Limits(Section):
    xml_body_bytes: int = Field(1024 * 1024, gt=0, description="Largest XML request body")
    lock_timeout_seconds: int = Field(3600, gt=0, description="Longest lock a client may take")
    # Kept by `davportal serve` (davportal.connections); under another WSGI server, that server's own apply.
    header_seconds: float = Field(
        10, gt=0, description="A connection must send its request line and headers within this time, or is closed"
    )
    min_body_bytes_per_second: int = Field(
        1024, ge=0, description="A request body slower than this on average (after the grace) is cut off; 0: no floor"
    )
    body_grace_seconds: float = Field(
        30, ge=0, description="How long a body may arrive slowly at first: its pace is counted from then"
    )
    keepalive_seconds: float = Field(15, gt=0, description="An idle kept-alive connection is closed after this")
    # The kernel caps it at net.core.somaxconn; gunicorn has its own (--backlog).
    listen_backlog: int = Field(
        128, ge=1, description="Connections the system completes and queues until a worker takes one"
    )


class Trash(Section):
    retention_days: float = Field(30, ge=0, description="How long deleted documents can be restored")
    purge_every_seconds: float = Field(
        3600, gt=0, description="How often the trash, old versions and unfinished uploads are purged"
    )


class Versions(Section):
    keep: int = Field(20, ge=1, description="Earlier versions kept per document (the oldest go first)")
    keep_days: float = Field(
        180, ge=0, description="Earlier versions older than this are purged with the trash; 0: kept however old"
    )


class Mail(Section):
    host: str | None = Field(None, description="SMTP server; without one, notices wait in the outbox")
    port: int = Field(587, gt=0, lt=65536, description="SMTP port (587 STARTTLS, 465 implicit TLS, 25 relay)")
    security: Literal["starttls", "tls", "none"] = Field("starttls", description="How the connection is secured")
    username: str | None = Field(None, description="SMTP login, if the server wants one")
    password: str | None = Field(None, description=f"SMTP password; {SMTP_PASSWORD_ENV} overrides it")
    from_address: str = Field("portal@localhost", description="From: of every email")
    timeout_seconds: float = Field(30, gt=0, description="How long to wait for the SMTP server")
    max_attempts: int = Field(8, ge=1, description="Tries before a message is marked failed")
    retry_seconds: float = Field(30, gt=0, description="Wait before the first retry; it doubles each time")
    claim_seconds: float = Field(300, gt=0, description="How long a sender holds a message it is sending")


class Notifications(Section):
    enabled: bool = Field(True, description="Email contacts about new documents (and staff about uploads)")
    digest_seconds: float = Field(120, ge=0, description="Events within this time of the first go in one email")
    staff_on_client_upload: bool = Field(True, description="Tell staff when a client uploads")
    staff_address: str | None = Field(None, description="Where staff hear of uploads (besides assigned staff)")
    public_url: str = Field("http://127.0.0.1:8080/", description="The portal's address, for links in emails")
    send_in_serve: bool = Field(
        True, description="The server (`davportal serve` or davportal.wsgi:app) also sends the emails"
    )


class Antivirus(Section):
    clamd_socket: str | None = Field(
        None, description="clamd's socket (a path, or tcp://host:port); without one, uploads are not scanned"
    )
    on_infected: Literal["refuse", "quarantine"] = Field(
        "refuse", description="An infected upload is discarded, or kept apart for the admin"
    )
    when_unavailable: Literal["refuse", "accept"] = Field(
        "refuse", description="When clamd cannot be reached: refuse uploads (503), or store them unscanned"
    )
    timeout_seconds: float = Field(120, gt=0, description="How long a scan may take")


class ReminderSchedule(Section):
    """When a request's contacts are reminded of items still open, unless the request or its template says."""

    before_due_days: tuple[int, ...] = Field((7,), description="Days before the due date to remind (e.g. [7, 2])")
    on_due_date: bool = Field(True, description="Remind on the due date itself")
    every_days_after: int = Field(3, ge=0, description="Once overdue, remind every so many days (0: never)")
    at_most_after: int = Field(3, ge=0, description="...at most this many times")


class Requests(Section):
    folder_prefix: str = Field("Requested - ", description="A request's folder in Client's shared: this + its title")
    reminder_time: time = Field(time(9, 0), description="Time of day reminders go out, in time_zone")
    time_zone: str = Field("UTC", description="The firm's time zone, for due dates and reminders")
    reminders: ReminderSchedule = ReminderSchedule()

    @field_validator("time_zone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"'{value}' is not a time zone (e.g. Europe/London, America/New_York)") from None
        return value

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.time_zone)

    @property
    def default_reminders(self) -> Reminders:
        return Reminders(**self.reminders.model_dump())


class Web(Section):
    session_hours: float = Field(12, gt=0, description="How long a browser stays signed in")
    logo_url: str | None = Field(None, description="The firm's logo on every page (an https URL or /path)")


class Settings(Section):
    firm_name: str = Field("Our firm", description="Shown to clients in pages and emails")
    database_url: str = Field(
        f"sqlite:///{DATA_DIR}/davportal.db",
        description=f"SQLAlchemy URL; {DATABASE_URL_ENV} overrides it (keeps passwords out of files)",
    )
    storage_root: Path = Field(Path(DATA_DIR) / "files", description="Folder that holds every client's files")
    matter_types_file: Path | None = Field(None, description="YAML file of matter types (folder templates)")
    database_timeout_seconds: float = Field(
        10, gt=0, description="How long to wait for the database to connect or to acknowledge; then 503"
    )
    database_statement_seconds: float = Field(
        120, ge=0, description="Longest a PostgreSQL statement may run (statement_timeout); 0: no limit"
    )
    database_cache_seconds: float = Field(
        1,
        ge=0,
        le=1,
        description="How long a node reuses what it read of a login, a client's matter type or a file's dead "
        "properties and locks; a change made through the portal is seen at once (0: read them on every request)",
    )
    redis_url: str | None = Field(
        None, description="No longer used (WebDAV locks are kept in the database); accepted so older configs start"
    )
    redis_timeout_seconds: float = Field(
        2, gt=0, description="No longer used (nothing asks Redis); accepted so older configs start"
    )
    behind_tls_proxy: bool = Field(
        False, description="Served plain HTTP behind a proxy that terminates TLS (so it may listen beyond loopback)"
    )
    trusted_proxies: tuple[IPvAnyNetwork, ...] = Field(
        (), description="Reverse proxies (addresses or networks) whose X-Forwarded-* headers are believed"
    )
    folders: Folders = Folders()
    uploads: Uploads = Uploads()
    auth: Auth = Auth()
    accounts: Accounts = Accounts()
    limits: Limits = Limits()
    trash: Trash = Trash()
    versions: Versions = Versions()
    mail: Mail = Mail()
    notifications: Notifications = Notifications()
    requests: Requests = Requests()
    web: Web = Web()
    antivirus: Antivirus = Antivirus()

    @field_validator("redis_url")
    @classmethod
    def _redis_url(cls, value: str | None) -> str | None:
        if value is None:
            return None
        parts = urlsplit(value)
        try:
            parts.port  # noqa: B018 - a port that is not a number raises here
        except ValueError:
            raise ValueError("the port is not a number from 0 to 65535") from None
        if parts.scheme not in ("redis", "rediss", "unix"):
            raise ValueError("expected redis://host:port/db (or rediss:// or unix://)")
        return value

    @classmethod
    def from_section(cls, section: dict[str, Any] | None, *, source: str) -> Settings:
        data = dict(section or {})
        if os.environ.get(DATABASE_URL_ENV):
            data["database_url"] = os.environ[DATABASE_URL_ENV]
        if os.environ.get(SMTP_PASSWORD_ENV):
            data["mail"] = {**data.get("mail", {}), "password": os.environ[SMTP_PASSWORD_ENV]}
        try:
            return cls.model_validate(data)
        except ValidationError as exc:
            problem = exc.errors()[0]
            key = ".".join(str(part) for part in ("davportal", *problem["loc"]))
            raise ConfigError(f"{source}: {key}: {problem['msg']}") from None


def load_config(path: str | os.PathLike | None) -> tuple[dict[str, Any], str]:
    """Read the YAML config (or the embedded defaults) and return (config, source name)."""
    path = path or os.environ.get(CONFIG_ENV)
    if not path:
        return {"davportal": {}}, "embedded defaults"
    try:
        with open(path, encoding="utf-8") as fh:
            config = yaml.safe_load(fh) or {}
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read the config file ({exc.strerror})") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML ({exc})") from None
    if not isinstance(config, dict):
        raise ConfigError(f"{path}: expected a mapping of keys at the top level")
    return config, str(path)


def settings_of(config: dict[str, Any], source: str = "config") -> Settings:
    return Settings.from_section(config.get("davportal"), source=source)
