"""The portal's own properties on every resource, read in PROPFIND and set with PROPPATCH.

`{urn:davportal}description`, `shared`, `uploaded-by`, `area`, `seen-by` (staff only),
`versions` (and `restore-version`, set to a version's id), and ownCloud's `permissions` and
`checksums`, which Nextcloud-compatible clients and rclone read.
They are asked for by name (not part of allprop), and a listing reads them in one query per folder.
"""

from __future__ import annotations

from lxml import etree
from wsgidav.dav_error import HTTP_NOT_FOUND, DAVError

from davportal.core.errors import PortalError
from davportal.services import placing, records, sharing
from davportal.services.documents import Facts
from davportal.services.request import RequestContext
from policy import Target
from policy.properties import (
    AREA,
    DESCRIPTION,
    NS,
    OC_CHECKSUMS,
    OC_PERMISSIONS,
    RESTORE_VERSION,
    SEEN_BY,
    SHARED,
    UPLOADED_BY,
    VERSIONS,
    decide_property,
    may_read_property,
    permissions,
)

LIVE_PROPERTIES = frozenset(
    {DESCRIPTION, SHARED, UPLOADED_BY, AREA, SEEN_BY, VERSIONS, RESTORE_VERSION, OC_PERMISSIONS, OC_CHECKSUMS}
)


def is_live_property(name: str) -> bool:
    return name in LIVE_PROPERTIES


def live_property_value(resource, name: str):
    context = RequestContext.of(resource.environ)
    actor = context.actor
    parts = context.parts(resource.path)
    if len(parts) < 2 or actor is None or not may_read_property(actor, name):
        raise DAVError(HTTP_NOT_FOUND)  # the server root and client folders are not documents
    facts = records.facts_of(context, context.parts(resource.record_path))
    rules = context.rules(parts[0])
    if name == AREA:
        return rules.rule_at(parts[1:]).area
    if name == OC_PERMISSIONS:
        target = Target(parts, exists=True, is_collection=resource.is_collection,
                        uploaded_by=facts.uploaded_by if facts else None)  # fmt: skip
        return permissions(actor, target, rules)
    if name == SHARED and not resource.is_collection:
        return "true" if resource.record_path != resource.path or (facts and facts.shared) else "false"
    if name == VERSIONS and not resource.is_collection:
        target = Target(parts, exists=True, uploaded_by=facts.uploaded_by if facts else None)
        element = etree.Element(VERSIONS)
        for version in records.versions_of(context, target):
            entry = etree.SubElement(element, f"{{{NS}}}version")
            for key, value in (("id", version.id), ("written-by", version.written_by or ""),
                               ("written-at", version.written_at.isoformat()), ("size", version.size),
                               ("replaced-by", version.replaced_by or ""),
                               ("replaced-at", version.replaced_at.isoformat())):  # fmt: skip
                etree.SubElement(entry, f"{{{NS}}}{key}").text = str(value)
        return element
    if name == SEEN_BY:
        element = etree.Element(SEEN_BY)
        for login, first in records.seen_by(context, context.parts(resource.record_path)):
            contact = etree.SubElement(element, f"{{{NS}}}contact")
            etree.SubElement(contact, f"{{{NS}}}login").text = login
            etree.SubElement(contact, f"{{{NS}}}first-download").text = first.isoformat()
        return element
    value = _from_facts(name, facts)
    if value is None:
        raise DAVError(HTTP_NOT_FOUND)
    return value


def _from_facts(name: str, facts: Facts | None):
    if facts is None:
        return None
    if name == UPLOADED_BY:
        return facts.uploaded_by
    if name == DESCRIPTION:
        return facts.description
    if name == OC_CHECKSUMS and facts.digests:
        element = etree.Element(OC_CHECKSUMS)
        text = f"SHA1:{facts.digests.sha1} MD5:{facts.digests.md5}"
        etree.SubElement(element, "{http://owncloud.org/ns}checksum").text = text
        return element
    return None


def set_live_property(resource, name: str, value, *, dry_run: bool) -> None:
    """PROPPATCH of a portal property: the sharing use case decides and keeps it."""
    context = RequestContext.of(resource.environ)
    parts = context.parts(resource.path)
    text = None if value is None else "".join(value.itertext()).strip()
    facts = records.facts_of(context, parts)
    target = Target(parts, exists=True, is_collection=resource.is_collection,
                    uploaded_by=facts.uploaded_by if facts else None)  # fmt: skip
    portal, rules, actor = context.portal, context.rules(parts[0]), context.actor
    if actor is None:
        raise DAVError(HTTP_NOT_FOUND)
    decision = decide_property(actor, name, text, target, rules)  # also in the dry run WsgiDAV does first
    if not decision.allowed:
        raise DAVError(decision.status, decision.reason)
    if dry_run:
        return
    try:
        if name == RESTORE_VERSION:
            assert text is not None  # decided above: a version's number
            placing.restore(context, parts, int(text))
            context.add_event("RESTORE", resource.path, f"version {text}")
        elif name == DESCRIPTION:
            sharing.describe(context.session, rules, actor, target, text)
        elif sharing.share(context.session, portal.settings, rules, actor, target, text == "true"):
            context.add_event("SHARE" if text == "true" else "UNSHARE", resource.path, "share toggle")
    except PortalError as refused:
        raise DAVError(int(refused.status), refused.reason) from None
