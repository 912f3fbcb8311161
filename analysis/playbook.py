"""The persona playbook: named customer types, their matching conditions and actions, kept as data.

Read from a TOML file (``analysis/data/playbook.toml`` by default; its header
documents the format) and validated at load: unknown keys, conditions on
features that do not exist and templates citing values a segment never has are
refused with one line naming the file and the key.
"""

from __future__ import annotations

import operator
import re
import string
from pathlib import Path
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from analysis.config import FEATURES, read_toml
from analysis.errors import ConfigError

__all__ = ["Action", "Persona", "Playbook", "load_playbook", "holds", "DEFAULT_PLAYBOOK", "OPS"]

DEFAULT_PLAYBOOK = Path(__file__).parent / "data" / "playbook.toml"

# Features every customer table carries, so templates may always cite them.
TEMPLATE_FEATURES = ("recency", "frequency", "monetary", "avg_order_value", "tenure")
TEMPLATE_FIELDS = frozenset(
    ["size", "share_customers", "revenue", "share_revenue", "cur"]
    + [f"{stat}_{f}" for f in TEMPLATE_FEATURES for stat in ("mean", "median", "z", "pct")]
)
CONDITION_KEYS = frozenset(f"{f}_{kind}" for f in FEATURES for kind in ("z", "pct"))
_CONDITION = re.compile(r"^\s*(<=|>=|<|>)\s*(-?\d+(?:\.\d+)?)\s*$")
OPS = {"<=": operator.le, ">=": operator.ge, "<": operator.lt, ">": operator.gt}


def _check_template(text: str) -> str:
    try:
        fields = [name for _, name, _, _ in string.Formatter().parse(text) if name is not None]
    except ValueError as exc:
        raise ValueError(f"malformed template {text!r}: {exc}") from None
    bad = sorted({f for f in fields if f not in TEMPLATE_FIELDS})
    if bad:
        raise ValueError(f"unknown placeholder(s) {bad!r}; allowed: {sorted(TEMPLATE_FIELDS)!r}")
    sample = {name: 1.0 for name in TEMPLATE_FIELDS} | {"size": 1, "cur": "£"}
    try:
        text.format(**sample)
    except (ValueError, IndexError) as exc:
        raise ValueError(f"template {text!r} cannot be formatted: {exc}") from None
    return text


Template = Annotated[str, Field(min_length=1)]


class Action(BaseModel):
    """One recommendation: what to do, why (citing the segment's numbers), what to watch."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    action: Template
    why: Template
    kpi: Template

    @field_validator("action", "why", "kpi")
    @classmethod
    def _templates(cls, text: str) -> str:
        return _check_template(text)


class Persona(BaseModel):
    """A named customer type with its matching conditions and actions."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    key: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    name: str = Field(min_length=1)
    description: Template
    when: dict[str, str | list[str]] = Field(default_factory=dict)
    ideal: dict[str, float] = Field(default_factory=dict)
    actions: list[Action] = Field(min_length=1)

    @field_validator("description")
    @classmethod
    def _description(cls, text: str) -> str:
        return _check_template(text)

    @field_validator("when")
    @classmethod
    def _conditions(cls, when: dict[str, str | list[str]]) -> dict[str, str | list[str]]:
        for key, spec in when.items():
            if key not in CONDITION_KEYS:
                raise ValueError(f"unknown condition key {key!r}; allowed: <feature>_pct or <feature>_z")
            for item in [spec] if isinstance(spec, str) else spec:
                if not _CONDITION.match(item):
                    raise ValueError(f"condition {key} = {item!r} must look like '>= 0.5' (operator <, <=, >, >=)")
        return when

    @field_validator("ideal")
    @classmethod
    def _ideal_keys(cls, ideal: dict[str, float]) -> dict[str, float]:
        bad = sorted(k for k in ideal if k not in CONDITION_KEYS)
        if bad:
            raise ValueError(f"unknown ideal key(s) {bad!r}; allowed: <feature>_pct or <feature>_z")
        return ideal

    @model_validator(mode="after")
    def _ideal_matches(self) -> Persona:
        # An ideal that breaks its own conditions would make the persona unreachable by design.
        for key, spec in self.when.items():
            if key in self.ideal and not holds(self.ideal[key], spec):
                raise ValueError(f"ideal {key} = {self.ideal[key]} breaks its own condition {spec!r}")
        return self

    def conditions(self) -> list[tuple[str, str, float]]:
        """The conditions as ``(key, operator, threshold)`` triples."""
        out = []
        for key, spec in self.when.items():
            for item in [spec] if isinstance(spec, str) else spec:
                op, value = _CONDITION.match(item).groups()
                out.append((key, op, float(value)))
        return out


class Playbook(BaseModel):
    """Ordered personas and the fallback persona."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    personas: list[Persona] = Field(min_length=1)
    fallback: Persona

    @model_validator(mode="after")
    def _unique(self) -> Playbook:
        everyone = [*self.personas, self.fallback]
        for attr in ("key", "name"):
            seen: set[str] = set()
            for p in everyone:
                if getattr(p, attr) in seen:
                    raise ValueError(f"duplicate persona {attr} {getattr(p, attr)!r}")
                seen.add(getattr(p, attr))
        if self.fallback.when:
            raise ValueError("the fallback persona must have no conditions ('when' must be empty)")
        return self


def holds(value: float, spec: str | list[str]) -> bool:
    for item in [spec] if isinstance(spec, str) else spec:
        op, threshold = _CONDITION.match(item).groups()
        if not OPS[op](value, float(threshold)):
            return False
    return True


def load_playbook(path: Path | None = None) -> Playbook:
    """Read and validate a persona playbook.

    Raises
    ------
    ConfigError
        The file is missing, not TOML, or breaks the playbook schema; the
        message names the file and the offending key.
    """
    path = Path(path) if path is not None else DEFAULT_PLAYBOOK
    raw = read_toml(path, what="playbook")
    try:
        return Playbook.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        loc = first["loc"]
        where = ".".join(str(p) for p in loc) or "(top level)"
        if len(loc) >= 2 and loc[0] == "personas" and isinstance(loc[1], int):
            try:
                where += f" (persona {raw['personas'][loc[1]].get('key', '?')!r})"
            except (KeyError, IndexError, TypeError, AttributeError):
                pass
        more = len(exc.errors()) - 1
        tail = f" (and {more} more problem{'s' if more > 1 else ''})" if more else ""
        raise ConfigError(f"{path}: playbook key {where!r}: {first['msg']}.{tail}") from None
