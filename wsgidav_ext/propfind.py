"""PROPFIND answered directly for what clients ask most: allprop, or the common live properties
and any dead ones, at Depth 0 or 1.

WsgiDAV answers a PROPFIND through its generic loop: for every entry and every property a
method call, a DAVError for each missing one, an element tree built and then serialized. Here
the folder is read with one scandir and filtered by the policy (the provider's
`visible_members`), the entries' dead properties and locks come in one statement
(`wsgidav_ext.prefetch`), and the multistatus is written as text. When no entry holds a lock,
every `lockdiscovery` is the same empty element: no lock work per entry at all.

Anything else goes to WsgiDAV unchanged: a property of the portal's own, an unknown property in
the DAV: namespace, `propname`, conditional headers (If, If-Match...), a name XML cannot carry.
"""

from __future__ import annotations

import io
import re
from collections.abc import Callable
from urllib.parse import quote

from lxml import etree
from wsgidav import util, xml_tools
from wsgidav.mw.base_mw import BaseMiddleware

from davportal.services.request import RequestContext
from policy.locks import normalized
from policy.properties import NS, OC_CHECKSUMS
from wsgidav_ext.live_properties import is_live_property
from wsgidav_ext.lock_store import PortalLockStorage, lock_discovery
from wsgidav_ext.provider import HREF_SAFE, PortalFile, PortalFolder

_CONDITIONS = ("HTTP_IF", "HTTP_IF_MATCH", "HTTP_IF_NONE_MATCH", "HTTP_IF_MODIFIED_SINCE", "HTTP_IF_UNMODIFIED_SINCE")
_HREF_ONLY = re.compile(r"[!*(),$|]")  # left as they are in an href, encoded in a ref URL
_OWN_NAMESPACES = (f"{{{NS}}}", OC_CHECKSUMS[: OC_CHECKSUMS.index("}") + 1])  # the portal's and ownCloud's
# What XML 1.0 cannot carry (and names that are not UTF-8, kept by Python as lone surrogates).
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")

_OK = "<D:status>HTTP/1.1 200 OK</D:status></D:propstat>"
_NOT_FOUND = "<D:status>HTTP/1.1 404 Not Found</D:status></D:propstat>"
_NO_LOCK = "<D:lockdiscovery/>"
_SUPPORTED_LOCK = (
    "<D:supportedlock>"
    "<D:lockentry><D:lockscope><D:exclusive/></D:lockscope><D:locktype><D:write/></D:locktype></D:lockentry>"
    "<D:lockentry><D:lockscope><D:shared/></D:lockscope><D:locktype><D:write/></D:locktype></D:lockentry>"
    "</D:supportedlock>"
)


class _Unhandled(Exception):
    """The request is WsgiDAV's to answer after all."""


class PropfindFastPath(BaseMiddleware):
    def __call__(self, environ, start_response):
        if environ["REQUEST_METHOD"] != "PROPFIND":
            return self.next_app(environ, start_response)
        try:
            body = _answer(environ)
        except _Unhandled:
            return self.next_app(environ, start_response)
        start_response("207 Multi-Status", [
            ("Content-Type", "application/xml; charset=utf-8"),
            ("Date", util.get_rfc1123_time()),
            ("Content-Length", str(len(body))),
        ])  # fmt: skip
        return [body]


def _answer(environ: dict) -> bytes:
    depth = environ.get("HTTP_DEPTH", "infinity").lower()
    if depth not in ("0", "1") or any(header in environ for header in _CONDITIONS):
        raise _Unhandled
    names = _asked(environ)
    provider = environ.get("wsgidav.provider")
    resource = provider.get_resource_inst(environ["PATH_INFO"], environ) if provider else None
    if not isinstance(resource, PortalFile | PortalFolder):
        raise _Unhandled  # nothing there (WsgiDAV's 404)
    members = resource.visible_members() if depth == "1" and isinstance(resource, PortalFolder) else []
    return _Multistatus(environ, resource, members, names).write()


def _asked(environ: dict) -> list[str] | None:
    """The property names asked for, None for allprop; _Unhandled for anything else."""
    stream = environ.get("wsgi.input")
    if not isinstance(stream, io.BytesIO):
        raise _Unhandled  # RequestGuard hands every PROPFIND body over read whole
    body = stream.getvalue()
    if not body.strip():
        return None
    root = etree.fromstring(body, parser=etree.XMLParser(resolve_entities=False, no_network=True))
    asked = [node for node in root if isinstance(node.tag, str)]
    if root.tag != "{DAV:}propfind" or len(asked) != 1:
        raise _Unhandled
    if asked[0].tag == "{DAV:}allprop" and not len(asked[0]):
        return None
    if asked[0].tag != "{DAV:}prop":
        raise _Unhandled
    names = [node.tag for node in asked[0] if node.tag is not etree.Comment]
    if not names or not all(isinstance(name, str) and _handled(name) for name in names):
        raise _Unhandled
    return names


