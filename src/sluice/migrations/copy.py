"""Redshift's ``COPY t FROM 's3://…' IAM_ROLE … FORMAT AS PARQUET|CSV`` on a local engine.

The S3 location must lie in an environment's object store as sluice lays it out on AWS
(``s3://<bucket>/<prefix>/envs/<env>/objects/<path>``, where sources are loaded): on a local
engine the same ``<path>`` is read from the environment's ``objects/`` folder (in ``sluice
check``, from the sample data). DuckDB reads the files itself (``INSERT INTO t SELECT * FROM
read_parquet(…)``); PostgreSQL gets them through DuckDB and ``COPY … FROM STDIN``. Like
Redshift's, the load is by column position, and an S3 prefix means every object under it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import sqlglot
from sqlglot import exp
from sqlglot.errors import SqlglotError
from sqlglot.tokenizer_core import TokenType

_STORE = re.compile(r"^s3://[^/]+/(?:.+/)?envs/[^/]+/objects/(?P<rel>.*)$")
#: options about credentials and the cluster, meaningless locally: (name, takes a value)
_IGNORED = {"IAM_ROLE": True, "CREDENTIALS": True, "ACCESS_KEY_ID": True,
            "SECRET_ACCESS_KEY": True, "SESSION_TOKEN": True, "REGION": True,
            "COMPUPDATE": True, "STATUPDATE": True, "MAXERROR": True, "EMPTYASNULL": False,
            "BLANKSASNULL": False}
GUIDANCE = ("COPY from a path in an environment's object store (s3://BUCKET/PREFIX/envs/ENV/"
            "objects/PATH, where `sluice load` puts a declared source's files), or mark the "
            "script `-- sluice: engine=redshift` to run it on Redshift only")


class CopyError(ValueError):
    """Why a COPY cannot run on the local engine (the message is a problem's text)."""


@dataclass(frozen=True)
class Load:
    """A COPY as a load: rows of ``select`` (DuckDB SQL over the files) into ``table``."""

    table: str  # in the engine's dialect
    columns: tuple[str, ...]
    select: str  # DuckDB SQL reading the files


@dataclass(frozen=True)
class Spec:
    table: exp.Table
    columns: tuple[str, ...]
    url: str
    fmt: str  # parquet, csv
    header: int  # lines to skip (IGNOREHEADER)
    delimiter: str | None


def parse(text: str) -> Spec:
    """The parts of a Redshift COPY that a local load needs; CopyError for the rest."""
    try:
        tokens = sqlglot.Dialect.get_or_raise("redshift").tokenize(text)
    except SqlglotError as exc:
        raise CopyError(f"COPY does not parse: {exc}") from exc
    i, n = 1, len(tokens)
    start = i
    while i < n and tokens[i].token_type not in (TokenType.L_PAREN, TokenType.FROM):
        i += 1
    try:
        table = exp.to_table(" ".join(t.text for t in tokens[start:i]), dialect="redshift")
    except SqlglotError as exc:
        raise CopyError(f"COPY into what? {exc}") from exc
    columns: list[str] = []
    if i < n and tokens[i].token_type == TokenType.L_PAREN:
        i += 1
        while i < n and tokens[i].token_type != TokenType.R_PAREN:
            if tokens[i].token_type != TokenType.COMMA:
                columns.append(tokens[i].text)
            i += 1
        i += 1
    if i + 1 >= n or tokens[i].token_type != TokenType.FROM or \
            tokens[i + 1].token_type != TokenType.STRING:
        raise CopyError("COPY … FROM 's3://…' expected")
    url = tokens[i + 1].text
    i += 2
    fmt, header, delimiter = "", 0, None
    while i < n:
        word = tokens[i].text.upper()
        i += 1
        if i < n and tokens[i].text.upper() == "AS":
            i += 1
        if word in _IGNORED:
            i += 1 if _IGNORED[word] else 0
        elif word == "FORMAT":
            fmt, i = tokens[i].text.lower() if i < n else "", i + 1
        elif word in ("CSV", "PARQUET", "JSON", "AVRO", "ORC"):
            fmt = word.lower()
        elif word == "IGNOREHEADER" and i < n:
            header, i = int(tokens[i].text), i + 1
        elif word == "DELIMITER" and i < n:
            delimiter, i = tokens[i].text, i + 1
        else:
            raise CopyError(f"COPY option {word} has no local equivalent")
    if fmt not in ("parquet", "csv") and not (fmt == "" and delimiter):
        raise CopyError(f"COPY FORMAT {fmt.upper() or '(text)'} has no local equivalent "
                        "(PARQUET and CSV have)")
    return Spec(table, tuple(columns), url, fmt or "csv", header, delimiter)


def files(url: str, objects: Path | None) -> list[Path]:
    """The local files that stand for an S3 location: every object under the key prefix."""
    m = _STORE.match(url)
    if m is None:
        raise CopyError(f"COPY from {url}: not in an environment's object store")
    if objects is None:
        raise CopyError(f"COPY from {url}: no object store here to read it from")
    root = objects.resolve()
    target = (root / m["rel"]).resolve() if m["rel"] else root
    if not target.is_relative_to(root):
        raise CopyError(f"COPY from {url}: the path leaves the object store")
    if target.is_dir():
        found = [p for p in target.rglob("*") if p.is_file()]
    else:
        found = [p for p in target.parent.glob(target.name + "*") if p.is_file()] \
            if target.parent.is_dir() else []
    found = sorted(p for p in found if not p.name.startswith((".", "_")))  # _SUCCESS, .crc
    if not found:
        raise CopyError(f"COPY from {url}: no file under {m['rel'] or '/'} in the object "
                        f"store ({objects})")
    return found


def load(text: str, engine: str, objects: Path | None) -> tuple[str, Load | None]:
    """The statement to run (DuckDB) or to show (PostgreSQL, with its Load)."""
    spec = parse(text)
    paths = exp.Array(expressions=[exp.Literal.string(str(p)) for p in files(spec.url,
                                                                              objects)])
    if spec.fmt == "parquet":
        reader = exp.func("read_parquet", paths)
    else:
        args: list[exp.Expr] = [paths, _kw("header", exp.false()), _kw("skip",
                                exp.Literal.number(spec.header)),
                                _kw("all_varchar", exp.true())]
        if spec.delimiter is not None:
            args.append(_kw("delim", exp.Literal.string(spec.delimiter)))
        reader = exp.Anonymous(this="read_csv", expressions=args)
    select = exp.select("*").from_(reader).sql("duckdb")
    table = spec.table.sql(engine)
    cols = f" ({', '.join(spec.columns)})" if spec.columns else ""
    if engine == "duckdb":
        return f"INSERT INTO {table}{cols} {select}", None
    return (f"COPY {table}{cols} FROM STDIN (FORMAT csv) -- {spec.fmt} from {spec.url}",
            Load(table, spec.columns, select))


def _kw(name: str, value: exp.Expr) -> exp.Expr:
    return exp.PropertyEQ(this=exp.to_identifier(name), expression=value)
