"""The composition root: builds the Portal and wires it into WsgiDAV through WsgiDAV's own keys.

The one place that knows both the services and the adapters; the WsgiDAV wiring is written here
and nowhere else (the config file holds only what an admin chooses).
"""

from __future__ import annotations

import copy
import ipaddress
import logging
import sys
from typing import Any

from wsgidav import util
from wsgidav.wsgidav_app import WsgiDAVApp

from davportal.core.errors import ConfigError
from davportal.core.settings import Settings, settings_of
from davportal.services.portal import PORTAL_KEY, Portal

_logger = logging.getLogger("davportal")

# How the portal plugs into WsgiDAV. An admin's config may not change these: they are the portal.
WSGIDAV_WIRING: dict[str, Any] = {
    "provider_mapping": {
        "/": {"class": "wsgidav_ext.provider.PortalProvider", "args": ["${application}"]},
    },
    "http_authenticator": {
        "domain_controller": "wsgidav_ext.domain_controller.PortalDomainController",
        # A signed-in browser's login, set by davportal.web.signin.WebSignIn: an environ key no client can send.
        "trusted_auth_header": "davportal.web_login",
        # argon2 hashes cannot answer Digest challenges: Basic only (over TLS in production).
        "accept_basic": True,
        "accept_digest": False,
        "default_to_digest": False,
    },
    # In order: the audit trail (it sees every outcome), error pages (plain-language reasons, no
    # internals), request sanity (paths, XML bodies), browser sign-in, login, the access policy,
    # the web pages (a browser on a folder), PROPFIND's common cases, then WebDAV itself.
    "middleware_stack": [
        "wsgidav_ext.audit.AuditTrail",
        "wsgidav_ext.error_pages.ErrorPages",
        "wsgidav_ext.guard.RequestGuard",
        "davportal.web.signin.WebSignIn",
        "wsgidav.http_authenticator.HTTPAuthenticator",
        "wsgidav_ext.gate.AccessGate",
        "davportal.web.pages.WebPages",
        "wsgidav_ext.propfind.PropfindFastPath",
        "wsgidav.request_resolver.RequestResolver",
    ],
    # GET and PUT move data in 256 KiB blocks, not 8 KiB: fewer system calls; larger blocks cost
    # more than they save (measured with `python -m bench`: 1 MiB blocks took twice the CPU per GET).
    "block_size": 256 * 1024,
    "honor_mtime_header": True,  # X-OC-Mtime on PUT: rclone and ownCloud clients keep file times
    # Explorer keeps a copied file's time by PROPPATCHing Win32LastModifiedTime.
    "hotfixes": {"emulate_win32_lastmod": True},
    # WebDAV locks in the portal's database: every node and worker process sees the same locks,
    # and a lock is granted atomically across all of them.
    "lock_storage": {"class": "wsgidav_ext.lock_store.PortalLockStorage", "args": ["${application}"]},
    "property_manager": {
        "class": "wsgidav_ext.dead_properties.PortalPropertyManager",
        "args": ["${application}"],
    },
    "suppress_version_info": True,
}
# What an admin's config may set, with these defaults.
SERVER_DEFAULTS: dict[str, Any] = {
    "server": "cheroot",
    "server_args": {"numthreads": 10},
    "host": "127.0.0.1",
    "port": 8080,
    "verbose": 2,
    "logging": {"enable": True},
}


def wsgidav_config(config: dict[str, Any]) -> dict[str, Any]:
    """An admin's config (host, port, TLS, logging, the `davportal:` section) with the wiring."""
    return {**SERVER_DEFAULTS, **copy.deepcopy(config), **copy.deepcopy(WSGIDAV_WIRING)}


def make_app(config: dict[str, Any], source: str = "config") -> WsgiDAVApp:
    config = wsgidav_config(config)
    settings = settings_of(config, source)
    check_transport(config, settings)
    check_port(config.get("port"), f"{source}: port")
    if settings.redis_url:
        _logger.warning("davportal.redis_url is no longer used: WebDAV locks are kept in the database, "
                        "which every node shares. Remove it from %s.", source)  # fmt: skip
    config[PORTAL_KEY] = Portal(settings)
    # WsgiDAV applies this only in its own CLI; embedded, we do it ourselves.
    util.public_wsgidav_info = "WsgiDAV"
    util.public_python_info = f"Python/{sys.version_info[0]}"
    app = WsgiDAVApp(config)
    portal_of(app).sweep()  # a crash's half-written uploads, found at start
    return app


def portal_of(app: WsgiDAVApp) -> Portal:
    return Portal.of(app.config)


def check_transport(config: dict[str, Any], settings: Settings) -> None:
    """Passwords travel in Basic auth: beyond this machine, only over TLS (here or at a proxy)."""
    host = str(config.get("host") or "127.0.0.1")
    try:
        loopback = ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        loopback = host == "localhost"
    if not (loopback or config.get("ssl_certificate") or settings.behind_tls_proxy):
        raise ConfigError(
            f"Refusing to serve passwords in clear text on {host}: give ssl_certificate and ssl_private_key, "
            "or set davportal.behind_tls_proxy: true when a proxy terminates TLS in front of the portal."
        )


def check_port(port: Any, what: str = "config: port") -> int:
    """A port to listen on, 0 to 65535 (0: any free port); `what` names where it was given."""
    try:
        number = int(port)
    except (TypeError, ValueError):
        raise ConfigError(f"{what} must be a number from 0 to 65535, not {port!r}.") from None
    if not 0 <= number <= 65535:
        raise ConfigError(f"{what} {number} is out of range (0 to 65535).")
    return number
