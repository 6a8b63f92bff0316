"""Who may do what where: data plus pure functions, no I/O (MODEL.md is the reference)."""

from policy.access import decide, decide_tree, readable_by_contacts
from policy.model import (
    CLIENT_SHARED,
    PRIVATE,
    TEAM_SHARED,
    Action,
    Actor,
    Area,
    Decision,
    Role,
    Rule,
    RuleBook,
    Target,
)


def default_rules(team_shared: str, client_shared: str) -> RuleBook:
    """Every client's two area folders; everything else under a client is private."""
    return RuleBook.of({team_shared: TEAM_SHARED, client_shared: CLIENT_SHARED})


__all__ = [
    "CLIENT_SHARED", "PRIVATE", "TEAM_SHARED", "Action", "Actor", "Area", "Decision", "Role", "Rule",
    "RuleBook", "Target", "decide", "decide_tree", "default_rules", "readable_by_contacts",
]  # fmt: skip
