"""Errors that carry an HTTP status and a reason a person can read; details stay in the log."""

from __future__ import annotations

from http import HTTPStatus


class PortalError(Exception):
    status = HTTPStatus.INTERNAL_SERVER_ERROR

    def __init__(self, reason: str, *, detail: str = "", condition: str | None = None,
                 headers: tuple[tuple[str, str], ...] = ()):  # fmt: skip
        super().__init__(reason)
        self.reason = reason  # for the contact, or the CLI's stderr
        self.detail = detail  # for the log only: paths on disk, SQL, hosts
        self.condition = condition  # a WebDAV precondition element, e.g. propfind-finite-depth
        self.headers = headers  # e.g. Retry-After


class ConfigError(PortalError):
    pass


class BadRequest(PortalError):
    status = HTTPStatus.BAD_REQUEST


class Unauthorized(PortalError):
    status = HTTPStatus.UNAUTHORIZED


class NotAllowed(PortalError):
    status = HTTPStatus.FORBIDDEN


class NotFound(PortalError):
    status = HTTPStatus.NOT_FOUND


class NotAllowedHere(PortalError):
    status = HTTPStatus.METHOD_NOT_ALLOWED  # e.g. making a folder where one already is


class Conflict(PortalError):
    status = HTTPStatus.CONFLICT


class ChangedMeanwhile(PortalError):
    status = HTTPStatus.PRECONDITION_FAILED  # someone else wrote the name while this request ran


class TooLarge(PortalError):
    status = HTTPStatus.REQUEST_ENTITY_TOO_LARGE


class UnsupportedType(PortalError):
    status = HTTPStatus.UNSUPPORTED_MEDIA_TYPE


class TooManyAttempts(PortalError):
    status = HTTPStatus.TOO_MANY_REQUESTS


class BadGateway(PortalError):
    status = HTTPStatus.BAD_GATEWAY


_BY_STATUS = {cls.status: cls for cls in (BadRequest, NotAllowed, NotFound, Conflict, TooLarge, UnsupportedType)}


def refusal(status: int, reason: str, *, condition: str | None = None) -> PortalError:
    """The error for a policy decision's status."""
    return _BY_STATUS[HTTPStatus(status)](reason, condition=condition)
