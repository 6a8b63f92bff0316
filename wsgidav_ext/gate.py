"""The one policy decision every request passes through, after authentication.

Turns method + path (+ Destination) into policy terms, asks `policy.decide`, and refuses with
the decision's status and reason. It holds no rule of its own. The target it resolves stays in
the request's context for the provider, the audit trail and the pages.
"""

from __future__ import annotations

from urllib.parse import quote, unquote, urlsplit

from wsgidav.mw.base_mw import BaseMiddleware

from davportal.core.errors import BadGateway, BadRequest, refusal
from davportal.core.paths import has_control_characters
from davportal.services import records
from davportal.services.portal import Portal
from davportal.services.request import RequestContext
from policy import Action, Decision, Target, decide, decide_tree
from policy.documents import case_clash
from policy.names import check_file_type, check_new_name, check_size, is_desktop_file
from wsgidav_ext.provider import PortalProvider

METHOD_ACTION = {
    "GET": Action.READ,
    "HEAD": Action.READ,
    "OPTIONS": Action.READ,
    "PROPFIND": Action.READ,
    "PUT": Action.CREATE,  # CHANGE when the file exists
    "MKCOL": Action.CREATE,
    "PROPPATCH": Action.CHANGE,
    "DELETE": Action.REMOVE,
    "LOCK": Action.LOCK,
    "UNLOCK": Action.LOCK,
    "COPY": Action.READ,  # the source; the Destination is a create (or an overwrite)
    "MOVE": Action.REMOVE,  # the source moves away; the Destination as for COPY
}
TREE_ACTIONS = frozenset({"COPY", "MOVE", "DELETE"})
FINITE_DEPTH_REASON = "Listing a whole tree at once (Depth: infinity) is not supported; use Depth 0 or 1."


class AccessGate(BaseMiddleware):
    def __init__(self, wsgidav_app, next_app, config):
        super().__init__(wsgidav_app, next_app, config)
        self.portal = Portal.of(config)

    def __call__(self, environ, start_response):
        method = environ["REQUEST_METHOD"]
        path = environ["PATH_INFO"]
        if method == "OPTIONS" and path in ("*", "/"):
            return self.next_app(environ, start_response)  # server capabilities: nothing to hide
        provider: PortalProvider = environ["wsgidav.provider"]
        context = RequestContext.of(environ)
        actor = context.actor
        settings = self.portal.settings

        action = METHOD_ACTION.get(method, Action.READ)
        source = context.target = self._target(provider, context, environ, path, action)
        if method == "PUT" and source.exists:
            action = Action.CHANGE
        judge = decide_tree if method in TREE_ACTIONS and source.is_collection else decide
        decisions = [judge(actor, action, source, context.rules(source.client_id))]
        dest = self._destination(provider, context, environ, source, decisions) if method in ("COPY", "MOVE") else None
        # Invisible anywhere means 404, before any 403 can say more.
        for decision in sorted(decisions, key=lambda d: d.status != 404):
            _enforce(decision)
        if dest is not None and not dest.exists and dest.parts:
            renaming = source.parts[-1] if source.parts and source.parts[:-1] == dest.parts[:-1] else None
            _enforce(case_clash(dest.parts[-1], self.portal.storage.case_twin(dest.parts), renaming_from=renaming))

        if method == "PROPFIND" and environ.get("HTTP_DEPTH", "infinity").lower() == "infinity":
            raise refusal(403, FINITE_DEPTH_REASON, condition="propfind-finite-depth")
        if method == "LOCK":
            environ["HTTP_TIMEOUT"] = capped_timeout(environ.get("HTTP_TIMEOUT", ""),
                                                     settings.limits.lock_timeout_seconds)  # fmt: skip
        creates_file = method == "PUT" or (method == "LOCK" and not source.exists)
        if (action is Action.CREATE or creates_file) and not source.exists and source.parts:
            # A case twin is looked for once, when the name is taken, holding its lock (placing).
            _enforce(check_new_name(source.parts[-1]))
        if creates_file:
            _enforce(check_file_type(source.parts[-1], settings.uploads.allowed_extensions))
            _enforce(check_size(_declared_size(environ), settings.uploads.max_bytes))

        return self.next_app(environ, start_response)

    def _destination(self, provider: PortalProvider, context: RequestContext, environ: dict, source: Target,
                     decisions: list[Decision]) -> Target | None:  # fmt: skip
        """Adds the decisions for the Destination: a create, and a removal of what it overwrites."""
        dest_path = destination_path(environ, self.wsgidav_app.mount_path)
        if dest_path is None:
            return None
        actor = context.actor
        assert actor is not None  # HTTPAuthenticator, before the gate, lets no one in anonymously
        dest = context.destination = self._target(provider, context, environ, dest_path, Action.REMOVE)
        rules = context.rules(dest.client_id)
        create = decide(actor, Action.CREATE, dest, rules)
        decisions.append(create)
        # Only once the create is allowed: otherwise whether something is there would show.
        if create.allowed and dest.exists and environ.get("HTTP_OVERWRITE", "T").upper() != "F":
            decisions.append(decide_tree(actor, Action.REMOVE, dest, rules))
        if dest.parts:
            decisions.append(check_new_name(dest.parts[-1]))
            if not source.is_collection:
                decisions.append(check_file_type(dest.parts[-1], self.portal.settings.uploads.allowed_extensions))
        return dest

    @staticmethod
    def _target(provider: PortalProvider, context: RequestContext, environ: dict, path: str,
                action: Action) -> Target:  # fmt: skip
        parts = context.parts(path)
        assert context.actor is not None  # HTTPAuthenticator, before the gate, lets no one in anonymously
        resource = provider.get_resource_inst(path, environ)
        uploaded_by = written_by = None
        # Only a contact's change depends on who uploaded what: staff pay no query for it.
        if resource is not None and context.actor.is_contact and action is not Action.READ:
            uploaded_by = records.uploader_of(context, parts)
        if resource is not None and parts and is_desktop_file(parts[-1]):
            written_by = records.writers(context, parts[:-1], [parts[-1]]).get(parts[-1])
        return Target(
            parts,
            exists=resource is not None,
            is_collection=resource is not None and resource.is_collection,
            uploaded_by=uploaded_by,
            written_by=written_by,
        )


