"""Page numbers from the query string, and the page object templates render."""

from dataclasses import dataclass

from flask import current_app, request


@dataclass(frozen=True)
class Page:
    items: list
    page: int
    per_page: int
    total: int

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.per_page))

    @property
    def has_prev(self) -> bool:
        return self.page > 1

    @property
    def has_next(self) -> bool:
        return self.page < self.pages


def requested_page() -> tuple[int, int]:
    """(page, per_page); a bad or missing ?page= means page 1."""
    page = request.args.get("page", default=1, type=int) or 1
    return max(1, page), current_app.config["MATCHMAKER_PAGE_SIZE"]
