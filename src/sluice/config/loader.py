"""Load ``sluice.yaml`` into a :class:`ProjectConfig`, with every problem at its line:column.

``load_project(root)`` parses the YAML keeping marks (:mod:`sluice.config.yamlsource`),
applies ``SLUICE_ENV_<ENV>_<PARAM>`` overrides and, for a given environment, ``${name}``
substitution (:mod:`sluice.config.substitution`), then validates. A pydantic
``ValidationError`` becomes one :class:`ConfigError` with one line per problem::

    sluice.yaml:12:7: jobs.orders.outptu: unknown key 'outptu'; did you mean 'output'?
"""

from __future__ import annotations

import difflib
import os
import re
import types
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Union, get_args, get_origin

from pydantic import BaseModel, ValidationError
from pydantic.fields import FieldInfo
from pydantic_core import ErrorDetails

from sluice import secrecy
from sluice.config.base import closest, did_you_mean
from sluice.config.models import ProjectConfig, PythonJob, SqlJob
from sluice.config.names import qualify
from sluice.config.substitution import apply_overrides, substitute, substitute_document
from sluice.config.yamlsource import YamlDocument, display_path, format_problems, parse_yaml
from sluice.errors import ConfigError, Location

CONFIG_FILE = "sluice.yaml"

__all__ = ["CONFIG_FILE", "check_files", "load_project", "read_config_document", "substitute"]


def read_config_document(root: Path | str) -> YamlDocument:
    """Parse ``root/sluice.yaml`` with marks; ConfigError if it is missing or not YAML."""
    root = Path(root)
    path = root / CONFIG_FILE
    if not path.is_file():
        raise ConfigError(f"no {CONFIG_FILE} in {root}", tip=f"sluice init {root}")
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        line = exc.object[: exc.start].count(b"\n") + 1
        raise ConfigError(f"{CONFIG_FILE}:{line}: not UTF-8 text ({exc.reason} at byte "
                          f"{exc.start})", tip=f"save {path} as UTF-8") from exc
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {exc.strerror}") from exc
    return parse_yaml(text, source=CONFIG_FILE)


def load_project(
    root: Path | str,
    *,
    environment: str | None = None,
    environ: Mapping[str, str] | None = None,
) -> ProjectConfig:
    """Read and validate ``root/sluice.yaml``.

    With ``environment``, string values get ``${name}`` replaced from that environment's
    parameters plus ``${env}`` and ``${project}``; without it nothing is substituted.
    ``SLUICE_ENV_<ENV>_<PARAM>`` variables in ``environ`` (default ``os.environ``) override
    declared parameters of every environment; their values and those of secret-looking
    parameters are registered as secrets (:mod:`sluice.secrecy`). Top-level keys starting
    with ``x-`` are ignored (a place for YAML anchors). Raises ConfigError for any problem.
    """
    root = Path(root)
    environ = os.environ if environ is None else environ
    # before anything can fail: an error message may already quote an override
    secrecy.register_environ(environ)
    doc = read_config_document(root)
    data = doc.data
    if data is None:
        raise ConfigError(f"{CONFIG_FILE} in {root} is empty", tip=f"sluice init {root}")
    if isinstance(data, dict):
        # Top-level `x-...` keys hold YAML anchors to reuse (as in docker-compose); not config.
        data = {k: v for k, v in data.items() if not str(k).startswith("x-")}
        data, overridden = apply_overrides(data, environ)
        data = substitute_document(data, doc, environment, overridden)
    try:
        config = ProjectConfig.model_validate(data)
    except ValidationError as exc:
        raise _located_error(exc.errors(include_url=False), doc, root) from exc
    # Secret-looking parameters of every environment: a deploy of one may print another's.
    secrecy.register_parameters(
        f"config:{root.resolve()}",
        {name: env.parameters for name, env in config.environments.items()})
    return config


# -- errors ----------------------------------------------------------------------------------


@dataclass
class _Site:
    path: tuple[Any, ...]  # the loc without union tags: keys as they appear in the YAML
    fields: list[str] | None  # field names of the model that holds the last path element
    tags: list[str] | None  # tags of the discriminated union the loc ends at


@dataclass
class _Union:
    members: list[type[BaseModel]]

    def tags(self) -> list[str]:
        return [str(a) for m in self.members for a in get_args(m.model_fields["type"].annotation)]


def _core(tp: Any) -> Any:
    """Strip Annotated and Optional; a discriminated union becomes a _Union."""
    while True:
        if isinstance(tp, _Union):
            return tp
        if get_origin(tp) is Annotated:
            inner, *meta = get_args(tp)
            if any(isinstance(m, FieldInfo) and m.discriminator for m in meta):
                return _Union(_models(inner))
            tp = inner
        elif get_origin(tp) in (Union, types.UnionType):
            args = [a for a in get_args(tp) if a is not type(None)]
            if len(args) != 1:
                return _Union(_models(tp))
            tp = args[0]
        else:
            return tp


