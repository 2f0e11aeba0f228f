"""Pages of a list (分页): every list in the product is paged, never capped."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from rewards.errors import ValidationFailed

T = TypeVar("T")
U = TypeVar("U")

DEFAULT_PAGE_SIZE = 20
MAX_PAGE_SIZE = 200
# Beyond this an OFFSET only burns database time.
MAX_PAGE = 100_000


@dataclass(frozen=True)
class Page(Generic[T]):
    """One page of a list, and how many items the whole list has."""

    items: Sequence[T]
    page: int
    page_size: int
    total: int

    @property
    def pages(self) -> int:
        """How many pages the list has (at least 1, so "page 1 of 1" reads right when empty)."""
        return max(1, -(-self.total // self.page_size))

    def map(self, convert: Callable[[T], U]) -> Page[U]:
        """The same page with each item converted."""
        return Page([convert(item) for item in self.items], self.page, self.page_size, self.total)


def check_page(page: int, page_size: int) -> None:
    """Refuse a page number or size out of range (the schemas refuse them first)."""
    if not 1 <= page <= MAX_PAGE:
        raise ValidationFailed(f"页码需在 1 到 {MAX_PAGE} 之间。")
    if not 1 <= page_size <= MAX_PAGE_SIZE:
        raise ValidationFailed(f"每页条数需在 1 到 {MAX_PAGE_SIZE} 之间。")


def paginate(
    session: Session, statement: Select[Any], page: int, page_size: int, *, scalars: bool = True
) -> Page[Any]:
    """Run ``statement`` (already ordered) for one page, with a count of the whole list."""
    check_page(page, page_size)
    total = session.scalar(select(func.count()).select_from(statement.order_by(None).subquery()))
    limited = statement.limit(page_size).offset((page - 1) * page_size)
    rows = session.scalars(limited).all() if scalars else session.execute(limited).all()
    return Page(list(rows), page, page_size, int(total or 0))
