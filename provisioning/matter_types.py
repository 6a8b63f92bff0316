"""Matter types: folder templates with their rules, read from YAML and checked before use.

The file is live: every node checks it at each request for a client's folders and rereads it
when it changed, so an edit takes effect everywhere without a restart.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from http import HTTPStatus
from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from davportal.core.errors import ConfigError, PortalError
from policy import CLIENT_SHARED, PRIVATE, TEAM_SHARED, Rule, RuleBook, default_rules
from policy.model import EVERY_TYPE
from policy.names import check_new_name
from policy.requests import Reminders

BUILT_IN_AREAS = {rule.area: rule for rule in (PRIVATE, TEAM_SHARED, CLIENT_SHARED)}
_logger = logging.getLogger("davportal.matter_types")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class RuleSpec(_Strict):
    """A folder's rule as the admin writes it; unset keys come from the area it builds on."""

    area: str = Field(description="private, team-shared, client-shared, or a name of its own")
    read: tuple[str, ...] | None = None
    upload: tuple[str, ...] | None = None
    delete_own: tuple[str, ...] | None = None
    staff_writes: bool | None = None
    shareable: bool | None = None

    def to_rule(self) -> Rule:
        base = BUILT_IN_AREAS.get(self.area, Rule(self.area))
        pick = lambda given, default: frozenset(given) if given is not None else default  # noqa: E731
        return Rule(
            area=self.area,
            readers=pick(self.read, base.readers),
            uploaders=pick(self.upload, base.uploaders),
            deleters=pick(self.delete_own, base.deleters),
            staff_writes=base.staff_writes if self.staff_writes is None else self.staff_writes,
            shareable=base.shareable if self.shareable is None else self.shareable,
        )


class FolderSpec(_Strict):
    path: str
    rule: RuleSpec | None = None

    @field_validator("path")
    @classmethod
    def _valid_path(cls, path: str) -> str:
        parts = [p for p in path.split("/") if p]
        if not parts:
            raise ValueError("a folder needs a path")
        for part in parts:
            decision = check_new_name(part)
            if not decision.allowed or part in (".", ".."):
                raise ValueError(f"'{part}' cannot be a folder name: {decision.reason or 'not allowed'}")
        return "/".join(parts)


class RequestItemSpec(_Strict):
    name: str = Field(min_length=1, max_length=200, description="What is needed, e.g. 'P60 from your employer'")
    note: str | None = Field(None, max_length=500)
    files: int | None = Field(None, ge=1, description="How many files are expected (default: one will do)")


class RemindersSpec(_Strict):
    """A template's reminder schedule; unset keys come from the config's `requests.reminders`."""

    before_due_days: tuple[int, ...] | None = None
    on_due_date: bool | None = None
    every_days_after: int | None = Field(None, ge=0)
    at_most_after: int | None = Field(None, ge=0)

    def over(self, default: Reminders) -> Reminders:
        given = {key: value for key, value in self.model_dump().items() if value is not None}
        return replace(default, **given)


class RequestTemplateSpec(_Strict):
    """The documents a firm asks every client of a type for, e.g. each year's tax return papers."""

    title: str = Field(min_length=1, max_length=200, description="The request's title, e.g. '2025 tax return'")
    message: str | None = None
    due_in_days: int | None = Field(None, ge=0, description="Due this many days after it is sent, unless given")
    participants: tuple[str, ...] = Field(
        (EVERY_TYPE,), description="Participant types of the contacts it is for ('*': every contact)"
    )
    reminders: RemindersSpec | None = None
    items: tuple[RequestItemSpec, ...] = Field(min_length=1)

    @model_validator(mode="after")
    def _unique_items(self):
        seen = set()
        for item in self.items:
            if item.name.casefold() in seen:
                raise ValueError(f"the item '{item.name}' is listed twice")
            seen.add(item.name.casefold())
        return self