def _models(tp: Any) -> list[type[BaseModel]]:
    args = get_args(tp) if get_origin(tp) in (Union, types.UnionType) else (tp,)
    return [a for a in args if isinstance(a, type) and issubclass(a, BaseModel)]


def _resolve(loc: Sequence[str | int]) -> _Site:
    pos: Any = ProjectConfig
    path: list[Any] = []
    fields: list[str] | None = None
    for part in loc:
        core = _core(pos)
        fields = None
        if isinstance(core, _Union):
            pos = next((m for m in core.members if part in _Union([m]).tags()), None)
            continue  # pydantic puts the tag in the loc; the YAML has no such key
        path.append(part)
        if isinstance(core, type) and issubclass(core, BaseModel):
            fields = list(core.model_fields)
            info = core.model_fields.get(str(part))
            if info is None:
                pos = None
            elif info.discriminator:
                pos = _Union(_models(info.annotation))
            else:
                pos = info.annotation
        elif get_origin(core) is dict:
            pos = get_args(core)[1]
        elif get_origin(core) is list:
            pos = get_args(core)[0]
        else:
            pos = None
    end = _core(pos)
    return _Site(tuple(path), fields, end.tags() if isinstance(end, _Union) else None)


def _kind(value: Any) -> str:
    if value is None:
        return "nothing (null)"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    return "a list" if isinstance(value, list) else "a mapping"


def _problem(err: ErrorDetails, doc: YamlDocument) -> tuple[Location, str]:
    loc = list(err["loc"])
    is_key = bool(loc) and loc[-1] == "[key]"
    site = _resolve(loc[:-1] if is_key else loc)
    path, kind = site.path, err["type"]
    msg = err["msg"]
    if kind == "extra_forbidden":
        key = str(path[-1])
        allowed = site.fields or []
        hint = did_you_mean(key, allowed) or f" (allowed: {', '.join(allowed)})"
        return doc.locate(path, key=True), f"{display_path(path)}: unknown key {key!r}{hint}"
    if kind == "missing":
        parent = path[:-1]
        where = doc.locate(parent, key=True)
        return where, f"{display_path(parent)}: missing required key {path[-1]!r}"
    tags = ", ".join(site.tags or [])
    if kind == "union_tag_not_found":
        return doc.locate(path, key=True), f"{display_path(path)}: missing 'type' (one of: {tags})"
    if kind == "union_tag_invalid":
        tag = str((err.get("ctx") or {}).get("tag"))
        text = f"unknown type {tag!r}; expected one of: {tags}" + did_you_mean(tag, site.tags or [])
        return doc.locate((*path, "type")), f"{display_path(path)}: {text}"
    if kind == "literal_error":
        expected = str((err.get("ctx") or {}).get("expected", ""))
        hint = did_you_mean(str(err["input"]), re.findall(r"'([^']*)'", expected))
        msg = f"{err['input']!r} is not allowed; expected {expected}{hint}"
    elif kind in ("model_type", "model_attributes_type", "dict_type"):
        msg = f"expected a mapping (key: value), got {_kind(err['input'])}"
    elif kind in ("list_type", "string_type"):
        msg = f"expected a {kind[:-5]}, got {_kind(err['input'])}"
    elif kind == "too_short":
        n = int((err.get("ctx") or {}).get("min_length", 1))
        msg = f"must have at least {n} item{'s' if n != 1 else ''}"
    elif kind == "value_error":
        msg = msg.removeprefix("Value error, ")
    elif kind != "sluice_config":
        msg = msg.replace("Input should be", "must be")
    return doc.locate(path, key=is_key), f"{display_path(path)}: {msg}"


def _typo_targets(errors: list[ErrorDetails]) -> set[tuple[Any, ...]]:
    """Paths of required keys that an unknown key right beside them is probably a typo of."""
    out = set()
    for err in errors:
        if err["type"] == "extra_forbidden":
            site = _resolve(err["loc"])
            match = closest(str(site.path[-1]), site.fields or [])
            if match is not None:
                out.add((*site.path[:-1], match))
    return out


def _located_error(errors: list[ErrorDetails], doc: YamlDocument, root: Path) -> ConfigError:
    # `tpye: BIGINT` is reported once, as a typo of `type`, not also as `type` missing.
    typos = _typo_targets(errors)
    problems = [
        _problem(err, doc)
        for err in errors
        if not (err["type"] == "missing" and _resolve(err["loc"]).path in typos)
    ]
    return ConfigError(
        format_problems(problems),
        tip=f"fix {root / CONFIG_FILE} at the line:column above",
    )


# -- referenced files ------------------------------------------------------------------------


