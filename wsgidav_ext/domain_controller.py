"""WsgiDAV domain controller: Basic auth against the portal's accounts."""

from __future__ import annotations

from wsgidav.dc.base_dc import BaseDomainController

from davportal.services.portal import Portal
from davportal.services.request import RequestContext


class PortalDomainController(BaseDomainController):
    def __init__(self, wsgidav_app, config):
        super().__init__(wsgidav_app, config)
        self.portal = Portal.of(config)

    def __str__(self):
        return f"{self.__class__.__name__}({self.portal.settings.database_url.split('://')[0]})"

    def get_domain_realm(self, path_info, environ):
        return self.portal.settings.auth.realm

    def require_authentication(self, realm, environ):
        return True

    def is_share_anonymous(self, path_info):
        return False

    def supports_http_digest_auth(self):
        return False  # argon2 hashes cannot answer a Digest challenge

    def basic_auth_user(self, realm, user_name, password, environ):
        context = RequestContext.of(environ)
        context.attempted_login = user_name  # for the audit, should this fail or be refused
        actor = self.portal.authenticator.authenticate(user_name, password, environ.get("REMOTE_ADDR", ""))
        if actor is None:
            return False
        context.actor = actor
        return True
