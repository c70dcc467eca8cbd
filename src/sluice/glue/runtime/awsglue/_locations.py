"""Where a local run may read, write and purge, and which files a read covers.

In a local run every location a script touches should come from its job arguments
(``${input:…}``, ``${output:…}``) or the catalog: those name folders of sluice's object
store. An ``s3://`` URI is accepted only when the run context names it; any other one is
refused with the fix, because locally there is no bucket behind it. With a run context,
writes and purges are allowed only inside the run's outputs and temp dir: everything else
in the object store is published history that write-audit-publish must not touch.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ._errors import GlueLocationError
from ._run import RunContext

_REMOTE = re.compile(r"^(s3|s3a|s3n)://", re.IGNORECASE)
_PARTITION_DIR = re.compile(r"^[^=/]+=[^/]*$")
_TIP = ("pass the location as a job argument instead, e.g. in sluice.yaml "
        "'--SOURCE_PATH: ${input:raw.persons}' or '--OUTPUT_PATH: ${output:curated.persons}', "
        "and read it with getResolvedOptions(sys.argv, [...])")


def is_remote(path: str) -> bool:
    return bool(_REMOTE.match(path))


def _norm(path: str) -> str:
    """A local path without ``file://`` and without a trailing slash, made absolute."""
    if path.startswith("file://"):
        path = path[len("file://"):]
    return os.path.abspath(path) if path else path


def _inside(path: str, folder: str) -> bool:
    if is_remote(path) or is_remote(folder):
        # no normalising of URLs: a '.' or '..' segment could climb out, so it is never inside
        if any(part in (".", "..") for part in path.split("://", 1)[-1].split("/")):
            return False
        base = folder.rstrip("/")
        return path.rstrip("/") == base or path.startswith(base + "/")
    path, folder = _norm(path), _norm(folder)
    return path == folder or path.startswith(folder.rstrip(os.sep) + os.sep)


@dataclass(frozen=True)
class Locations:
    """The location rules of one run (an empty :class:`RunContext` outside sluice)."""

    run: RunContext

    @property
    def in_run(self) -> bool:
        return bool(self.run.job or self.run.outputs or self.run.tables)

    def _named(self) -> list[str]:
        named = [t.path for t in self.run.tables.values()] + list(self.run.outputs.values())
        return named + ([self.run.temp_dir] if self.run.temp_dir else [])

    def _writable(self) -> list[str]:
        return list(self.run.outputs.values()) + (
            [self.run.temp_dir] if self.run.temp_dir else [])

    def resolve(self, path: Any, what: str) -> str:
        """``path`` as the runtime uses it: a local absolute path, or an ``s3://`` URI the
        run context names; ``what`` says which call and option it came from."""
        if not isinstance(path, str) or not path:
            raise GlueLocationError(f"{what}: expected a path string, got {path!r}")
        if is_remote(path):
            if any(_inside(path, folder) for folder in self._named()):
                return path
            raise GlueLocationError(
                f"{what}: {path} is an S3 location, and this local run has no S3 behind it; "
                + _TIP)
        return _norm(path)

    def check_writable(self, path: str, what: str) -> None:
        """Refuse a write or purge outside the run's outputs and temp dir (in a run)."""
        if not self.in_run:
            return
        if any(_inside(path, folder) for folder in self._writable()):
            return
        outputs = ", ".join(f"{k} -> {v}" for k, v in sorted(self.run.outputs.items()))
        raise GlueLocationError(
            f"{what}: {path} is outside this run's outputs ({outputs or 'none'}) and temp "
            "dir; sluice writes a new version of each output and publishes it after its "
            "audit, so a job may write only there: pass '${output:NAME}' as the path "
            "argument")

    def output_of(self, path: str) -> str | None:
        """The qualified output whose folder holds ``path``, if any."""
        for name, folder in sorted(self.run.outputs.items()):
            if _inside(path, folder):
                return name
        return None


def _visible(name: str) -> bool:
    # Hadoop and Spark skip these too: _SUCCESS, .crc files, _temporary folders.
    return not name.startswith(("_", "."))


