"""One request to the console: who asks, what they sent, and the ways to answer."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any
from urllib.parse import quote

from davportal.services.portal import Portal
from davportal.web import form
from davportal.web.render import FLASH_COOKIE, WEB, common_context, redirect, respond, respond_as_it_goes, set_cookie
from policy import Actor

PREFIX = "/admin"  # below WEB


@dataclass(frozen=True)
class Section:
    title: str  # in the console's menu
    handle: Callable[[Visit], Any]


@dataclass
class Visit:
    environ: dict
    start_response: Callable
    portal: Portal
    actor: Actor
    csrf: str
    route: str  # below WEB: "/admin/clients/acme"
    _form: dict[str, str] | None = field(default=None, repr=False)

    @property
    def method(self) -> str:
        return self.environ["REQUEST_METHOD"]

    @property
    def parts(self) -> list[str]:
        """The route's segments after the section's: "/admin/clients/acme/contacts" -> ["acme", "contacts"]."""
        return self.route.removeprefix(PREFIX).strip("/").split("/")[1:]

    @cached_property
    def query(self) -> dict[str, str]:
        return form.query(self.environ)

    @property
    def form(self) -> dict[str, str]:
        """A POSTed form, its CSRF token checked (a page out of date, or another site's, changes nothing)."""
        if self._form is None:
            self._form = form.read(self.environ)
            form.require_token(self._form.get("csrf"), self.csrf)
        return self._form

    def page(self, template: str, context: dict, status: str = "200 OK"):
        full = self._context(context)
        # The last action's message is shown once: this page showed it.
        shown = [set_cookie(self.environ, FLASH_COOKIE, "", max_age=0)] if full["message"] else []
        return respond(self.environ, self.start_response, status, template, full, extra=shown)

    def page_as_it_goes(self, template: str, context: dict):
        """A page written while the work it reports runs (a push to every client)."""
        return respond_as_it_goes(self.environ, self.start_response, template, self._context(context))

    def _context(self, context: dict) -> dict:
        from davportal.web.console import SECTIONS  # the menu: the package knows its sections

        menu = [(f"{WEB}{PREFIX}/{slug}".rstrip("/"), section.title) for slug, section in SECTIONS.items()]
        here = f"{WEB}{PREFIX}/{self.route.removeprefix(PREFIX).strip('/').partition('/')[0]}".rstrip("/")
        return common_context(self.environ, self.actor) | {"menu": menu, "here": here} | context

    def done(self, message: str, back: str, *, ok: bool = True):
        """After an action: back to a console page, which shows what happened once."""
        flash = ("ok:" if ok else "error:") + message
        # `back` is a URL already (url() quotes its segments): only what a URL may not hold is quoted.
        return redirect(self.start_response, quote(form.local(back), safe="/%?=&"),
                        extra=[set_cookie(self.environ, FLASH_COOKIE, quote(flash), max_age=60)])  # fmt: skip

    def url(self, *segments: str) -> str:
        """A console URL: url("clients", "acme") -> /.davportal-web/admin/clients/acme."""
        return "/".join([WEB + PREFIX, *(quote(s, safe="") for s in segments)])