def _handled(name: str) -> bool:
    if name.startswith("{DAV:}"):
        return name in _LIVE
    return not (is_live_property(name) or name.startswith(_OWN_NAMESPACES))  # else a dead property


def _text(value: str) -> str:
    if _NOT_XML.search(value):
        raise _Unhandled
    if "&" in value or "<" in value or ">" in value:
        return value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return value


def _empty(name: str) -> str:
    """`name` (Clark notation) as an empty element: a property not found."""
    if name.startswith("{DAV:}"):
        return f"<D:{name[6:]}/>"
    if name.startswith("{"):
        namespace, local = name[1:].split("}", 1)
        return f'<ns0:{local} xmlns:ns0="{_text(namespace).replace(chr(34), "&quot;")}"/>'
    return f"<{name}/>"


class _Entry:
    """One resource of the answer, with what its properties are written from."""

    __slots__ = ("resource", "href", "url", "dead", "locks")

    def __init__(self, resource: PortalFile | PortalFolder, href: str, url: str):
        self.resource, self.href, self.url = resource, href, url
        self.dead: dict[str, str] = {}
        self.locks: str = _NO_LOCK


# Each live property of the fast path: its XML for an entry, or None where the entry has none
# (WsgiDAV's 404 for a named one, absence in allprop).
def _resourcetype(entry: _Entry) -> str:
    return "<D:resourcetype><D:collection/></D:resourcetype>" if entry.resource.is_collection else "<D:resourcetype/>"


def _creationdate(entry: _Entry) -> str | None:
    created = entry.resource.get_creation_date()
    return None if created is None else f"<D:creationdate>{util.get_rfc3339_time(created)}</D:creationdate>"


def _getcontentlength(entry: _Entry) -> str | None:
    length = entry.resource.get_content_length()
    return None if length is None else f"<D:getcontentlength>{length}</D:getcontentlength>"


def _getcontenttype(entry: _Entry) -> str | None:
    kind = entry.resource.get_content_type()
    return None if kind is None else f"<D:getcontenttype>{_text(kind)}</D:getcontenttype>"


def _getlastmodified(entry: _Entry) -> str | None:
    modified = entry.resource.get_last_modified()
    return None if modified is None else f"<D:getlastmodified>{util.get_rfc1123_time(modified)}</D:getlastmodified>"


def _displayname(entry: _Entry) -> str | None:
    name = entry.resource.get_display_name()
    return None if name is None else f"<D:displayname>{_text(name)}</D:displayname>"


def _getetag(entry: _Entry) -> str | None:
    etag = entry.resource.get_etag()
    return None if etag is None else f"<D:getetag>{_text(etag)}</D:getetag>"


def _lockdiscovery(entry: _Entry) -> str:
    return entry.locks


def _supportedlock(entry: _Entry) -> str:
    return _SUPPORTED_LOCK


# In allprop's order, WsgiDAV's (DAVResource.get_property_names).
_LIVE: dict[str, Callable[[_Entry], str | None]] = {
    "{DAV:}resourcetype": _resourcetype,
    "{DAV:}creationdate": _creationdate,
    "{DAV:}getcontentlength": _getcontentlength,
    "{DAV:}getcontenttype": _getcontenttype,
    "{DAV:}getlastmodified": _getlastmodified,
    "{DAV:}displayname": _displayname,
    "{DAV:}getetag": _getetag,
    "{DAV:}lockdiscovery": _lockdiscovery,
    "{DAV:}supportedlock": _supportedlock,
}


