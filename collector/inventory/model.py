"""A declared app (one inventory record) and the problems found in a file."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from ronda.errors import InputError


@dataclass(slots=True)
class DeclaredApp:
    app_id: str
    name: str
    status: str  # active, inactive, in-development, retired
    owner: str = ""
    unit: str = ""
    contact: str = ""
    urls: list[str] = field(default_factory=list)
    host: str = ""  # declared host name or address
    root: str = ""  # declared install directory
    app_class: str = ""  # common, specific, or "" when not declared
    superseded_by: str = ""
    audience: str = ""  # public, internal, or ""
    platform: str = ""
    framework: str = ""
    database: str = ""
    year_built: int | None = None
    build_cost: int | None = None
    annual_cost: int | None = None
    depends_on: list[str] = field(default_factory=list)
    last_verified: str = ""  # YYYY-MM-DD
    extra: dict[str, str] = field(default_factory=dict)  # columns ronda does not know, kept for export
    line: int = 0  # where the record starts in its file
    # False when the file it came from has no contact column: an empty contact then says nothing.
    contact_column: bool = True

    def record(self) -> dict[str, Any]:
        """The declared values (without the file position), as stored and compared on re-import."""
        data = asdict(self)
        data.pop("line")
        data.pop("contact_column")
        return data

    def values(self) -> tuple:
        """The declared values in field order (without the file position): cheap, for checksums."""
        return (
            self.app_id,
            self.name,
            self.status,
            self.owner,
            self.unit,
            self.contact,
            tuple(self.urls),
            self.host,
            self.root,
            self.app_class,
            self.superseded_by,
            self.audience,
            self.platform,
            self.framework,
            self.database,
            self.year_built,
            self.build_cost,
            self.annual_cost,
            tuple(self.depends_on),
            self.last_verified,
            tuple(sorted(self.extra.items())),
            self.contact_column,
        )


@dataclass(frozen=True, slots=True)
class Problem:
    line: int | None
    column: str
    message: str
    warning: bool = False

    def __str__(self) -> str:
        where = [f"line {self.line}" if self.line else "", f"column {self.column}" if self.column else ""]
        prefix = ", ".join(w for w in where if w)
        return f"{prefix}: {self.message}" if prefix else self.message


class InventoryError(InputError):
    """The file cannot be imported; `problems` names every one, by line and column."""

    def __init__(self, file: str, problems: list[Problem]) -> None:
        self.file = file
        self.problems = problems
        errors = [p for p in problems if not p.warning]
        super().__init__(
            f"{file}: {len(errors)} problem(s), nothing imported:\n"
            + "\n".join(f"  {file}: {p}" for p in errors)
        )