class MatterTypeSpec(_Strict):
    name: str = Field(min_length=1, description="What people read, e.g. 'Family law'")
    folders: tuple[FolderSpec, ...] = ()
    requests: dict[str, RequestTemplateSpec] = Field({}, description="Request templates by id")

    @model_validator(mode="after")
    def _unique_paths(self):
        seen = set()
        for folder in self.folders:
            key = folder.path.casefold()
            if key in seen:
                raise ValueError(f"the folder '{folder.path}' is listed twice")
            seen.add(key)
        return self


class TemplatesFile(_Strict):
    matter_types: dict[str, MatterTypeSpec] = {}

    @field_validator("matter_types")
    @classmethod
    def _ids(cls, types: dict[str, MatterTypeSpec]) -> dict[str, MatterTypeSpec]:
        templates: dict[str, str] = {}
        for type_id, matter in types.items():
            if not _is_id(type_id):
                raise ValueError(f"'{type_id}' is not a valid matter type id: use lower-case letters, digits, - and _")
            for template_id in matter.requests:
                if not _is_id(template_id):
                    raise ValueError(f"'{template_id}' is not a valid request template id: "
                                     "use lower-case letters, digits, - and _")  # fmt: skip
                if template_id in templates:
                    raise ValueError(f"the request template '{template_id}' is in both {templates[template_id]} "
                                     f"and {type_id}: a template's id names it in the whole file")  # fmt: skip
                templates[template_id] = type_id
        return types


def _is_id(text: str) -> bool:
    return bool(text) and text.replace("-", "").replace("_", "").isalnum() and text == text.lower()


@dataclass(frozen=True)
class MatterType:
    id: str
    name: str
    folders: tuple[str, ...]  # paths below the client root, parents before children
    rules: RuleBook  # the client's two area folders plus this type's own rules
    requests: Mapping[str, RequestTemplateSpec] = field(default_factory=dict)  # request templates by id


class MatterTypes(dict[str, MatterType]):
    """Every matter type by id, and the rules of a client without one."""

    def __init__(self, types: dict[str, MatterType], default_rules: RuleBook):
        super().__init__(types)
        self.default_rules = default_rules

    def rules_of(self, matter_type: str | None) -> RuleBook:
        found = self.get(matter_type) if matter_type else None
        return found.rules if found else self.default_rules

    def request_template(self, template_id: str) -> tuple[MatterType, RequestTemplateSpec]:
        """The request template with this id, and the matter type it belongs to."""
        for matter_type in self.values():
            if template_id in matter_type.requests:
                return matter_type, matter_type.requests[template_id]
        known = ", ".join(sorted(t for m in self.values() for t in m.requests)) or "none are defined"
        raise ConfigError(f"There is no request template '{template_id}' (known: {known}).")

    def require(self, type_id: str) -> MatterType:
        if type_id not in self:
            known = ", ".join(sorted(self)) or "none are defined"
            raise ConfigError(f"There is no matter type '{type_id}' (known: {known}).")
        return self[type_id]


def folder_rules(matter_type: MatterType) -> dict[str, Rule]:
    """The rule each of the template's folders ends up with (its own, or its nearest ancestor's)."""
    return {folder: matter_type.rules.rule_at(tuple(folder.split("/"))) for folder in matter_type.folders}


def _who(types: frozenset[str], *, staff: bool) -> str:
    names = ["staff"] if staff else []
    names += ["every contact"] if EVERY_TYPE in types else sorted(types)
    return ", ".join(names) or "nobody"


# How a rule reads to an admin: staff always read, and upload where staff write.
_ASPECTS = (
    ("area", lambda rule: rule.area),
    ("readers", lambda rule: _who(rule.readers, staff=True)),
    ("uploaders", lambda rule: _who(rule.uploaders, staff=rule.staff_writes)),
    ("delete own", lambda rule: _who(rule.deleters, staff=False)),
    ("shareable", lambda rule: "yes" if rule.shareable else "no"),
)


