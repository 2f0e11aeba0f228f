"""Communities (社区) and their Party general branches."""

from __future__ import annotations

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from rewards.extensions import db


class Community(db.Model):
    """An urban community (社区) whose Party general branch (社区党总支) certifies points."""

    __tablename__ = "communities"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(8), unique=True)  # C01..C21
    name: Mapped[str] = mapped_column(String(80), unique=True)
    street: Mapped[str] = mapped_column(String(80), default="")

    def __repr__(self) -> str:
        return f"<Community {self.code} {self.name}>"
