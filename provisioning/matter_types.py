"""Matter types: folder templates with their rules, read from YAML and checked before use."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from davportal.core.errors import ConfigError
from policy import CLIENT_SHARED, PRIVATE, TEAM_SHARED, Rule, RuleBook
from policy.model import EVERY_TYPE
from policy.names import check_new_name

BUILT_IN_AREAS = {rule.area: rule for rule in (PRIVATE, TEAM_SHARED, CLIENT_SHARED)}


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


class MatterTypeSpec(_Strict):
    name: str = Field(min_length=1, description="What people read, e.g. 'Family law'")
    folders: tuple[FolderSpec, ...] = ()

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
        for type_id in types:
            if not type_id.replace("-", "").replace("_", "").isalnum() or type_id != type_id.lower():
                raise ValueError(f"'{type_id}' is not a valid matter type id: use lower-case letters, digits, - and _")
        return types


@dataclass(frozen=True)
class MatterType:
    id: str
    name: str
    folders: tuple[str, ...]  # paths below the client root, parents before children
    rules: RuleBook  # the client's two area folders plus this type's own rules


class MatterTypes(dict[str, MatterType]):
    """Every matter type by id, and the rules of a client without one."""

    def __init__(self, types: dict[str, MatterType], default_rules: RuleBook):
        super().__init__(types)
        self.default_rules = default_rules

    def rules_of(self, matter_type: str | None) -> RuleBook:
        found = self.get(matter_type) if matter_type else None
        return found.rules if found else self.default_rules

    def require(self, type_id: str) -> MatterType:
        if type_id not in self:
            known = ", ".join(sorted(self)) or "none are defined"
            raise ConfigError(f"There is no matter type '{type_id}' (known: {known}).")
        return self[type_id]


def load_matter_types(path: Path | None, *, team_shared: str, client_shared: str) -> MatterTypes:
    area_folders = {team_shared: TEAM_SHARED, client_shared: CLIENT_SHARED}
    default = RuleBook.of(area_folders)
    if path is None:
        return MatterTypes({}, default)
    try:
        text = Path(path).read_text(encoding="utf-8")
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text) or {}
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read the matter types ({exc.strerror})") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML ({exc})") from None
    try:
        spec = TemplatesFile.model_validate(data)
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
        types[type_id] = MatterType(type_id, matter.name, ordered, book)
    return MatterTypes(types, default)


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
