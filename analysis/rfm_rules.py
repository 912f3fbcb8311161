"""The classic RFM rules table: named score ranges kept as data (``analysis/data/rfm_segments.toml``).

Rules are read in order; the first rule whose score ranges all hold names the
customer, and an explicit fallback names anyone no rule matches.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from analysis.config import read_toml
from analysis.errors import ConfigError

__all__ = ["MAX_SCORE", "RfmRule", "RfmRules", "all_cells", "default_rules_path", "load_rfm_rules"]

_SCORE_KEYS = ("r", "f", "m", "fm")
MAX_SCORE = 5  # RfmConfig.bins is Literal[5]; the rules table is written for it
_MAX_SCORE = MAX_SCORE


def default_rules_path() -> Path:
    return Path(str(resources.files("analysis") / "data" / "rfm_segments.toml"))


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


Range = tuple[int, int]


class RfmRule(_Strict):
    """One row of the rules table: a name and inclusive score ranges."""

    name: Annotated[str, Field(min_length=1)]
    description: Annotated[str, Field(min_length=1)]
    r: Range | None = None
    f: Range | None = None
    m: Range | None = None
    fm: Range | None = None

    @field_validator("r", "f", "m", "fm")
    @classmethod
    def _ordered_range(cls, value: Range | None) -> Range | None:
        if value is not None:
            lo, hi = value
            if not 1 <= lo <= hi <= _MAX_SCORE:
                raise ValueError(f"a score range must be [lo, hi] with 1 <= lo <= hi <= {_MAX_SCORE}")
        return value

    @field_validator("description")
    @classmethod
    def _one_line(cls, value: str) -> str:
        if "\n" in value.strip():
            raise ValueError("a description must be one line")
        return value.strip()

    def matches(self, r: int, f: int, m: int) -> bool:
        """Return whether scores ``(r, f, m)`` satisfy every condition of this rule."""
        values = {"r": r, "f": f, "m": m, "fm": (f + m) // 2}
        for key in _SCORE_KEYS:
            bounds = getattr(self, key)
            if bounds is not None and not bounds[0] <= values[key] <= bounds[1]:
                return False
        return True

    def conditions(self) -> str:
        """Return the conditions in words, e.g. ``"R 4–5 and FM 4–5"``."""
        parts = []
        for key in ("r", "f", "m", "fm"):
            bounds = getattr(self, key)
            if bounds is not None:
                lo, hi = bounds
                parts.append(f"{key.upper()} {lo}" if lo == hi else f"{key.upper()} {lo}–{hi}")
        return " and ".join(parts) if parts else "any scores"


class _Fallback(_Strict):
    name: Annotated[str, Field(min_length=1)]
    description: Annotated[str, Field(min_length=1)]


class RfmRules(_Strict):
    """The validated rules table: ordered rules plus the fallback name."""

    segment: Annotated[list[RfmRule], Field(min_length=1)]
    fallback: _Fallback

    @field_validator("segment")
    @classmethod
    def _unique_names(cls, rules: list[RfmRule]) -> list[RfmRule]:
        names = [rule.name for rule in rules]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"segment names must be unique; repeated: {dupes!r}")
        return rules

    @property
    def names(self) -> list[str]:
        """Every name a customer can get, in table order, the fallback last."""
        return [rule.name for rule in self.segment] + [self.fallback.name]

    def segment_for(self, r: int, f: int, m: int) -> str:
        """Name the segment of one score triple: the first matching rule, else the fallback."""
        for rule in self.segment:
            if rule.matches(r, f, m):
                return rule.name
        return self.fallback.name

    def is_shadowed(self, name: str) -> bool:
        """Whether some cells that ``name``'s rule matches are taken by an earlier rule."""
        names = [rule.name for rule in self.segment]
        if name not in names:
            return False
        idx = names.index(name)
        rule, earlier = self.segment[idx], self.segment[:idx]
        return any(rule.matches(r, f, m) and any(e.matches(r, f, m) for e in earlier) for r, f, m in all_cells())

    def rule_text(self, name: str) -> str:
        """Describe in words when ``name`` is given, including the first-match order."""
        if name == self.fallback.name:
            return "no rule above matches"
        idx = [rule.name for rule in self.segment].index(name)
        rule = self.segment[idx]
        earlier = self.segment[:idx]
        shadowed = any(rule.matches(r, f, m) and any(e.matches(r, f, m) for e in earlier) for r, f, m in all_cells())
        text = rule.conditions()
        return f"{text}, unless an earlier rule matched" if shadowed else text


def all_cells() -> list[tuple[int, int, int]]:
    rng = range(1, _MAX_SCORE + 1)
    return [(r, f, m) for r in rng for f in rng for m in rng]


def _describe(err: ValidationError, source: Path, raw: dict) -> str:
    problems = []
    for item in err.errors():
        loc = item["loc"]
        parts: list[str] = []
        for p in loc:
            if isinstance(p, int) and parts:
                parts[-1] = f"{parts[-1]}[{p}]"
            else:
                parts.append(str(p))
        where = ".".join(parts) or "(top level)"
        name = ""
        if len(loc) >= 2 and loc[0] == "segment" and isinstance(loc[1], int):
            try:
                name = f" ({raw['segment'][loc[1]]['name']!r})"
            except (KeyError, IndexError, TypeError):
                name = ""
        msg = item["msg"].removeprefix("Value error, ")
        got = item.get("input")
        got_text = "" if isinstance(got, dict) else f" Got {got!r}."
        problems.append(f"key {where!r}{name}: {msg}.{got_text}")
    return f"{source}: invalid RFM rules table: " + " ".join(problems)


def load_rfm_rules(path: Path | None = None) -> RfmRules:
    """Read and validate an RFM rules table.

    Parameters
    ----------
    path
        A TOML file with ``[[segment]]`` rules and a ``[fallback]`` table;
        ``None`` reads the packaged ``analysis/data/rfm_segments.toml``.

    Returns
    -------
    RfmRules
        The rules in file order.

    Raises
    ------
    ConfigError
        When the file is missing, is not TOML, or a key is unknown, missing or
        out of range; the message names the file and every bad key.
    """
    source = Path(path) if path is not None else default_rules_path()
    raw = read_toml(source, what="RFM rules")
    try:
        return RfmRules.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError(_describe(exc, source, raw)) from None