def _enforce(decision: Decision) -> None:
    if not decision.allowed:
        raise refusal(decision.status, decision.reason, condition=decision.condition)


def capped_timeout(requested: str, cap: int) -> str:
    """A lock lasts at most `cap` seconds: an abandoned `Timeout: Infinite` lock would block forever."""
    seconds = [int(part[7:]) for part in requested.replace(" ", "").split(",")
               if part.lower().startswith("second-") and part[7:].isdigit() and int(part[7:]) > 0]  # fmt: skip
    return f"Second-{min([cap, *seconds])}"


def _declared_size(environ: dict) -> int | None:
    # Finder sends chunked uploads with the size in X-Expected-Entity-Length.
    for header in ("CONTENT_LENGTH", "HTTP_X_EXPECTED_ENTITY_LENGTH"):
        value = environ.get(header, "").strip()
        if value:
            try:
                return int(value)
            except ValueError:
                raise BadRequest(f"The {header.removeprefix('HTTP_').title()} header is not a number.") from None
    return None


def destination_path(environ: dict, mount_path: str) -> str | None:
    """The Destination header as a path on this server, or a refusal.

    Checked against the request's own scheme and Host (never a client-sent X-Forwarded-Host),
    then rewritten as a plain path for WsgiDAV, which would otherwise cut it at an encoded '?'.
    """
    raw = environ.get("HTTP_DESTINATION")
    if not raw:
        return None  # WsgiDAV answers 400 for the missing header
    url = urlsplit(raw.strip())
    if url.scheme or url.netloc:
        if url.scheme.lower() != environ["wsgi.url_scheme"] or not _same_host(url, environ):
            raise BadGateway("The destination must be on this server.")
    path = unquote(url.path, errors="strict")
    if ".." in path.replace("\\", "/").split("/"):
        raise BadRequest("Paths may not contain '..'.")
    if has_control_characters(path):
        raise BadRequest("Paths may not contain control characters.")
    if mount_path:
        if not (path == mount_path or path.startswith(mount_path + "/")):
            raise BadGateway("The destination must be on this server.")
        path = path[len(mount_path) :]
    parts = RequestContext.of(environ).parts(path)
    clean = "/" + "/".join(parts) + ("/" if path.endswith("/") and parts else "")
    environ["HTTP_DESTINATION"] = quote(mount_path + clean)
    return clean


def _same_host(url, environ: dict) -> bool:
    default_port = {"http": 80, "https": 443}.get(url.scheme.lower())
    host = environ.get("HTTP_HOST", "").lower()
    if ":" not in host.rsplit("]", 1)[-1]:
        host = f"{host}:{default_port}"  # a Host without a port means the scheme's own
    try:
        dest_port = url.port or default_port
    except ValueError:
        return False
    return f"{(url.hostname or '').lower()}:{dest_port}" == host or (
        url.hostname and f"[{url.hostname.lower()}]:{dest_port}" == host
    )
