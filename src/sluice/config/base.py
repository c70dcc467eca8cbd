"""Shared pieces of the config models: the strict base model, suggestions, located problems."""

from __future__ import annotations

import difflib
from collections.abc import Iterable

from pydantic import BaseModel, ConfigDict, ValidationError
from pydantic_core import InitErrorDetails, PydanticCustomError

from sluice.errors import ConfigError

Loc = tuple[str | int, ...]
"""A pydantic error location: keys and list indexes from the model root."""

# Qualified dataset names share prefixes ("main."), which inflates difflib's ratio.
DATASET_CUTOFF = 0.8


def closest(word: str, candidates: Iterable[object], *, cutoff: float = 0.6) -> str | None:
    """The candidate most like ``word`` (difflib), or None if none is close."""
    close = difflib.get_close_matches(word, [str(c) for c in candidates], n=1, cutoff=cutoff)
    return close[0] if close else None


def did_you_mean(word: str, candidates: Iterable[object], *, cutoff: float = 0.6) -> str:
    """``"; did you mean 'x'?"`` for the closest candidate, or ``""``."""
    match = closest(word, candidates, cutoff=cutoff)
    return f"; did you mean {match!r}?" if match else ""


def unknown_environment(name: str, known: list[str]) -> ConfigError:
    """The error for an environment name that ``sluice.yaml`` does not define."""
    return ConfigError(
        f"unknown environment {name!r}{did_you_mean(name, known)}",
        tip=(
            f"environments in sluice.yaml: {', '.join(known)}"
            if known
            else "add one to sluice.yaml: environments: {dev: {target: {type: local}}}"
        ),
    )


def problems_error(title: str, problems: list[tuple[Loc, str]]) -> ValidationError:
    """A ValidationError with one custom error per (loc, message); raised inside a validator,
    pydantic keeps each loc (prefixed with the model's own), so the loader can locate it."""
    # The message travels in the context: a literal template would treat "${x}" as a field.
    return ValidationError.from_exception_data(
        title,
        [
            InitErrorDetails(
                type=PydanticCustomError("sluice_config", "{message}", {"message": msg}),
                loc=loc,
                input=None,
            )
            for loc, msg in problems
        ],
    )


def duplicates(items: list[str]) -> list[tuple[int, str]]:
    """(index, item) of every repeat after an item's first occurrence."""
    seen: set[str] = set()
    dups = []
    for i, item in enumerate(items):
        if item in seen:
            dups.append((i, item))
        seen.add(item)
    return dups


class ConfigModel(BaseModel):
    """Base of every sluice.yaml model: unknown keys are errors."""

    model_config = ConfigDict(extra="forbid")
