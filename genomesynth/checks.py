"""Checks of option values shared by the configs: a bad value is one line naming the option (as
typed on the command line) and what to give instead; NaN and infinity are never a valid number."""

from __future__ import annotations

import dataclasses
import math
import types
import typing
from typing import Any

from genomesynth.errors import GenomesynthError


def flag(name: str) -> str:
    """The command-line spelling of a config field: max_steps → --max-steps (sample's n is -n)."""
    return "-n" if name == "n" else "--" + name.replace("_", "-")


def whole(name: str, value: int | None, minimum: int = 1, *, optional: bool = False) -> None:
    """An integer option of at least `minimum` (None allowed when optional)."""
    if value is None and optional:
        return
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise GenomesynthError(f"{flag(name)} must be a whole number ≥ {minimum} (got {value!r})")


def number(name: str, value: float, low: float | None = None, high: float | None = None, *,
           low_open: bool = False, high_open: bool = False) -> None:
    """A finite number within [low, high] (or open at either end)."""
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
    if ok and low is not None:
        ok = value > low if low_open else value >= low
    if ok and high is not None:
        ok = value < high if high_open else value <= high
    if not ok:
        lo = "" if low is None else f"{'>' if low_open else '≥'} {low:g}"
        hi = "" if high is None else f"{'<' if high_open else '≤'} {high:g}"
        bounds = " and ".join(b for b in (lo, hi) if b)
        raise GenomesynthError(f"{flag(name)} must be a finite number{' ' + bounds if bounds else ''} (got {value!r})")


def typed(config: Any, source: str = "") -> None:
    """Every field of a dataclass holds a value of its annotated type (a config file can hold anything)."""
    hints = typing.get_type_hints(type(config))
    for f in dataclasses.fields(config):
        value = getattr(config, f.name)
        if not _matches(value, hints[f.name]):
            where = f"{source}: " if source else ""
            raise GenomesynthError(
                f"{where}{f.name} = {value!r} is not a {_describe(hints[f.name])}; fix it in the config file or as {flag(f.name)}"
            )


def _matches(value: Any, hint: Any) -> bool:
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        return any(_matches(value, h) for h in typing.get_args(hint))
    if hint is type(None):
        return value is None
    if hint is Any:
        return True
    if hint is bool:
        return isinstance(value, bool)
    if hint is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if hint is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    base = origin or hint
    return isinstance(value, base) if isinstance(base, type) else True


def _describe(hint: Any) -> str:
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        return " or ".join(_describe(h) for h in typing.get_args(hint))
    if hint is type(None):
        return "null"
    return getattr(typing.get_origin(hint) or hint, "__name__", str(hint))
