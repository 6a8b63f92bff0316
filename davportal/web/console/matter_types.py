"""Matter types: each template's folders and their rules, and pushing the folders to every client.

A push is shown first as a dry run (what would be created, what would be left alone); the real
one writes its page while it runs, a line per client, and lists the conflicts at the end.
"""

from __future__ import annotations

from collections import Counter

from davportal.core.errors import NotFound, PortalError
from davportal.web.console import job
from davportal.web.console.visit import Visit
from provisioning import templates
from provisioning.matter_types import MatterType, PushRecord, aspects_of, folder_rules, rule_changes

SLUG = "matter-types"


def handle(visit: Visit):
    match visit.method, visit.parts:
        case ("GET" | "HEAD", []):
            return _listing(visit)
        case ("GET" | "HEAD", [type_id, "push"]):
            return _dry_run(visit, _matter_type(visit, type_id))
        case "POST", [type_id, "push"]:
            return _push(visit, _matter_type(visit, type_id))
    raise NotFound("Not found.")


def _matter_type(visit: Visit, type_id: str) -> MatterType:
    # The file as saved now (reread only when it changed): the console shows what clients get.
    found = visit.portal.matter_types_file.current().get(type_id)
    if found is None:
        raise NotFound(f"There is no matter type '{type_id}'.")
    return found


def _record(visit: Visit) -> PushRecord:
    types_file = visit.portal.settings.matter_types_file
    if types_file is None:  # no file, no matter types: _matter_type has said so already
        raise NotFound("No matter types are set up.")
    return PushRecord(types_file)


def _listing(visit: Visit):
    portal = visit.portal
    types = [{"type": matter_type, "clients": templates.count_clients(portal.sessions, matter_type),
              "folders": [(folder, aspects_of(rule)) for folder, rule in folder_rules(matter_type).items()]}
             for matter_type in portal.matter_types_file.current().values()]  # fmt: skip
    return visit.page("console_matter_types.html", {"types": types, "file": portal.settings.matter_types_file})


def _dry_run(visit: Visit, matter_type: MatterType):
    portal = visit.portal
    record = _record(visit)
    try:
        last, unreadable = record.last(matter_type.id), ""
    except PortalError as problem:  # the record of the last push is damaged: say so, compare with nothing
        last, unreadable = None, problem.reason
    would = templates.push(portal.sessions, portal.storage, matter_type, dry_run=True, actor=visit.actor,
                           record=record)  # fmt: skip
    by_folder = Counter(folder for report in would.reports for folder in report.created)
    return visit.page("console_matter_type_push.html", {
        "type": matter_type, "would": would, "by_folder": sorted(by_folder.items()),
        "changes": rule_changes(last, matter_type) if last is not None else None, "unreadable": unreadable,
        "rules": [(folder, aspects_of(rule)) for folder, rule in folder_rules(matter_type).items()],
    })  # fmt: skip


def _push(visit: Visit, matter_type: MatterType):
    _ = visit.form  # reading it checks its token: a page out of date pushes nothing
    portal, actor = visit.portal, visit.actor
    record = _record(visit)
    pushing = job.start(f"push of matter type {matter_type.id}", templates.count_clients(portal.sessions, matter_type),
                        lambda on_client: templates.push(portal.sessions, portal.storage, matter_type, dry_run=False,
                                                         actor=actor, record=record, on_client=on_client))  # fmt: skip
    return visit.page_as_it_goes("console_matter_type_pushing.html", {"type": matter_type, "pushing": pushing})
