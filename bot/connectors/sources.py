"""The data sources an operator declares: read-only SQL databases Claude's code may query.

Declared in a YAML (or JSON) file named by `DATA_SOURCES_FILE`:

```yaml
sources:
  - name: sales                      # what code passes as `source`
    url: postgresql://reader:...@db.internal/sales   # or sqlite:///path/to/file.db
    description: Orders, customers and products of the web shop, since 2021.
    schemas: [public]                # PostgreSQL: the only schemas it may read (default: public)
    tables: [orders, customers]      # optional: the only tables it may read
    row_cap: 100000                  # most rows one query returns (default 100,000)
    timeout_seconds: 30              # longest one query may run (default 30)
```

The URL is SQLAlchemy's form (`postgresql://`, `postgresql+asyncpg://`, `sqlite:///`,
`sqlite+aiosqlite:///`); the bot connects with asyncpg or sqlite3 itself and enforces read-only
access (see bot/connectors/sql.py). Credentials in the URL are never shown to Claude or logged.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, Field, ValidationError, field_validator

NAME = re.compile(r"^[a-z][a-z0-9_]{0,39}$")


class DataSource(BaseModel):
    model_config = {"extra": "forbid", "frozen": True}

    name: str
    url: str
    description: str = Field(min_length=1, max_length=1000)
    schemas: tuple[str, ...] = ()
    tables: tuple[str, ...] = ()
    row_cap: int = Field(default=100_000, ge=1, le=5_000_000)
    timeout_seconds: float = Field(default=30.0, gt=0, le=600)

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        if not NAME.match(value):
            raise ValueError("must be lower-case letters, digits and _ (starting with a letter), at most 40")
        return value

    @field_validator("url")
    @classmethod
    def _url(cls, value: str) -> str:
        if kind_of(value) is None:
            raise ValueError("must be a postgresql:// or sqlite:/// URL (SQLAlchemy form)")
        return value

    @property
    def kind(self) -> Literal["postgresql", "sqlite"]:
        kind = kind_of(self.url)
        assert kind is not None
        return kind

    @property
    def sqlite_path(self) -> str:
        """The file of a sqlite URL (`sqlite:///relative.db`, `sqlite:////absolute.db`)."""
        return self.url.split(":///", 1)[1]

    @property
    def postgres_dsn(self) -> str:
        """The URL as asyncpg takes it (no `+driver`)."""
        scheme, rest = self.url.split("://", 1)
        return f"postgresql://{rest}" if scheme.startswith("postgres") else self.url

    def allows_table(self, schema: str | None, table: str) -> bool:
        schemas = self.schemas or (("public",) if self.kind == "postgresql" else ())
        if schema is not None and schemas and schema not in schemas:
            return False
        if not self.tables:
            return True
        qualified = f"{schema}.{table}" if schema else table
        return table in self.tables or qualified in self.tables

    def for_claude(self) -> dict[str, Any]:
        """What Claude is told about the source (no URL, no credentials)."""
        out: dict[str, Any] = {"name": self.name, "engine": self.kind, "description": self.description}
        if self.tables:
            out["tables"] = list(self.tables)
        return out


def kind_of(url: str) -> Literal["postgresql", "sqlite"] | None:
    scheme = url.split("://", 1)[0].lower() if "://" in url else ""
    base = scheme.split("+", 1)[0]
    if base in ("postgresql", "postgres"):
        return "postgresql"
    if base == "sqlite" and url.count(":///") == 1 and len(url.split(":///", 1)[1]) > 0:
        return "sqlite"
    return None


class SourcesError(Exception):
    """The data sources file is missing or wrong: one line per problem, for the operator."""


def parse_sources(data: Any, *, origin: str) -> list[DataSource]:
    if not isinstance(data, dict) or not isinstance(data.get("sources"), list):
        raise SourcesError(f"{origin}: expected a mapping with a `sources:` list")
    sources: list[DataSource] = []
    problems: list[str] = []
    for index, entry in enumerate(data["sources"]):
        try:
            sources.append(DataSource.model_validate(entry))
        except ValidationError as exc:
            label = entry.get("name") if isinstance(entry, dict) else None
            for err in exc.errors():
                where = ".".join(str(p) for p in err.get("loc", ()))
                problems.append(f"{origin}: source {label or index} {where}: {err.get('msg')}")
    names = [s.name for s in sources]
    problems += [
        f"{origin}: source name {n!r} is used twice" for n in sorted({n for n in names if names.count(n) > 1})
    ]
    if problems:
        raise SourcesError("\n".join(problems))
    return sources


def load_sources(path: str | None) -> list[DataSource]:
    """The declared sources (none without DATA_SOURCES_FILE). Read once at start-up."""
    if not path:
        return []
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise SourcesError(f"DATA_SOURCES_FILE {path}: cannot read it ({exc.strerror})") from exc
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise SourcesError(f"DATA_SOURCES_FILE {path}: not valid YAML ({exc})") from exc
    return parse_sources(data, origin=f"DATA_SOURCES_FILE {path}")
