"""Ids sent in a console URL or form: read as what they must be, or the 404 of a thing that is not there."""

from __future__ import annotations

from davportal.core.errors import NotFound


def number(value: str | None, what: str) -> int:
    """A numeric id (a trash item, an email); anything else names nothing."""
    if not value or not value.isdigit() or len(value) > 18:
        raise NotFound(f"There is no such {what}.")
    return int(value)
