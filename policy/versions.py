"""Earlier versions of a document: which writes keep one, and who sees and restores them.

MODEL.md, "What happens around a file": an overwrite never loses the bytes it replaces. Pure functions.
"""

from __future__ import annotations

from policy.access import decide
from policy.model import ALLOWED, Action, Actor, Decision, RuleBook, Target
from policy.names import is_desktop_file, is_reserved

NOT_YOURS = "There is no such earlier version of this document."


def keeps_versions(name: str) -> bool:
    """Finder's and Office's own files (owner files, temporary saves, .DS_Store) keep none."""
    return not (is_desktop_file(name) or is_reserved(name))


def sets_aside(src_name: str, dest_name: str) -> bool:
    """A desktop client renaming a document to a temporary name before saving the new one in
    its place (Word: "Report.docx" to "~WRL0001.tmp"): the bytes stay a version of the document."""
    return keeps_versions(src_name) and is_desktop_file(dest_name)


def may_see_version(actor: Actor, document: Target, written_in: Target, rules: RuleBook) -> bool:
    """Staff see every version. A contact sees the versions of a document they may change, and
    never one written where they could not look (a file moved out of a private folder, say)."""
    if not actor.is_contact:
        return decide(actor, Action.READ, document, rules).allowed
    return (
        decide(actor, Action.CHANGE, document, rules).allowed and decide(actor, Action.READ, written_in, rules).allowed
    )


def may_restore(actor: Actor, document: Target, written_in: Target, rules: RuleBook) -> Decision:
    """Restoring changes the document: the same decision as saving over it, for a version one sees."""
    changing = decide(actor, Action.CHANGE, document, rules)
    if not changing.allowed:
        return changing
    if not may_see_version(actor, document, written_in, rules):
        return Decision(False, 404, NOT_YOURS)
    return ALLOWED
