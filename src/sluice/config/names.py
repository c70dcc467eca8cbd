"""Validated scalar types of ``sluice.yaml``: names, dataset names and project-relative paths.

Each type is an ``Annotated[str, ...]`` usable as a pydantic field type; the plain functions
(:func:`qualify`, :func:`check_relative_path`) are the same rules for code outside pydantic.
"""

from __future__ import annotations

import re
from pathlib import PurePosixPath, PureWindowsPath
from typing import Annotated

from pydantic import AfterValidator, BeforeValidator

DEFAULT_SCHEMA = "main"

_NAME = re.compile(r"[a-z][a-z0-9_-]*")
_IDENT = r"[A-Za-z_][A-Za-z0-9_]*"
_DATASET = re.compile(rf"{_IDENT}(?:\.{_IDENT})?")
_PARAM = re.compile(_IDENT)
_URL_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://")


def _name(value: str) -> str:
    if not _NAME.fullmatch(value):
        raise ValueError(
            f"invalid name {value!r}: use lowercase letters, digits, '_' and '-', "
            "starting with a letter"
        )
    return value


def _dataset_key(value: str) -> str:
    if not _DATASET.fullmatch(value):
        raise ValueError(
            f"invalid dataset name {value!r}: expected 'schema.name' or 'name' "
            "(letters, digits and '_', not starting with a digit)"
        )
    return value


def qualify(name: str) -> str:
    """Return the dataset name with its schema: ``"orders"`` → ``"main.orders"``."""
    return name if "." in name else f"{DEFAULT_SCHEMA}.{name}"


def _dataset_ref(value: str) -> str:
    return qualify(_dataset_key(value))


def _param_name(value: str) -> str:
    if not _PARAM.fullmatch(value):
        raise ValueError(
            f"invalid parameter name {value!r}: use letters, digits and '_' "
            "(it is referenced as ${name})"
        )
    return value


def source_folder(path: str) -> str:
    """Where a file source's files are, as a folder Glue or Spark can read: its path up to
    the last ``/`` before the first wildcard (``raw/orders/*.csv`` → ``raw/orders/``, ``*.csv``
    → ``""``); a path without a wildcard is used whole (one file, or a folder)."""
    static = re.split(r"[*?\[]", path, maxsplit=1)[0]
    return path if static == path else static[:static.rfind("/") + 1]


def check_relative_path(value: str) -> str:
    """Validate a path that must stay inside the project; return it unchanged.

    Rejects empty paths, URLs, absolute paths (POSIX or Windows, including drive-relative
    ``C:x``), backslashes and any ``..`` that climbs above the starting folder. This is a
    lexical check; :func:`sluice.config.check_files` also resolves symlinks.
    """
    if not value or not value.strip():
        raise ValueError("path is empty")
    if "\x00" in value:
        raise ValueError("path contains a NUL byte")
    if _URL_SCHEME.match(value):
        raise ValueError(f"{value!r} is a URL; expected a path relative to the project")
    # Backslashes would be separators on Windows but ordinary characters on POSIX, so the
    # same file could resolve differently per platform; refuse them instead of guessing.
    if "\\" in value:
        raise ValueError(f"{value!r} contains '\\'; use '/' as the path separator")
    win = PureWindowsPath(value)
    if PurePosixPath(value).is_absolute() or win.drive or win.root:
        raise ValueError(f"{value!r} is absolute; paths must be relative to the project")
    depth = 0
    for part in PurePosixPath(value).parts:
        if part == "..":
            depth -= 1
            if depth < 0:
                raise ValueError(f"{value!r} escapes the project directory via '..'")
        elif part != ".":
            depth += 1
    return value


def _to_str(value: object) -> object:
    # YAML reads `min_amount: 0` or `debug: true` as int/bool; parameters are text that is
    # pasted into SQL and paths, so keep YAML's spelling (true/false, not Python's True).
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    return value


Name = Annotated[str, AfterValidator(_name)]
"""A project, job or environment name: ``[a-z][a-z0-9_-]*``."""

DatasetKey = Annotated[str, AfterValidator(_dataset_key)]
"""A dataset name as declared (``schema.name`` or ``name``); qualified after validation."""

DatasetRef = Annotated[str, AfterValidator(_dataset_ref)]
"""A reference to a dataset, stored qualified (``orders`` → ``main.orders``)."""

ParamName = Annotated[str, AfterValidator(_param_name)]
"""A parameter name usable as ``${name}``."""

RelPath = Annotated[str, AfterValidator(check_relative_path)]
"""A path relative to the project root (or object storage) that cannot escape it."""

ParamValue = Annotated[str, BeforeValidator(_to_str)]
"""A parameter value; YAML numbers and booleans are coerced to their text."""
