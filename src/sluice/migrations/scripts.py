"""Migration scripts named the Flyway way, and their Flyway checksums.

``V<version>__<description>.sql`` (versions such as ``1``, ``1.1``, ``2.0.3``; ``_`` also
separates version parts), ``U<version>__<description>.sql`` undoes a version,
``R__<description>.sql`` is re-applied after the versioned ones whenever its checksum
changes. Descriptions are the name's words (``add_orders`` → ``add orders``).

A script's header (its comment lines before the first statement) may hold
``-- sluice: engine=postgres`` (or ``duckdb``, ``redshift``, comma-separated) to run on those
engines only, ``-- sluice: verbatim`` to skip translation from the project's dialect, and
``-- sluice: no-transaction`` to run it statement by statement outside a transaction (for
the statements Redshift refuses inside one).
"""

from __future__ import annotations

import re
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from sluice.errors import ConfigError

FOLDER = "migrations"  # where a project (and a release) keeps its migration scripts
Kind = Literal["versioned", "undo", "repeatable"]
_NAME = re.compile(r"^(?P<prefix>[VU])(?P<version>\d+(?:[._]\d+)*)__(?P<desc>.+)\.sql$|"
                   r"^R__(?P<rdesc>.+)\.sql$")
_LINES = re.compile(r"\r\n|\r|\n")
_DIRECTIVE = re.compile(r"^\s*--\s*sluice:\s*(?P<body>.*)$", re.IGNORECASE)


def flyway_checksum(data: bytes) -> int:
    """Flyway's checksum: CRC32 updated with each line's UTF-8 bytes, without line
    terminators (``\\n``, ``\\r\\n`` or ``\\r``), a leading BOM removed; as a signed int32."""
    text = data.decode("utf-8")
    if text.startswith("\ufeff"):
        text = text[1:]
    lines = _LINES.split(text)
    if lines and lines[-1] == "" and len(lines) > 1:
        lines.pop()  # a terminator at the end starts no line (Java's readLine)
    crc = 0
    for line in lines if text else []:
        crc = zlib.crc32(line.encode("utf-8"), crc)
    return crc - (1 << 32) if crc >= 1 << 31 else crc


def version_key(version: str) -> tuple[int, ...]:
    """``2.0.3`` → (2, 0, 3), trailing zeros dropped so that ``1.0`` equals ``1``."""
    parts = [int(p) for p in re.split(r"[._]", version)]
    while len(parts) > 1 and parts[-1] == 0:
        parts.pop()
    return tuple(parts)


@dataclass(frozen=True)
class Script:
    kind: Kind
    version: str | None  # as Flyway writes it: dots, e.g. "1.1"; None for repeatables
    description: str
    name: str  # file name, the `script` column of the history
    path: Path
    checksum: int
    engines: frozenset[str] = field(default_factory=frozenset)  # empty: every engine
    verbatim: bool = False
    no_transaction: bool = False  # `-- sluice: no-transaction`: autocommit, one by one

    @property
    def key(self) -> tuple[int, ...]:
        return version_key(self.version) if self.version is not None else ()

    def runs_on(self, engine: str) -> bool:
        return not self.engines or engine in self.engines

    def text(self) -> str:
        text = self.path.read_bytes().decode("utf-8")
        return text[1:] if text.startswith("\ufeff") else text


@dataclass
class Scripts:
    versioned: list[Script]  # ordered by version
    undo: dict[tuple[int, ...], Script]
    repeatable: list[Script]  # ordered by description

    def all(self) -> list[Script]:
        return [*self.versioned, *self.undo.values(), *self.repeatable]


def load_scripts(folder: Path, *, where: str = FOLDER) -> Scripts:
    """Every migration in ``folder`` (none when it does not exist). Raises ConfigError listing
    each badly named file and each version defined twice."""
    problems: list[str] = []
    versioned: dict[tuple[int, ...], Script] = {}
    undo: dict[tuple[int, ...], Script] = {}
    repeatable: list[Script] = []
    files = sorted(p for p in folder.rglob("*") if p.is_file()) if folder.is_dir() else []
    for path in files:
        rel = f"{where}/{path.relative_to(folder).as_posix()}"
        m = _NAME.match(path.name)
        if m is None:
            if path.suffix == ".sql":
                problems.append(f"{rel}: not a migration name (V1__what.sql, U1__what.sql, "
                                "R__what.sql)")
            continue
        data = path.read_bytes()
        try:
            checksum = flyway_checksum(data)
        except UnicodeDecodeError as exc:
            line = data.count(b"\n", 0, exc.start) + 1
            problems.append(f"{rel}:{line}: not UTF-8 text ({exc.reason} at byte {exc.start})")
            continue
        try:
            engines, verbatim, no_transaction = _directives(data.decode("utf-8"))
        except ValueError as exc:
            problems.append(f"{rel}:{exc}")
            continue
        if m["rdesc"] is not None:
            repeatable.append(Script("repeatable", None, _words(m["rdesc"]), path.name, path,
                                     checksum, engines, verbatim, no_transaction))
            continue
        version = m["version"].replace("_", ".")
        kind: Kind = "versioned" if m["prefix"] == "V" else "undo"
        script = Script(kind, version, _words(m["desc"]), path.name, path, checksum, engines,
                        verbatim, no_transaction)
        into = versioned if kind == "versioned" else undo
        if script.key in into:
            problems.append(f"{rel}: version {version} is also defined by "
                            f"{into[script.key].name}")
            continue
        into[script.key] = script
    for key, u in undo.items():
        if key not in versioned:
            problems.append(f"{where}/{u.name}: undoes version {u.version}, which no V script "
                            "defines")
    if problems:
        raise ConfigError("\n".join(problems),
                          tip="name migrations V<version>__<description>.sql (Flyway style), "
                              "in UTF-8, with only the directives docs/migrations.md lists")
    return Scripts([versioned[k] for k in sorted(versioned)], undo,
                   sorted(repeatable, key=lambda s: s.description))


def _words(name: str) -> str:
    return name.replace("_", " ")


#: Engines a migration session runs on (``Session.engine``).
ENGINES = frozenset({"duckdb", "postgres", "redshift"})


def _directives(text: str) -> tuple[frozenset[str], bool, bool]:
    """The ``-- sluice:`` directives of the script's header: the comment and blank lines
    before its first statement, however many. A misspelt one would silently run the script
    everywhere, so anything unknown raises ValueError("<line>: <problem>")."""
    engines: set[str] = set()
    verbatim = no_transaction = False
    for number, line in enumerate(text.splitlines(), 1):
        if line.strip() and not line.lstrip().startswith("--"):
            break  # the first statement ends the header
        m = _DIRECTIVE.match(line)
        if not m:
            continue
        for part in m["body"].split():
            key, _, value = part.partition("=")
            if key.lower() == "engine":
                named = {v.strip().lower() for v in value.split(",") if v.strip()}
                unknown = sorted(named - ENGINES)
                if unknown or not named:
                    raise ValueError(f"{number}: unknown engine {', '.join(unknown) or '(none)'}"
                                     f" in the sluice directive (known: "
                                     f"{', '.join(sorted(ENGINES))})")
                engines |= named
            elif key.lower() == "verbatim":
                verbatim = True
            elif key.lower() == "no-transaction" and not value:
                no_transaction = True
            else:
                raise ValueError(f"{number}: unknown sluice directive {part!r} (known: "
                                 "engine=…, verbatim, no-transaction)")
    return frozenset(engines), verbatim, no_transaction
