"""URL paths as the portal reads them: segments, in NFC."""

from urllib.parse import quote

from policy.names import normalize


def split_path(path: str) -> tuple[str, ...]:
    return tuple(normalize(p) for p in path.split("/") if p)


def ref_url(client_id: str, path: str, *, is_folder: bool) -> str:
    """WsgiDAV's key for a resource's locks and dead properties (its quoted URL path)."""
    return quote(f"/{client_id}/{path}") + ("/" if is_folder else "")
