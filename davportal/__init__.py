"""davportal: an open client document portal for firms, as a WsgiDAV plugin."""

__version__ = "0.1.0"
