"""``${name}`` substitution and environment-variable overrides of parameters.

Rules, shared by ``sluice.yaml`` strings and SQL files:

- ``${name}`` is replaced by the parameter ``name``; names are ``[A-Za-z_][A-Za-z0-9_]*``.
- ``${env}`` is the environment's name and ``${project}`` the project's; both are reserved.
- ``$${name}`` is a literal ``${name}``; any other ``$`` is left alone.
- An unknown name, an invalid one or an unterminated ``${`` is an error at its line:column.
- In a glue job's ``arguments``, ``${input:NAME}`` and ``${output:NAME}`` stay as written:
  the run resolves them to locations (:mod:`sluice.glue.arguments`); elsewhere they are errors.

In ``sluice.yaml``, each environment's own section (target, parameters, protection) always
resolves against its own parameters; with a selected environment, every other string value
resolves against the selected one. Parameter values may use only ``${env}`` and ``${project}``.
Top-level keys (``project``) and mapping keys are never substituted.

Environment variables override parameters: ``SLUICE_ENV_<ENV>_<PARAM>`` (upper-cased, ``-``
→ ``_``), e.g. ``SLUICE_ENV_PROD_MIN_AMOUNT=10``. Only parameters declared in ``sluice.yaml``
are overridden, so a secret is declared with a placeholder (``db_password: ""``) and supplied
by the environment. Overriding values are used verbatim: they are never substituted.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from collections.abc import Set as AbstractSet
from typing import Any

from sluice.config.base import did_you_mean, unknown_environment
from sluice.config.yamlsource import YamlDocument, display_path, format_problems
from sluice.errors import ConfigError, Location

ENV_VAR_PREFIX = "SLUICE_ENV_"

_TOKEN = re.compile(r"\$\$\{|\$\{(?P<body>[^}\n]*)(?P<close>\})?")
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


class Unresolved(Exception):
    """A reference that cannot be substituted, at ``offset`` in the text (internal)."""

    def __init__(self, offset: int, message: str, name: str | None) -> None:
        super().__init__(message)
        self.offset = offset
        self.message = message
        self.name = name


_REFERENCE = re.compile(r"(?:input|output):[^}\s]*")


def _substitute(text: str, params: Mapping[str, str], *, references: bool = False) -> str:
    """``text`` with ``${name}`` replaced; with ``references``, ``${input:NAME}`` and
    ``${output:NAME}`` (a glue job's arguments, resolved when the job runs) stay as written."""
    if "$" not in text:
        return text

    def replace(m: re.Match[str]) -> str:
        if m.group(0) == "$${":
            return "${"
        body = m.group("body")
        if m.group("close") is None:
            raise Unresolved(m.start(), "unterminated '${' (missing '}')", None)
        if _REFERENCE.fullmatch(body):
            if references:
                return m.group(0)
            raise Unresolved(m.start(), f"'${{{body}}}' is resolved only in a glue job's "
                                        "arguments (jobs.<name>.arguments)", None)
        if not _NAME.fullmatch(body):
            raise Unresolved(m.start(), f"invalid parameter reference '${{{body}}}'", None)
        if body not in params:
            known = ", ".join(sorted(params)) or "none"
            raise Unresolved(
                m.start(),
                f"unknown parameter '${{{body}}}' (known: {known})" + did_you_mean(body, params),
                body,
            )
        return params[body]

    return _TOKEN.sub(replace, text)


def resolve(text: str, params: Mapping[str, str]) -> str:
    """``text`` with ``${name}`` replaced from ``params``; :class:`Unresolved` (its offset in
    ``text``, a message and the unknown name) where that fails. For callers that locate the
    problem themselves (a string inside a JSON document); others use :func:`substitute`."""
    return _substitute(text, params)


def unresolved_tip(name: str | None, defined_in: str) -> str:
    return _tip(name, defined_in)


def _tip(name: str | None, where: str) -> str:
    if name is None:
        return "write $${name} for a literal ${name}"
    return f"define {name!r} under {where}, or write $${{{name}}} for a literal '${{{name}}}'"


def substitute(text: str, params: Mapping[str, str], *, where: str,
               defined_in: str = "the environment's parameters in sluice.yaml") -> str:
    """Replace ``${name}`` in ``text`` (e.g. a SQL file) from ``params``.

    ``where`` names the text in errors (``jobs/orders.sql``); the error gives its line:column.
    Pass the environment's parameters plus ``env`` and ``project`` (see :func:`builtins`).
    """
    try:
        return _substitute(text, params)
    except Unresolved as exc:
        before = text[: exc.offset]
        line = before.count("\n") + 1
        column = exc.offset - (before.rfind("\n") + 1) + 1
        raise ConfigError(
            f"{Location(where, line, column)}: {exc.message}",
            tip=_tip(exc.name, defined_in),
        ) from None


def builtins(environment: str, project: str) -> dict[str, str]:
    """The reserved parameters every environment has."""
    return {"env": environment, "project": project}


def env_var_name(environment: str, parameter: str) -> str:
    """``SLUICE_ENV_<ENV>_<PARAM>`` for one parameter of one environment."""
    part = re.compile(r"[^A-Za-z0-9]")
    return (
        f"{ENV_VAR_PREFIX}{part.sub('_', environment).upper()}_{part.sub('_', parameter).upper()}"
    )


def walk_strings(
    data: Any, path: tuple[Any, ...], fn: Callable[[str, tuple[Any, ...]], str]
) -> Any:
    """A copy of ``data`` with every string value (not key) replaced by ``fn(value, path)``."""
    if isinstance(data, str):
        return fn(data, path)
    if isinstance(data, dict):
        return {k: walk_strings(v, (*path, k), fn) for k, v in data.items()}
    if isinstance(data, list):
        return [walk_strings(v, (*path, i), fn) for i, v in enumerate(data)]
    return data


def apply_overrides(
    data: dict[str, Any], environ: Mapping[str, str]
) -> tuple[dict[str, Any], set[tuple[str, str]]]:
    """Copy of raw config ``data`` with SLUICE_ENV_* overrides applied to declared parameters,
    and the (environment, parameter) pairs that were overridden."""
    done: set[tuple[str, str]] = set()
    envs = data.get("environments")
    if not isinstance(envs, dict):
        return data, done
    new_envs: dict[Any, Any] = {}
    for env, spec in envs.items():
        params = spec.get("parameters") if isinstance(spec, dict) else None
        if isinstance(params, dict):
            new = dict(params)
            for key in params:
                var = env_var_name(str(env), str(key))
                if var in environ:
                    new[key] = environ[var]
                    done.add((str(env), str(key)))
            spec = {**spec, "parameters": new}
        new_envs[env] = spec
    return {**data, "environments": new_envs}, done


def _text(value: Any) -> str | None:
    # Mirrors names.ParamValue, so ${x} pastes exactly what the validated model will hold.
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float | str):
        return str(value)
    return None