def _references(config: ProjectConfig, doc: YamlDocument | None) -> list[tuple[Any, str]]:
    raw = doc.data if doc is not None and isinstance(doc.data, dict) else {}
    declared = raw.get("datasets") if isinstance(raw.get("datasets"), dict) else {}
    # Dataset keys are qualified in the model; point at the key as written in the file.
    as_written = {qualify(str(k)): k for k in declared or {}}
    refs: list[tuple[Any, str]] = []
    for name, job in config.jobs.items():
        if isinstance(job, SqlJob):
            refs.append((("jobs", name, "sql"), job.sql))
        elif isinstance(job, PythonJob):
            refs.append((("jobs", name, "function"), job.function_path))
        else:
            refs.append((("jobs", name, "script"), job.script))
    for name, dataset in config.datasets.items():
        if dataset.rules is not None:
            refs.append((("datasets", as_written.get(name, name), "rules"), dataset.rules))
    refs += [(("workflows", n, "definition"), w.definition) for n, w in config.workflows.items()]
    refs += [(("stacks", n, "template"), s.template) for n, s in config.stacks.items()
             if s.template is not None]
    return refs


def _function_problems(root: Path, name: str, code: str,
                       handler: str) -> list[tuple[Any, str]]:
    """A function's ``code`` (a file or a folder) exists and holds its handler's module: as
    Lambda imports ``module.attribute`` from the package root."""
    target = root / code
    at = ("functions", name)
    if not target.exists():
        return [((*at, "code"), _file_problem(root, code) or f"file not found: {code!r}")]
    if not target.resolve().is_relative_to(root.resolve()):
        return [((*at, "code"), f"{code!r} resolves outside the project (through a symlink)")]
    module, _, attribute = handler.rpartition(".")
    if not module or not attribute:
        return [((*at, "handler"), f"handler {handler!r} is not module.function "
                                   "(e.g. app.handler)")]
    if target.is_file():
        if module != target.stem:
            return [((*at, "handler"), f"handler {handler!r} names module {module!r}, but "
                                       f"the code is the one file {code!r} (module "
                                       f"{target.stem!r}): write {target.stem}.{attribute}")]
        return []
    base = target / module.replace(".", "/")
    if not (base.with_suffix(".py").is_file() or (base / "__init__.py").is_file()):
        return [((*at, "handler"), f"handler {handler!r}: no module {module!r} in {code!r} "
                                   f"(expected {Path(code) / (module.replace('.', '/') + '.py')})")]
    return []


def _file_problem(root: Path, rel: str) -> str | None:
    target = root / rel
    if target.exists():
        # A symlink inside the project may point anywhere; the lexical check cannot see it.
        if not target.resolve().is_relative_to(root.resolve()):
            return f"{rel!r} resolves outside the project (through a symlink)"
        return _text_problem(target, rel) if target.is_file() else f"{rel!r} is not a file"
    hint = ""
    if target.parent.is_dir():
        siblings = [p.name for p in target.parent.iterdir()]
        close = difflib.get_close_matches(target.name, siblings, n=1, cutoff=0.6)
        if close:
            hint = f"; did you mean {str(Path(rel).parent / close[0])!r}?"
    return f"file not found: {rel!r}{hint}"


def _text_problem(path: Path, rel: str) -> str | None:
    """Jobs and rules are text: a file that is not UTF-8, or holds a NUL byte (a binary
    file under a .sql name), is refused here rather than failing later in a parser."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        return f"cannot read {rel!r}: {exc.strerror}"
    nul = data.find(b"\0")
    if nul >= 0:
        nul_line = data.count(b"\n", 0, nul) + 1
        return f"{rel}:{nul_line}: a NUL byte (is this a binary file?)"
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        return f"{rel}:{line}: not UTF-8 text ({exc.reason} at byte {exc.start})"
    return None


def check_files(config: ProjectConfig, root: Path | str) -> None:
    """Check that files the config references exist inside ``root``: SQL files, Python
    function files, PySpark scripts and quality rules. Raises one ConfigError listing
    each missing file at the ``sluice.yaml`` line:column that references it.
    """
    root = Path(root)
    doc = read_config_document(root) if (root / CONFIG_FILE).is_file() else None
    problems: list[tuple[Location, str]] = []
    found = [(path, _file_problem(root, rel)) for path, rel in _references(config, doc)]
    found += [(path, text) for name, fn in config.functions.items()
              for path, text in _function_problems(root, name, fn.code, fn.handler)]
    for path, text in found:
        if text is not None:
            loc = doc.locate(path) if doc is not None else Location(CONFIG_FILE, 1, 1)
            problems.append((loc, f"{display_path(path)}: {text}"))
    if problems:
        raise ConfigError(
            format_problems(problems),
            tip=f"create the missing files or fix the paths (relative to {root})",
        )
