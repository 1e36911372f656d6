"""Integers from the address: ids in the path (a bounded `int` converter) and page numbers in the
query string, and the page object templates render.

Python's int has no upper bound but a database id has (32 bits on PostgreSQL), and SQLite raises
OverflowError on a number past 64 bits: /enterprise/needs/99999999999999999999 or ?page=1e20 as a
500. Out of range is therefore refused before a view runs: a path id is 404, a page number is 400.
"""

from dataclasses import dataclass

from flask import Flask, abort, current_app, request
from werkzeug.routing import IntegerConverter, Map

from models.validation import MAX_ID

MAX_PAGE = 10_000  # as the API's PageQuery: no listing holds more pages


class BoundedInt(IntegerConverter):
    """The `int` converter, bounded to what a database id can hold (an unmatched URL is a 404)."""

    def __init__(
        self, map: Map, fixed_digits: int = 0, min: int | None = None, max: int | None = None, signed: bool = False
    ) -> None:  # noqa: A002
        super().__init__(map, fixed_digits, min, MAX_ID if max is None else max, signed)


def init_app(app: Flask) -> None:
    """Replace the `int` converter; must run before any route is added."""
    app.url_map.converters["int"] = BoundedInt


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
    """(page, per_page); a bad or missing ?page= means page 1, one past MAX_PAGE is a 400."""
    page = request.args.get("page", default=1, type=int) or 1
    if page > MAX_PAGE:
        abort(400)
    return max(1, page), current_app.config["MATCHMAKER_PAGE_SIZE"]
