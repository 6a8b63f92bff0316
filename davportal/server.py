"""`davportal serve`: the WSGI app on cheroot, the multi-threaded server WsgiDAV itself uses."""

from __future__ import annotations

import logging
from typing import Any

from cheroot import wsgi
from cheroot.server import get_ssl_adapter_class

from davportal.app import make_app, portal_of
from davportal.janitor import Janitor
from notifications.worker import Sender

_logger = logging.getLogger("davportal")


def build_server(config: dict[str, Any]) -> wsgi.Server:
    app = make_app(config)
    server_args = {"numthreads": 10, **(config.get("server_args") or {})}
    server = wsgi.Server((config["host"], int(config["port"])), app, server_name="davportal", **server_args)
    if config.get("ssl_certificate"):
        adapter = get_ssl_adapter_class(config.get("ssl_adapter") or "builtin")
        server.ssl_adapter = adapter(
            config["ssl_certificate"], config["ssl_private_key"], config.get("ssl_certificate_chain")
        )
    return server


def base_url(config: dict[str, Any], server: wsgi.Server | None = None) -> str:
    host, port = server.bind_addr[:2] if server else (config["host"], config["port"])
    scheme = "https" if config.get("ssl_certificate") else "http"
    host = f"[{host}]" if ":" in host else host
    return f"{scheme}://{host}:{port}/"


def serve(config: dict[str, Any], on_ready=None) -> None:
    server = build_server(config)
    server.prepare()  # binds now, so the URL printed is the one that answers
    portal = portal_of(server.wsgi_app)
    janitor = Janitor(portal)
    janitor.start()
    sender = Sender(portal) if portal.settings.notifications.send_in_serve else None
    if sender:
        sender.start()
    if on_ready:
        on_ready(base_url(config, server))
    try:
        server.serve()
    except KeyboardInterrupt:
        _logger.info("Stopping.")
    finally:
        janitor.stop()
        if sender:
            sender.stop()
        server.stop()