def aspects_of(rule: Rule) -> list[tuple[str, str]]:
    """A rule in plain words, aspect by aspect: [("readers", "staff, client"), ...]."""
    return [(label, aspect(rule)) for label, aspect in _ASPECTS]


def describe_rule(rule: Rule) -> str:
    return "; ".join(f"{label}: {value}" for label, value in aspects_of(rule))


def rule_changes(before: Mapping[str, Rule], after: MatterType) -> list[str]:
    """What changed in a type's folders and their rules, e.g. "Tax: 'Payroll' readers: staff, client → staff"."""
    now = folder_rules(after)
    lines = []
    for folder, rule in now.items():
        if folder not in before:
            lines.append(f"{after.name}: '{folder}' is new ({describe_rule(rule)})")
        elif changed := _differences(before[folder], rule):
            lines.append(f"{after.name}: '{folder}' {changed}")
    for folder, rule in before.items():
        if folder not in now:
            # Clients keep the folder (nothing is deleted): it now follows its nearest ancestor's rule.
            changed = _differences(rule, after.rules.rule_at(tuple(folder.split("/"))))
            lines.append(f"{after.name}: '{folder}' is no longer in the template (clients keep it)"
                         + (f"; {changed}" if changed else ""))  # fmt: skip
    return lines


def type_changes(before: MatterTypes, after: MatterTypes) -> list[str]:
    """What changed between two readings of the file, type by type."""
    lines = []
    for type_id in sorted(before.keys() | after.keys()):
        if type_id not in after:
            lines.append(f"matter type {type_id} removed: its clients keep only the two shared folders' rules")
        elif type_id not in before:
            lines.append(f"matter type {type_id} ({after[type_id].name}) added")
        else:
            lines += rule_changes(folder_rules(before[type_id]), after[type_id])
    return lines


def _differences(before: Rule, after: Rule) -> str:
    return "; ".join(f"{label}: {aspect(before)} → {aspect(after)}"
                     for label, aspect in _ASPECTS if aspect(before) != aspect(after))  # fmt: skip


class PushRecord:
    """The rules each matter type was last pushed with, in a file beside the matter types file.

    The rules are live from the moment the file is saved; a push adds missing folders. The record
    lets a push also say what changed in the rules since the previous push, for the admin to check.
    """

    def __init__(self, types_file: Path):
        self.path = types_file.with_name(types_file.name + ".pushed")

    def last(self, type_id: str) -> dict[str, Rule] | None:
        """The folders and rules of the type's last push; None when there is no record of one."""
        entry = self._load().get(type_id)
        if entry is None:
            return None
        try:
            return {folder: RuleSpec.model_validate(spec).to_rule() for folder, spec in entry.items()}
        except (AttributeError, ValidationError) as exc:
            raise self._unreadable(exc) from None

    def remember(self, matter_type: MatterType) -> None:
        """Write the type's rules as pushed now (temporary file, then renamed: never half written)."""
        record = self._load()
        record[matter_type.id] = {folder: _spec_of(rule) for folder, rule in folder_rules(matter_type).items()}
        temporary = self.path.with_name(f".{self.path.name}.{os.getpid()}")
        try:
            temporary.write_text(_RECORD_HEADER + yaml.safe_dump(record, sort_keys=True, allow_unicode=True),
                                 encoding="utf-8")  # fmt: skip
            os.replace(temporary, self.path)
        finally:
            temporary.unlink(missing_ok=True)

    def _load(self) -> dict:
        try:
            record = yaml.safe_load(self.path.read_text(encoding="utf-8")) or {}
        except FileNotFoundError:
            return {}
        except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
            raise self._unreadable(exc) from None
        if not isinstance(record, dict):
            raise self._unreadable("not a mapping of matter types")
        return record

    def _unreadable(self, why) -> ConfigError:
        return ConfigError(f"{self.path}: the record of the last push cannot be read ({why}); "
                           "delete it and push again")  # fmt: skip


