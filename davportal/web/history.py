"""The page of a file's earlier versions: when each was saved and by whom, and a way back to it."""

from __future__ import annotations

from urllib.parse import quote

from davportal.services import records
from davportal.services.request import RequestContext
from davportal.web.views import HOME_WORDS, client_names, crumbs_of
from policy import Action, Actor, Target, decide
from policy.names import human_size
from policy.pages import audience_of


def history_context(environ: dict, actor: Actor, path: str) -> dict:
    context = RequestContext.of(environ)
    parts = context.parts(path)
    facts = records.facts_of(context, parts)
    document = Target(parts, exists=True, uploaded_by=facts.uploaded_by if facts else None)
    may_restore = decide(actor, Action.CHANGE, document, context.rules(parts[0])).allowed
    folder = "/" + "/".join(parts[:-1]) + "/"
    rows = [
        {"id": version.id, "when": version.written_at.strftime("%Y-%m-%d %H:%M"), "by": version.written_by or "",
         "size": human_size(version.size), "replaced": version.replaced_at.strftime("%Y-%m-%d %H:%M"),
         "replaced_by": version.replaced_by or ""}
        for version in records.versions_of(context, document)
    ]  # fmt: skip
    return {
        "title": parts[-1], "path": path, "url": quote(path), "folder_url": quote(folder), "rows": rows,
        "can_restore": may_restore,
        "crumbs": crumbs_of(parts[:-1], client_names(context.portal)[0], HOME_WORDS[audience_of(actor)]),
    }  # fmt: skip