class _Multistatus:
    def __init__(self, environ: dict, resource: PortalFile | PortalFolder, members: list, names: list[str] | None):
        self.environ, self.names = environ, names
        self.asked = [(name, _LIVE.get(name)) for name in names or ()]  # each live property's writer, once
        top_href, top_url = resource.get_href(), resource.get_ref_url()
        self.entries = [_Entry(resource, top_href, top_url)]
        for member in members:
            segment = member.path.rsplit("/", 1)[-1]
            if _NOT_XML.search(segment):
                raise _Unhandled
            slash = "/" if member.is_collection else ""
            href = quote(segment, safe=HREF_SAFE)
            url = quote(segment) if _HREF_ONLY.search(href) else href  # mostly the same text
            self.entries.append(_Entry(member, top_href + href + slash, top_url + url + slash))

    def write(self) -> bytes:
        if self.names is None or any(live is None or live is _lockdiscovery for _, live in self.asked):
            self._read_properties_and_locks()  # else nothing asked for is in the database (Finder's four)
        write = self._allprop if self.names is None else self._named
        parts = ["<?xml version='1.0' encoding='UTF-8'?>\n<D:multistatus xmlns:D=\"DAV:\">"]
        for entry in self.entries:
            parts.append(f"<D:response><D:href>{entry.href}</D:href>")
            write(entry, parts)
            parts.append("</D:response>")
        parts.append("</D:multistatus>")
        return "".join(parts).encode("utf-8")

    def _read_properties_and_locks(self) -> None:
        """One statement for every entry; then, only if some entry holds a lock, its lockdiscovery."""
        storage: PortalLockStorage = self.environ["wsgidav.provider"].lock_manager.storage
        urls = [entry.url for entry in self.entries]
        any_lock = storage.prefetch(urls, self.environ, recent=True)  # a PROPFIND writes nothing
        context = RequestContext.of(self.environ)
        for entry in self.entries:
            entry.dead = context.dead_properties[entry.url]
        if not any_lock:
            return
        login = context.actor.login if context.actor else None
        now = storage.clock()
        for entry in self.entries:
            held = context.locks[normalized(entry.url)]
            if held:
                discovery = lock_discovery(held, lockroot_href=entry.href, login=login, now=now)
                entry.locks = etree.tostring(discovery, encoding="unicode")

    def _allprop(self, entry: _Entry, parts: list[str]) -> None:
        # The properties of _LIVE in their order, written in one go: the one call per entry.
        resource = entry.resource
        created, modified, etag = resource.get_creation_date(), resource.get_last_modified(), resource.get_etag()
        parts.append("<D:propstat><D:prop><D:resourcetype><D:collection/></D:resourcetype>" if resource.is_collection
                     else "<D:propstat><D:prop><D:resourcetype/>")  # fmt: skip
        if created is not None:
            parts.append(f"<D:creationdate>{util.get_rfc3339_time(created)}</D:creationdate>")
        if not resource.is_collection:
            parts.append(f"<D:getcontentlength>{resource.get_content_length()}</D:getcontentlength>"
                         f"<D:getcontenttype>{_text(resource.get_content_type())}</D:getcontenttype>")  # fmt: skip
        if modified is not None:
            parts.append(f"<D:getlastmodified>{util.get_rfc1123_time(modified)}</D:getlastmodified>")
        parts.append(f"<D:displayname>{_text(resource.get_display_name())}</D:displayname>")
        if etag is not None:
            parts.append(f"<D:getetag>{_text(etag)}</D:getetag>")
        parts.append(entry.locks)
        parts.append(_SUPPORTED_LOCK)
        for name, stored in entry.dead.items():
            if not _handled(name):
                raise _Unhandled  # stored under a name the portal or WsgiDAV answers itself
            parts.append(_dead(name, stored))
        parts.append("</D:prop>" + _OK)

    def _named(self, entry: _Entry, parts: list[str]) -> None:
        found: list[str] = []
        missing: list[str] = []
        first_missing = False
        for index, (name, live) in enumerate(self.asked):
            if live is not None:
                xml = live(entry)
            else:
                stored = entry.dead.get(name)
                xml = None if stored is None else _dead(name, stored)
            if xml is None:
                missing.append(_empty(name))
                first_missing = first_missing or index == 0
            else:
                found.append(xml)
        # One propstat per status, in WsgiDAV's order: that of the first property asked for first.
        blocks = [(found, _OK), (missing, _NOT_FOUND)]
        if first_missing:
            blocks.reverse()
        for elements, status in blocks:
            if elements:
                parts.append("<D:propstat><D:prop>" + "".join(elements) + "</D:prop>" + status)


def _dead(name: str, stored: str) -> str:
    """A dead property's element, as WsgiDAV would write it back (stored as serialized XML)."""
    try:
        element = xml_tools.string_to_xml(stored)
    except Exception:
        raise _Unhandled from None  # WsgiDAV's own answer for what it cannot parse
    if element.tag != name:
        raise _Unhandled
    return etree.tostring(element, encoding="unicode")