_RECORD_HEADER = (
    "# The rules each matter type was last pushed with: `davportal matter-type push` compares the\n"
    "# matter types file with this to say what changed. Written by davportal; not read by the portal.\n"
)


def _spec_of(rule: Rule) -> dict:
    return {"area": str(rule.area), "read": sorted(rule.readers), "upload": sorted(rule.uploaders),
            "delete_own": sorted(rule.deleters), "staff_writes": rule.staff_writes,
            "shareable": rule.shareable}  # fmt: skip


class RulesUnavailable(PortalError):
    status = HTTPStatus.SERVICE_UNAVAILABLE


CLOSED = (
    "Client folders are closed for the moment: the matter types file has a mistake, and the portal will "
    "not guess who may see what. The administrator finds it in the log or with `davportal matter-type list`."
)


class MatterTypesFile:
    """The matter types file as it is now, checked at each use and reread only when it changed.

    A change is seen by the file's identity (device, inode, size, modification and change times),
    taken with fstat on the file as opened: opening revalidates a file on NFS (close-to-open), so
    every node sharing the file sees an edit at its next request, and an atomic replace (a new
    inode) is caught even where timestamps are coarse.
    """

    def __init__(self, path: Path | None, *, team_shared: str, client_shared: str):
        self.path = path
        self._team_shared, self._client_shared = team_shared, client_shared
        self._lock = threading.Lock()
        self.types = MatterTypes({}, default_rules(team_shared, client_shared))  # the last valid
        self._seen: _Seen = (None, self.types)  # the version last read, valid or not
        if path is not None:
            identity, result = self._read(known=None)
            if isinstance(result, ConfigError):
                raise result  # at start a mistake stops the portal or the command, as it always did
            assert result is not None  # nothing was known, so the file was read
            self.types, self._seen = result, (identity, result)

    def current(self) -> MatterTypes:
        """The matter types of the file as it is: one open and fstat, a reread only after a change.

        A file that cannot be read or has become invalid closes every client's folders (503)
        instead of serving the last valid rules: the edit may have tightened a rule, and a
        tightened rule must never be served stale. The root still lists clients, and the closing
        does not depend on the client, so it tells nobody which clients exist.
        """
        if self.path is None:
            return self.types
        seen = self._seen
        identity, result = self._read(known=seen[0])
        if result is not None:
            with self._lock:
                seen = self._settle(identity, result)
        if isinstance(seen[1], ConfigError):
            raise RulesUnavailable(CLOSED, detail=seen[1].reason)
        return seen[1]

    def _read(self, known: _Identity | None) -> tuple[_Identity | None, MatterTypes | ConfigError | None]:
        """The file's identity and what it holds now; None for what it holds when it is `known`."""
        assert self.path is not None
        chunks = []
        try:
            fd = os.open(self.path, os.O_RDONLY)  # no file object: this runs at every request
            try:
                # fstat before reading: a write still going on changes the identity again later.
                identity = _identity(os.fstat(fd))
                if identity == known:
                    return identity, None
                while chunk := os.read(fd, 1 << 16):
                    chunks.append(chunk)
            finally:
                os.close(fd)
        except OSError as exc:
            return None, ConfigError(f"{self.path}: cannot read the matter types ({exc.strerror})")
        data = b"".join(chunks)
        try:
            return identity, _parse(data, self.path, team_shared=self._team_shared, client_shared=self._client_shared)
        except ConfigError as exc:
            return identity, exc

    def _settle(self, identity: _Identity | None, result: MatterTypes | ConfigError) -> _Seen:
        """Keep what was read (under the lock) and tell the log what changed, once per version."""
        before = self._seen
        if identity is not None and identity == before[0]:
            return before  # another request read this version first
        if isinstance(result, ConfigError):
            if not (isinstance(before[1], ConfigError) and before[1].reason == result.reason):
                _logger.error("Client folders are closed (503) until the matter types file is fixed: %s",
                              result.reason)  # fmt: skip
        else:
            changes = type_changes(self.types, result)
            was_closed = isinstance(before[1], ConfigError)
            _logger.info("Matter types reread from %s%s: %s", self.path,
                         " (client folders are open again)" if was_closed else "",
                         "; ".join(changes) if changes else "no folder or rule changed")  # fmt: skip
            self.types = result
        self._seen = (identity, result)
        return self._seen