class _Collector:
    """Substitutes string values, collecting every unresolved reference with its location."""

    def __init__(self, doc: YamlDocument) -> None:
        self.doc = doc
        self.problems: list[tuple[Location, str]] = []
        self.tips: list[str] = []

    def sub(self, value: str, path: tuple[Any, ...], params: Mapping[str, str], env: str) -> str:
        try:
            return _substitute(value, params,
                               references=path[:1] == ("jobs",) and path[2:3] == ("arguments",))
        except Unresolved as exc:
            mark = self.doc.marks.get(path)
            loc = mark.at_offset(exc.offset) if mark else self.doc.locate(path)
            self.problems.append((loc, f"{display_path(path)}: {exc.message}"))
            self.tips.append(_tip(exc.name, f"environments.{env}.parameters"))
            return value


def _environment_section(
    env: str,
    spec: dict[Any, Any],
    project: str,
    overridden: AbstractSet[tuple[str, str]],
    c: _Collector,
) -> tuple[dict[Any, Any], dict[str, str]]:
    """One environment's section substituted with its own parameters, and those parameters."""
    fixed = builtins(env, project)
    raw = spec.get("parameters")
    params: dict[str, str] = {}
    for key, value in (raw if isinstance(raw, dict) else {}).items():
        text = _text(value)
        if text is None:
            continue  # validation reports the non-scalar value
        # SLUICE_ENV_* values are used verbatim: a secret may well contain '${'.
        if (env, str(key)) in overridden:
            params[str(key)] = text
        else:
            params[str(key)] = c.sub(text, ("environments", env, "parameters", key), fixed, env)
    params.update(fixed)

    def fn(value: str, path: tuple[Any, ...]) -> str:
        if path[2:3] == ("parameters",):
            return params.get(str(path[3]), value) if len(path) == 4 else value
        return c.sub(value, path, params, env)

    section: dict[Any, Any] = walk_strings(spec, ("environments", env), fn)
    return section, params


def substitute_document(
    data: dict[str, Any],
    doc: YamlDocument,
    environment: str | None,
    overridden: AbstractSet[tuple[str, str]] = frozenset(),
) -> dict[str, Any]:
    """Raw config ``data`` with ``${name}`` substituted (see the module docstring).

    Raises one ConfigError listing every unresolved reference at its line:column, or for an
    ``environment`` that the document does not define.
    """
    envs = data.get("environments")
    envs = envs if isinstance(envs, dict) else {}
    if environment is not None and environment not in envs:
        raise unknown_environment(environment, [str(e) for e in envs])
    project = data.get("project")
    project = project if isinstance(project, str) else ""
    c = _Collector(doc)
    new_envs: dict[Any, Any] = {}
    selected = builtins(environment or "", project)
    for env, spec in envs.items():
        if isinstance(env, str) and isinstance(spec, dict):
            spec, params = _environment_section(env, spec, project, overridden, c)
            if env == environment:
                selected = params
        new_envs[env] = spec
    result = dict(data)
    if "environments" in data:
        result["environments"] = new_envs
    if environment is not None:
        for key, value in data.items():
            if key not in ("project", "environments"):
                result[key] = walk_strings(
                    value, (key,), lambda v, p: c.sub(v, p, selected, environment)
                )
    if c.problems:
        raise ConfigError(format_problems(c.problems), tip=c.tips[0])
    return result
