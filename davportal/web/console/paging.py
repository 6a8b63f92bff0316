"""Long lists a page at a time: which page was asked for, and the links to the others."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlencode

from davportal.web.console.acting import PAGE_SIZE, page_of
from davportal.web.console.visit import Visit


@dataclass(frozen=True)
class Paging:
    number: int  # from 1
    total: int  # rows in every page together
    size: int
    query: dict[str, str]  # the page's filters, kept by the links to the other pages

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.size))

    @property
    def offset(self) -> int:
        return (self.number - 1) * self.size

    @property
    def first_row(self) -> int:
        return min(self.total, self.offset + 1)

    @property
    def last_row(self) -> int:
        return min(self.total, self.offset + self.size)

    def link(self, number: int) -> str | None:
        """The query string of another page; None when there is no such page."""
        if not 1 <= number <= self.pages or number == self.number:
            return None
        return "?" + urlencode({k: v for k, v in self.query.items() if v and k != "page"} | {"page": number})


def paging(visit: Visit, total: int, size: int = PAGE_SIZE) -> Paging:
    """The page the query asks for, within the pages there are (a page past the end shows the last)."""
    pages = max(1, -(-total // size))
    return Paging(min(page_of(visit.query), pages), total, size, dict(visit.query))
