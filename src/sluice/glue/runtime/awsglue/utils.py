"""``awsglue.utils``: ``getResolvedOptions``, the way a Glue script reads its job arguments.

Parsing follows Glue's own rules, because it uses the same machinery (:mod:`argparse`):

- every option the script names is required, given as ``--NAME VALUE`` or ``--NAME=VALUE``;
  an option given twice keeps its last value; arguments the script does not name are
  ignored (Glue passes many of its own); ``-`` in a name becomes ``_`` in the result's key;
- Glue's reserved options (``--job-bookmark-option``, ``--continuation-option``,
  ``--job-bookmark-from``/``-to``, ``--JOB_ID``, ``--JOB_RUN_ID``,
  ``--SECURITY_CONFIGURATION``, ``--encryption-type``) are always parsed and may not be named;
  ``job_bookmark_option`` is always in the result (``job-bookmark-disable`` by default);
- ``TempDir`` and ``RedshiftTempDir`` are optional even when named, and each fills the other.

A bad command line raises :class:`GlueArgumentError` with argparse's message (never
``SystemExit``); naming a reserved option raises ``RuntimeError``, as awsglue does.
Unlike Glue's parser this one has no ``-h``/``--help``, which would exit the job.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from typing import Any, NoReturn

from . import _options as opt

__all__ = ["GlueArgumentError", "GlueArgumentParser", "getResolvedOptions"]

#: Every option resolved in this process so far (awsglue keeps the same module global).
_global_args: dict[str, Any] = {}


class GlueArgumentError(Exception):
    """The job's command line does not give what the script asked for."""


class GlueArgumentParser(argparse.ArgumentParser):
    """An ``ArgumentParser`` that raises :class:`GlueArgumentError` instead of exiting."""

    def error(self, message: str) -> NoReturn:
        raise GlueArgumentError(message)

    def exit(self, status: int = 0, message: str | None = None) -> NoReturn:
        raise GlueArgumentError(message or f"argument parsing stopped (status {status})")


def _reserved(name: str) -> RuntimeError:
    return RuntimeError(f"Using reserved arguments {name}")


def _check_not_reserved(options: Sequence[str]) -> None:
    for name in (opt.CONTINUATION, opt.BOOKMARK, *opt.BOOKMARK_RANGE, *opt.ID_PARAMS[1:],
                 opt.ENCRYPTION):
        if name[2:] in options:
            raise _reserved(name)


def _parser(options: Sequence[str]) -> GlueArgumentParser:
    parser = GlueArgumentParser(add_help=False)
    parser.add_argument(opt.BOOKMARK, choices=opt.BOOKMARK_CHOICES, required=False)
    parser.add_argument(opt.CONTINUATION, choices=opt.CONTINUATION_CHOICES, required=False)
    for name in (*opt.BOOKMARK_RANGE, *opt.ID_PARAMS[1:]):
        parser.add_argument(name, required=False)
    parser.add_argument(opt.ENCRYPTION, choices=opt.ENCRYPTION_CHOICES, required=False)
    for name in opt.TEMP_DIRS:
        parser.add_argument(f"--{name}", required=False)
    for name in options:
        if name not in opt.TEMP_DIRS:
            parser.add_argument(f"--{name}", required=True)
    return parser


def _bookmark_option(parsed: dict[str, Any]) -> str:
    """``--job-bookmark-option`` if given, else the translated ``--continuation-option``."""
    continuation = parsed.pop("continuation_option", None)
    if parsed.get("job_bookmark_option") is not None:
        return str(parsed["job_bookmark_option"])
    if continuation is None:
        return opt.BOOKMARK_DISABLE
    return opt.BOOKMARK_CHOICES[opt.CONTINUATION_CHOICES.index(continuation)]


def _check_bookmark_range(parsed: dict[str, Any]) -> None:
    absent = [name for name in opt.BOOKMARK_RANGE
              if parsed.get(name[2:].replace("-", "_")) is None]
    if parsed["job_bookmark_option"] == opt.BOOKMARK_PAUSE:
        if len(absent) == 1:
            raise RuntimeError(f"Missing option or value for {absent[0]}")
    elif not absent:
        raise RuntimeError("Invalid option(s) " + " ".join(opt.BOOKMARK_RANGE))


def getResolvedOptions(args: Sequence[str], options: Sequence[str]) -> dict[str, Any]:
    """The job arguments in ``args`` (``sys.argv``: the script, then ``--NAME VALUE``
    pairs), with each of ``options`` (names without ``--``) required; see the module doc."""
    if isinstance(options, str):
        raise TypeError("options must be a list of argument names, e.g. ['JOB_NAME']")
    options = list(options)
    _check_not_reserved(options)
    parsed_ns, _extra = _parser(options).parse_known_args(list(args[1:]))
    parsed: dict[str, Any] = vars(parsed_ns)
    if parsed.get("TempDir") is not None:
        parsed["RedshiftTempDir"] = parsed["TempDir"]
    elif parsed.get("RedshiftTempDir") is not None:
        parsed["TempDir"] = parsed["RedshiftTempDir"]
    parsed["job_bookmark_option"] = _bookmark_option(parsed)
    _check_bookmark_range(parsed)
    _global_args.update(parsed)
    return parsed
