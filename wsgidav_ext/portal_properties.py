"""The portal's own properties on every resource, read in PROPFIND and set with PROPPATCH.

`{urn:davportal}description`, `shared`, `uploaded-by`, `area`, `seen-by` (staff only), and
ownCloud's `permissions` and `checksums`, which Nextcloud-compatible clients and rclone read.
They are asked for by name (not part of allprop), and a listing reads them in one query per folder.
"""

from __future__ import annotations

from lxml import etree
from wsgidav.dav_error import HTTP_NOT_FOUND, DAVError

from davportal import documents
from notifications.events import tell_shared
from policy import Target
from policy.properties import (
    AREA,
    DESCRIPTION,
    NS,
    OC_CHECKSUMS,
    OC_PERMISSIONS,
    SEEN_BY,
    SHARED,
    UPLOADED_BY,
    decide_property,
    permissions,
)
from wsgidav_ext.audit import add_event
from wsgidav_ext.domain_controller import ACTOR_KEY
from wsgidav_ext.paths import split_path

PORTAL_PROPERTIES = frozenset({DESCRIPTION, SHARED, UPLOADED_BY, AREA, SEEN_BY, OC_PERMISSIONS, OC_CHECKSUMS})


def is_portal_property(name: str) -> bool:
    return name in PORTAL_PROPERTIES


def portal_property_value(resource, name: str):
    environ = resource.environ
    actor = environ[ACTOR_KEY]
    provider = resource.provider
    parts = split_path(resource.path)
    if len(parts) < 2:
        raise DAVError(HTTP_NOT_FOUND)  # the server root and client folders are not documents
    facts = provider.facts_of(resource.record_path, environ)
    rules = provider.portal.rules_for(parts[0], environ)
    if name == AREA:
        return rules.rule_at(parts[1:]).area
    if name == OC_PERMISSIONS:
        target = Target(parts, exists=True, is_collection=resource.is_collection,
                        uploaded_by=facts.uploaded_by if facts else None)  # fmt: skip
        return permissions(actor, target, rules)
    if name == SHARED and not resource.is_collection:
        return "true" if resource.record_path != resource.path or (facts and facts.shared) else "false"
    if name == SEEN_BY and not actor.is_contact:
        element = etree.Element(SEEN_BY)
        for login, first in provider.seen_by(resource.record_path, environ):
            contact = etree.SubElement(element, f"{{{NS}}}contact")
            etree.SubElement(contact, f"{{{NS}}}login").text = login
            etree.SubElement(contact, f"{{{NS}}}first-download").text = first.isoformat()
        return element
    value = _from_facts(name, facts)
    if value is None:
        raise DAVError(HTTP_NOT_FOUND)
    return value


def _from_facts(name: str, facts: documents.Facts | None):
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


def set_portal_property(resource, name: str, value, *, dry_run: bool) -> None:
    """PROPPATCH of a portal property: the policy decides, the document's record keeps it."""
    environ = resource.environ
    provider = resource.provider
    parts = split_path(resource.path)
    text = None if value is None else "".join(value.itertext()).strip()
    target = Target(parts, exists=True, is_collection=resource.is_collection)
    decision = decide_property(environ[ACTOR_KEY], name, text, target, provider.portal.rules_for(parts[0], environ))
    if not decision.allowed:
        raise DAVError(decision.status, decision.reason)
    if dry_run:
        return
    session = provider.portal.request_session(environ)
    client_id, path = parts[0], "/".join(parts[1:])
    if name == DESCRIPTION:
        documents.describe(session, client_id, path, text, is_folder=resource.is_collection)
    elif documents.share(session, client_id, path, text == "true"):
        add_event(environ, "SHARE" if text == "true" else "UNSHARE", resource.path, "share toggle")
        if text == "true":
            tell_shared(session, provider.portal, client_id, path, actor=environ[ACTOR_KEY].login)
