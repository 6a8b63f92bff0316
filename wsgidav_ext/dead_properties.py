"""WebDAV dead properties in the portal's database, read in one query per listing.

WsgiDAV asks its property manager once per listed entry (and once more per property); here a
folder listing loads every entry's properties in one statement, with their locks, kept in the
request's context (`wsgidav_ext.prefetch`).
"""

from __future__ import annotations

from contextlib import contextmanager

from sqlalchemy import delete, or_, select

from davportal.core.models import DeadProperty
from davportal.services.portal import Portal
from davportal.services.request import RequestContext
from wsgidav_ext.lock_store import PortalLockStorage


class PortalPropertyManager:
    def __init__(self, wsgidav_app):
        self.portal = Portal.of(wsgidav_app.config)

    def __repr__(self):
        return f"{self.__class__.__name__}()"

    # --- reading -----------------------------------------------------------------------
    def _properties(self, url: str, environ: dict | None) -> dict[str, str]:
        if environ is None:  # outside a request: read it, keep nothing
            with self.portal.sessions() as session:
                rows = session.execute(select(DeadProperty.name, DeadProperty.value).where(DeadProperty.url == url))
                return dict(rows.all())
        cache = RequestContext.of(environ).dead_properties
        if url not in cache:  # read with its locks, in one statement (`wsgidav_ext.prefetch`)
            storage: PortalLockStorage = environ["wsgidav.provider"].lock_manager.storage
            storage.prefetch([url], environ)
        return cache[url]

    def get_properties(self, norm_url, environ=None):
        return list(self._properties(norm_url, environ))

    def get_property(self, norm_url, name, environ=None):
        return self._properties(norm_url, environ).get(name)

    # --- writing -----------------------------------------------------------------------
    def write_property(self, norm_url, name, property_value, dry_run=False, environ=None):
        if dry_run:
            return
        value = property_value.decode("utf-8") if isinstance(property_value, bytes) else property_value
        with self._writing(environ) as session:
            session.merge(DeadProperty(url=norm_url, name=name, value=value))
        self._forget(environ)

    def remove_property(self, norm_url, name, dry_run=False, environ=None):
        if dry_run:
            return
        with self._writing(environ) as session:
            session.execute(delete(DeadProperty).where(DeadProperty.url == norm_url, DeadProperty.name == name))
        self._forget(environ)

    def remove_properties(self, norm_url, environ=None):
        """A resource's properties, and for a folder those of everything in it."""
        with self._writing(environ) as session:
            session.execute(delete(DeadProperty).where(_at_or_below(norm_url)))
        self._forget(environ)

    def copy_properties(self, src_url, dest_url, environ=None):
        with self._writing(environ) as session:
            session.execute(delete(DeadProperty).where(DeadProperty.url == dest_url))
            for row in session.scalars(select(DeadProperty).where(DeadProperty.url == src_url)).all():
                session.add(DeadProperty(url=dest_url, name=row.name, value=row.value))
        self._forget(environ)

    def move_properties(self, src_url, dest_url, with_children, environ=None):
        with self._writing(environ) as session:
            session.execute(delete(DeadProperty).where(_at_or_below(dest_url) if with_children
                                                       else DeadProperty.url == dest_url))  # fmt: skip
            condition = _at_or_below(src_url) if with_children else DeadProperty.url == src_url
            rows = session.scalars(select(DeadProperty).where(condition)).all()
            moved = [(dest_url + row.url[len(src_url) :], row.name, row.value) for row in rows]
            for row in rows:
                session.delete(row)
            session.flush()
            session.add_all(DeadProperty(url=url, name=name, value=value) for url, name, value in moved)
        self._forget(environ)

    @contextmanager
    def _writing(self, environ: dict | None):
        """The request's session (committed with its audit event), or one of its own outside requests."""
        if environ is not None:
            yield RequestContext.of(environ).session
            return
        with self.portal.sessions.begin() as session:
            yield session

    @staticmethod
    def _forget(environ: dict | None) -> None:
        if environ is not None:
            RequestContext.of(environ).dead_properties.clear()


def _at_or_below(url: str):
    if not url.endswith("/"):
        return DeadProperty.url == url
    return or_(DeadProperty.url == url, DeadProperty.url.startswith(url, autoescape=True))