def _walk(folder: Path, recurse: bool) -> Iterator[Path]:
    try:
        entries = sorted(os.scandir(folder), key=lambda e: e.name)
    except FileNotFoundError:
        return
    for entry in entries:
        if not _visible(entry.name):
            continue
        if entry.is_dir():
            if recurse or _PARTITION_DIR.match(entry.name):
                yield from _walk(Path(entry.path), recurse)
        elif entry.is_file():
            yield Path(entry.path)


def glob_regex(pattern: str) -> re.Pattern[str]:
    """A Glue include/exclude glob as a regex: ``**`` crosses folders, ``*`` and ``?`` stay
    inside one, ``{a,b}`` is either, ``[...]`` a character class."""
    out, i = [], 0
    while i < len(pattern):
        c = pattern[i]
        if pattern.startswith("**", i):
            out.append(".*")
            i += 2
            continue
        if c == "*":
            out.append("[^/]*")
        elif c == "?":
            out.append("[^/]")
        elif c == "{":
            end = pattern.find("}", i)
            if end < 0:
                out.append(re.escape(c))
            else:
                out.append("(?:" + "|".join(re.escape(p) for p in pattern[i + 1:end].split(","))
                           + ")")
                i = end
        elif c == "[":
            end = pattern.find("]", i + 1)
            if end < 0:
                out.append(re.escape(c))
            else:
                body = pattern[i + 1:end]
                out.append("[" + ("^" + body[1:] if body.startswith("!") else body) + "]")
                i = end
        else:
            out.append(re.escape(c))
        i += 1
    return re.compile("".join(out))


def exclusion_patterns(value: Any, what: str) -> list[re.Pattern[str]]:
    """Glue's ``exclusions``: a string holding a JSON list of globs (a list is accepted too)."""
    if value is None or value == "":
        return []
    patterns = value
    if isinstance(value, str):
        try:
            patterns = json.loads(value)
        except json.JSONDecodeError as exc:
            raise GlueLocationError(
                f"{what}: 'exclusions' must be a JSON list of glob patterns as a string, "
                f"e.g. '[\"**.txt\"]'; got {value!r} ({exc.msg})") from None
    if not isinstance(patterns, list) or not all(isinstance(p, str) for p in patterns):
        raise GlueLocationError(f"{what}: 'exclusions' must be a list of glob patterns, "
                                f"got {value!r}")
    return [glob_regex(p) for p in patterns]


@dataclass(frozen=True)
class Listed:
    """One file a read covers: its path, the root it was found under, its mtime (ns)."""

    path: str
    root: str
    mtime_ns: int


def list_files(paths: Iterable[str], *, recurse: bool,
               exclusions: list[re.Pattern[str]]) -> list[Listed]:
    """The data files under ``paths`` (local ones; each a file or a folder), in order:
    files directly in a folder, Hive-style ``key=value`` partition folders, and every
    subfolder with ``recurse``; files matching an exclusion (by path relative to its root,
    or absolute) are left out."""
    found: list[Listed] = []
    seen: set[str] = set()
    for root in paths:
        base = Path(root)
        files = [base] if base.is_file() else list(_walk(base, recurse))
        for file in files:
            full = str(file)
            rel = os.path.relpath(full, root) if file != base else file.name
            if full in seen or any(p.fullmatch(rel) or p.fullmatch(full) for p in exclusions):
                continue
            seen.add(full)
            found.append(Listed(full, root, file.stat().st_mtime_ns))
    return found


def as_paths(value: Any, what: str) -> list[str]:
    """``connection_options["paths"]``: a list of paths (a single string is accepted)."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, (list, tuple)) and value and all(isinstance(v, str) for v in value):
        return list(value)
    raise GlueLocationError(f"{what}: 'paths' must be a non-empty list of paths, e.g. "
                            f"connection_options={{'paths': [args['SOURCE_PATH']]}}; "
                            f"got {value!r}")
