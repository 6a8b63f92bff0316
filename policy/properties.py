"""Who may set the portal's own properties, and the permission letters Nextcloud clients read."""

from __future__ import annotations

from policy.access import decide
from policy.model import ALLOWED, Action, Actor, Area, Decision, RuleBook, Target, refused

NS = "urn:davportal"
DESCRIPTION = f"{{{NS}}}description"
SHARED = f"{{{NS}}}shared"
UPLOADED_BY = f"{{{NS}}}uploaded-by"
AREA = f"{{{NS}}}area"
SEEN_BY = f"{{{NS}}}seen-by"
VERSIONS = f"{{{NS}}}versions"  # a file's earlier versions, newest first
RESTORE_VERSION = f"{{{NS}}}restore-version"  # set to a version's id: that version becomes the file again
OC_PERMISSIONS = "{http://owncloud.org/ns}permissions"
OC_CHECKSUMS = "{http://owncloud.org/ns}checksums"
PROTECTED = frozenset({UPLOADED_BY, AREA, SEEN_BY, VERSIONS, OC_PERMISSIONS, OC_CHECKSUMS})
STAFF_ONLY = frozenset({SEEN_BY})  # who downloaded what is the firm's business, not the client's
MAX_DESCRIPTION = 500


def may_read_property(actor: Actor, name: str) -> bool:
    return not (actor.is_contact and name in STAFF_ONLY)


def decide_property(actor: Actor, name: str, value: str | None, target: Target, rules: RuleBook) -> Decision:
    """May this actor set (or remove, value None) this portal property here?"""
    if name in PROTECTED:
        return refused("This property is kept by the portal and cannot be changed.")
    if name == RESTORE_VERSION:
        if target.is_collection:
            return Decision(False, 409, "Folders have no earlier versions; restore the files in them.")
        if not (value or "").isdigit():
            return Decision(False, 409, "Say which earlier version to restore, by its number.")
        return decide(actor, Action.CHANGE, target, rules)  # whose versions they may see: the restore's own check
    if actor.is_contact:
        return refused("Only the firm's staff can describe or share documents.")
    changing = decide(actor, Action.CHANGE, target, rules)
    if not changing.allowed:
        return changing
    if name == DESCRIPTION:
        return _check_description(value or "")
    if target.is_collection:
        return refused("Only single files can be shared, not folders.")
    rule = rules.rule_at(target.below_client)
    if rule.area != Area.PRIVATE:
        return refused("Only files in a private folder are shared this way; this one is already visible to the client.")
    if not rule.shareable:
        return refused("Files in this folder may not be shared with the client.")
    if value not in (None, "true", "false"):
        return Decision(False, 409, "The shared property is either true or false.")
    return ALLOWED


def _check_description(text: str) -> Decision:
    if len(text) > MAX_DESCRIPTION:
        return Decision(False, 409, f"A description is at most {MAX_DESCRIPTION} characters ({len(text)} given).")
    if any(ord(ch) < 32 and ch not in "\n\t" for ch in text):
        return Decision(False, 409, "A description is plain text.")
    return ALLOWED


def permissions(actor: Actor, target: Target, rules: RuleBook) -> str:
    """Nextcloud's letters, from the same decisions the requests get: R share, G read, D delete,
    N rename, V move, W write (files), C create file and K create folder (folders)."""

    def allowed(action: Action, where: Target = target) -> bool:
        return decide(actor, action, where, rules).allowed

    letters = ""
    if not target.is_collection and decide_property(actor, SHARED, "true", target, rules).allowed:
        letters += "R"
    if allowed(Action.READ):
        letters += "G"
    if allowed(Action.REMOVE):
        letters += "DNV"
    if target.is_collection:
        if allowed(Action.CREATE, Target((*target.parts, "new"))):
            letters += "CK"
    elif allowed(Action.CHANGE):
        letters += "W"
    return letters
