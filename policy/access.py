"""Who may do what where: one pure function over plain data (MODEL.md, "The access matrix")."""

from __future__ import annotations

from policy.model import (
    ALLOWED,
    HIDDEN,
    Action,
    Actor,
    Area,
    Decision,
    Role,
    RuleBook,
    Target,
    refused,
)
from policy.names import is_desktop_file

NOTHING_AT_TOP = (
    "Nothing can be created or changed at the top level: clients are added by an administrator (davportal client add)."
)
CLIENT_FOLDER_FIXED = (
    "A client's own folder is managed by an administrator: it cannot be renamed, moved, deleted or locked here."
)
AREA_FOLDER_FIXED = "'{folder}' belongs to every client and cannot be deleted, moved or renamed."
NOTHING_AT_CLIENT_ROOT = "You cannot create files or folders here. Upload your documents into '{upload_folder}'."
STAFF_READ_ONLY = (
    "'{folder}' holds the client's uploads: staff can read, download and copy them out, "
    "but not add, change or delete anything there."
)
CONTACT_READ_ONLY = (
    "'{folder}' is where the firm shares documents with you: you can read and download them, not change them."
)
NOT_YOUR_UPLOAD = "You can only change or delete documents you uploaded yourself."
NO_DELETING_HERE = "Documents in '{folder}' are kept: you can add to them, not delete or move them."


def decide(actor: Actor, action: Action, target: Target, rules: RuleBook) -> Decision:
    if not target.parts:
        return ALLOWED if action is Action.READ else refused(NOTHING_AT_TOP)
    if len(target.parts) == 1 and action in (Action.CREATE, Action.CHANGE):
        # For every name (a PUT over a client's folder too), so it tells nobody which clients exist.
        return refused(NOTHING_AT_TOP)

    client_id = target.client_id
    assert client_id is not None  # the target has parts, the first is the client
    if actor.is_contact and client_id not in actor.clients:
        return HIDDEN  # another client's folder: never admit it exists

    if len(target.parts) == 1:
        return ALLOWED if action is Action.READ else refused(CLIENT_FOLDER_FIXED)

    below = target.below_client
    if action is Action.READ and _other_partys_desktop_file(actor, target):
        return HIDDEN  # Finder's and Office's own files stay with the side that wrote them
    rule = rules.rule_at(below)
    is_rule_folder = rules.is_rule_folder(below)
    folder = rules.folder_name(rule.area)
    original, action = action, _lock_as(action, target)

    if actor.is_contact:
        participant_type = actor.clients[client_id]
        if not rule.lets_read(participant_type):
            if len(below) == 1 and action in (Action.CREATE, Action.CHANGE):
                # A PUT at the client root gets this answer whether or not the name exists.
                return refused(NOTHING_AT_CLIENT_ROOT.format(upload_folder=rules.folder_name(Area.CLIENT_SHARED)))
            return HIDDEN  # 404, not 403: a contact must not learn that a private folder exists
        if action is Action.READ:
            return ALLOWED
        if is_rule_folder and action is Action.REMOVE:
            return refused(rule.fixed_reason or AREA_FOLDER_FIXED.format(folder=below[-1]))
        if original is Action.LOCK and target.is_collection:
            # A folder lock would lock the client's other contacts out of everything in it.
            return refused("You can lock documents, not folders.")
        if not rule.lets_upload(participant_type):
            return refused(rule.contact_read_only or CONTACT_READ_ONLY.format(folder=folder))
        if action is Action.CREATE:
            return ALLOWED
        if not target.exists:
            return ALLOWED  # nothing there to be someone's: WebDAV answers 404 (or creates it)
        if is_rule_folder and action is Action.CHANGE:
            return refused(NOT_YOUR_UPLOAD)
        if action is Action.REMOVE and not rule.lets_delete_own(participant_type):
            return refused(NO_DELETING_HERE.format(folder=folder))
        return ALLOWED if target.uploaded_by == actor.login else refused(NOT_YOUR_UPLOAD)

    # Staff
    if action is Action.READ:
        return ALLOWED
    if is_rule_folder and action is Action.REMOVE:
        return refused(rule.fixed_reason or AREA_FOLDER_FIXED.format(folder=below[-1]))
    if not rule.staff_writes:
        return refused(rule.staff_read_only or STAFF_READ_ONLY.format(folder=folder))
    return ALLOWED


def readable_by_contacts(target: Target, rules: RuleBook) -> bool:
    """Whether a contact of any participant type could read the target: where none could (a
    private folder), nobody need be looked up to be told of it."""
    return len(target.parts) < 2 or bool(rules.rule_at(target.below_client).readers)


def decide_tree(actor: Actor, action: Action, target: Target, rules: RuleBook) -> Decision:
    """Decide for a folder and everything in it that has a rule of its own (COPY, MOVE, DELETE)."""
    decision = decide(actor, action, target, rules)
    if not decision.allowed or len(target.parts) < 2:
        return decision
    for nested in rules.rule_folders_under(target.below_client):
        inner = Target((target.parts[0], *nested), exists=True, is_collection=True,
                       uploaded_by=target.uploaded_by)  # fmt: skip
        inner_decision = decide(actor, action, inner, rules)
        if not inner_decision.allowed:
            # The folder is visible, so its refusal is a 403, even for what is hidden inside.
            return (
                inner_decision
                if inner_decision.status == 403
                else refused("This folder contains documents you may not move or copy.")
            )
    return decision


def _other_partys_desktop_file(actor: Actor, target: Target) -> bool:
    if not (target.exists and is_desktop_file(target.parts[-1])):
        return False
    return (target.written_by or Role.STAFF) is not actor.role  # unknown writer: the firm's


def _lock_as(action: Action, target: Target) -> Action:
    """LOCK is allowed where the actor may write: a file as a change, anything else as a create."""
    if action is not Action.LOCK:
        return action
    return Action.CHANGE if target.exists and not target.is_collection else Action.CREATE
