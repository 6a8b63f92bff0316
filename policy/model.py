"""The portal's world as plain data: who acts, what they do, where, under which rule."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum, StrEnum
from typing import Mapping

EVERY_TYPE = "*"  # in a rule's reader/creator sets: every participant type
DEFAULT_PARTICIPANT_TYPE = "client"


class Area(StrEnum):
    """The three areas every portal has; a matter type may name more (a rule of its own)."""

    PRIVATE = "private"  # staff only
    TEAM_SHARED = "team-shared"  # staff write, the client's contacts read
    CLIENT_SHARED = "client-shared"  # the client's contacts write, staff read and copy out


class Role(str, Enum):
    STAFF = "staff"
    CONTACT = "contact"


class Action(str, Enum):
    READ = "read"  # PROPFIND, GET, HEAD; the source of a COPY
    CREATE = "create"  # PUT of a new file, MKCOL, a new COPY/MOVE destination
    CHANGE = "change"  # PUT over an existing file, PROPPATCH
    REMOVE = "remove"  # DELETE, the source of a MOVE, a destination overwritten by COPY/MOVE
    LOCK = "lock"  # LOCK/UNLOCK: allowed where the actor may write


@dataclass(frozen=True)
class Actor:
    login: str
    role: Role
    is_admin: bool = False
    clients: Mapping[str, str] = field(default_factory=dict)  # client id -> participant type
    name: str | None = field(default=None, compare=False)  # what pages call them; no rule reads it

    @property
    def is_contact(self) -> bool:
        return self.role is Role.CONTACT


@dataclass(frozen=True)
class Rule:
    """What a folder (and everything under it without a rule of its own) allows."""

    area: str  # "private", "team-shared", "client-shared" or a matter-type rule's name
    readers: frozenset[str] = frozenset()  # participant types that may list and read
    uploaders: frozenset[str] = frozenset()  # ... that may upload, and change their own uploads
    deleters: frozenset[str] = frozenset()  # ... that may delete (or move away) their own uploads
    staff_writes: bool = True
    shareable: bool = True  # staff may share a file from here into Team's shared (if private)
    # What a refusal says here, where the area's general sentence would mislead (a request's folders).
    fixed_reason: str | None = None  # removing or moving the folder itself
    contact_read_only: str | None = None  # a contact writing where they may not
    staff_read_only: str | None = None  # staff writing where they may not

    def lets_read(self, participant_type: str) -> bool:
        return _includes(self.readers, participant_type)

    def lets_upload(self, participant_type: str) -> bool:
        return _includes(self.uploaders, participant_type)

    def lets_delete_own(self, participant_type: str) -> bool:
        return _includes(self.deleters, participant_type)


def _includes(types: frozenset[str], participant_type: str) -> bool:
    return EVERY_TYPE in types or participant_type in types


PRIVATE = Rule(Area.PRIVATE)
TEAM_SHARED = Rule(Area.TEAM_SHARED, readers=frozenset({EVERY_TYPE}))
CLIENT_SHARED = Rule(
    Area.CLIENT_SHARED,
    readers=frozenset({EVERY_TYPE}),
    uploaders=frozenset({EVERY_TYPE}),
    deleters=frozenset({EVERY_TYPE}),
    staff_writes=False,
)


def _key(name: str) -> str:
    # Windows and macOS users cannot tell "Team's Shared" from "Team's shared": neither may we.
    return name.casefold()


@dataclass(frozen=True)
class RuleBook:
    """Folders with a rule of their own, by path below the client root; the rest inherit."""

    folders: Mapping[tuple[str, ...], tuple[str, Rule]]  # casefolded path -> (display name, rule)

    @classmethod
    def of(cls, folders: Mapping[str, Rule]) -> RuleBook:
        entries = {}
        for path, rule in folders.items():
            parts = tuple(p for p in path.split("/") if p)
            entries[tuple(_key(p) for p in parts)] = (parts[-1], rule)
        return cls(entries)

    def with_folders(self, more: RuleBook) -> RuleBook:
        """These rules and more folders with their own (a client's document requests)."""
        return RuleBook({**self.folders, **more.folders}) if more.folders else self

    def rule_at(self, below_client: tuple[str, ...]) -> Rule:
        """The rule of the nearest ancestor (or the folder itself) that has one."""
        keys = tuple(_key(p) for p in below_client)
        for depth in range(len(keys), 0, -1):
            entry = self.folders.get(keys[:depth])
            if entry:
                return entry[1]
        return PRIVATE

    def is_rule_folder(self, below_client: tuple[str, ...]) -> bool:
        return tuple(_key(p) for p in below_client) in self.folders

    def rule_folders_under(self, below_client: tuple[str, ...]) -> list[tuple[str, ...]]:
        """Rule folders strictly inside the given folder (a COPY or MOVE takes them along)."""
        keys = tuple(_key(p) for p in below_client)
        n = len(keys)
        return [path for path in self.folders if len(path) > n and path[:n] == keys]

    def folder_name(self, area: str) -> str:
        for name, rule in self.folders.values():
            if rule.area == area:
                return name
        return area


@dataclass(frozen=True)
class Target:
    """A URL path split into segments, with what the adapter knows of it."""

    parts: tuple[str, ...]  # ("acme", "Client's shared", "tax", "2024.pdf")
    exists: bool = False
    is_collection: bool = False
    # Who uploaded it; for a folder, the one uploader of everything in it (None when several).
    uploaded_by: str | None = None
    # For a desktop client's own file (.DS_Store, ~$x.docx): whether staff or a contact wrote it.
    written_by: Role | None = None

    @property
    def client_id(self) -> str | None:
        return self.parts[0] if self.parts else None

    @property
    def below_client(self) -> tuple[str, ...]:
        return self.parts[1:]


@dataclass(frozen=True)
class Decision:
    allowed: bool
    status: int  # 200, 403, or 404 when the target must stay invisible
    reason: str = ""
    condition: str | None = None  # a WebDAV precondition element to send with the refusal


ALLOWED = Decision(True, 200)
HIDDEN = Decision(False, 404, "Not found.")


def refused(reason: str, *, condition: str | None = None) -> Decision:
    return Decision(False, 403, reason, condition)