_Identity = tuple[int, int, int, int, int]
_Seen = tuple[_Identity | None, MatterTypes | ConfigError]


def _identity(st: os.stat_result) -> _Identity:
    # The change time too: a copy that keeps the old modification time (cp -p, rsync -t) still shows.
    return (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)


def _parse(data: bytes, path: Path, *, team_shared: str, client_shared: str) -> MatterTypes:
    area_folders = {team_shared: TEAM_SHARED, client_shared: CLIENT_SHARED}
    try:
        text = data.decode("utf-8")
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        loaded = yaml.safe_load(text) or {}
    except UnicodeDecodeError:
        raise ConfigError(f"{path}: not UTF-8 text") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML ({exc})") from None
    try:
        spec = TemplatesFile.model_validate(loaded)
    except ValidationError as exc:
        problem = exc.errors()[0]
        loc = [part for part in problem["loc"] if not isinstance(part, str) or not part.startswith("function-")]
        where = ".".join(str(part) for part in loc)
        line = _line_of(node, loc)
        raise ConfigError(f"{path}, line {line}: {where}: {problem['msg'].removeprefix('Value error, ')}") from None
    types = {}
    for type_id, matter in spec.matter_types.items():
        rules = {name: rule for name, rule in area_folders.items()}
        for folder in matter.folders:
            if folder.path.casefold() in (team_shared.casefold(), client_shared.casefold()):
                raise ConfigError(f"{path}: matter_types.{type_id}: '{folder.path}' is a folder every client "
                                  "already has; give its subfolders instead")  # fmt: skip
            if folder.rule:
                rules[folder.path] = folder.rule.to_rule()
        book = RuleBook.of(rules)
        _check_reachable(path, type_id, matter, book)
        ordered = tuple(sorted((f.path for f in matter.folders), key=lambda p: p.count("/")))
        types[type_id] = MatterType(type_id, matter.name, ordered, book, dict(matter.requests))
    return MatterTypes(types, default_rules(team_shared, client_shared))


def _check_reachable(path, type_id: str, matter: MatterTypeSpec, book: RuleBook) -> None:
    """A folder open to a participant type inside one closed to it could never be reached."""
    for folder in matter.folders:
        parts = tuple(folder.path.split("/"))
        readers = book.rule_at(parts).readers
        for depth in range(1, len(parts)):
            ancestor = book.rule_at(parts[:depth])
            for reader in readers:
                if reader not in ancestor.readers and EVERY_TYPE not in ancestor.readers:
                    raise ConfigError(
                        f"{path}: matter_types.{type_id}: '{folder.path}' is open to "
                        f"{'every participant' if reader == EVERY_TYPE else reader}, but "
                        f"'{'/'.join(parts[:depth])}' is not, so they could never reach it"
                    )


def _line_of(node, loc) -> int:
    """The line of the YAML node at a validation error's location (or of its nearest parent)."""
    line = node.start_mark.line + 1 if node else 1
    for key in loc:
        if isinstance(node, yaml.MappingNode):
            entry = next(((k, value) for k, value in node.value if k.value == key), None)
            if entry is None:
                break
            line, node = entry[0].start_mark.line + 1, entry[1]  # the key's line
        elif isinstance(node, yaml.SequenceNode) and isinstance(key, int) and key < len(node.value):
            node = node.value[key]
            line = node.start_mark.line + 1
        else:
            break
    return line
