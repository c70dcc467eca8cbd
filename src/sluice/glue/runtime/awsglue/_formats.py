"""Glue's data formats and their ``format_options`` on Spark's readers and writers.

Readers: csv, json, parquet, orc. Writers: the same plus ``glueparquet`` (Parquet here).
Glue's option names map onto Spark's (``separator`` -> ``sep``, ``withHeader`` -> ``header``,
``multiline`` -> ``multiLine``…); where Glue's defaults differ from Spark's, Glue's win:
a CSV without a header has columns ``col0, col1…``, quotes are escaped by doubling them
unless ``escaper`` is set, and a CSV is written with its header.
"""

from __future__ import annotations

import atexit
import os
import re
import shutil
import tempfile
from collections.abc import Mapping, Sequence
from typing import Any

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql.types import ArrayType, StructType

from ._support import unsupported

READ_FORMATS = ("csv", "json", "parquet", "orc")
WRITE_FORMATS = ("csv", "json", "parquet", "glueparquet", "orc")

#: Options Glue documents that change nothing in a local run (grouping, performance).
_IGNORED = frozenset({"optimizePerformance", "strictCheckForQuoting", "groupFiles",
                      "groupSize", "compressionType", "blockSize", "pageSize",
                      "useGlueParquetWriter", "attachFilename", "attachTimestamp"})
_CSV_READ = frozenset({"separator", "quoteChar", "escaper", "multiline", "multiLine",
                       "withHeader", "skipFirst", "writeHeader"})
_JSON_READ = frozenset({"jsonPath", "multiline", "multiLine"})


def _flag(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in ("true", "1", "yes")
    return bool(value)


def normal_format(fmt: Any, api: str, *, write: bool) -> str:
    """``fmt`` lower-cased and checked against what this runtime reads or writes."""
    name = str(fmt or "").lower()
    known = WRITE_FORMATS if write else READ_FORMATS
    if not name:
        raise ValueError(f"{api}: a format is required, one of {', '.join(known)}")
    if name not in known:
        raise unsupported(f"{api} with format {name!r}",
                          f"formats here: {', '.join(known)}")
    return name


def _check_options(options: Mapping[str, Any], allowed: frozenset[str], api: str,
                   fmt: str) -> None:
    for key in options:
        if key not in allowed and key not in _IGNORED:
            raise unsupported(f"{api}: format_options {key!r} for format {fmt!r}",
                              "supported: " + ", ".join(sorted(allowed)))


def _csv_quote_escape(options: Mapping[str, Any]) -> tuple[str, str]:
    quote = str(options.get("quoteChar", '"'))
    if quote == "-1":
        quote = ""  # Spark: an empty quote character turns quoting off
    escaper = options.get("escaper")
    # Glue's default (no escaper) reads "" inside quotes as one quote, as RFC 4180 does;
    # Spark does that when the escape character is the quote itself.
    escape = str(escaper) if escaper not in (None, "", "none") else (quote or "\\")
    return quote, escape


def _empty(spark: SparkSession, columns: Mapping[str, str] | None) -> DataFrame:
    if columns:
        ddl = ", ".join(f"`{name}` {kind}" for name, kind in columns.items())
        return spark.createDataFrame([], ddl)
    return spark.createDataFrame([], StructType([]))


def read(spark: SparkSession, paths: Sequence[str], fmt: str, format_options: Mapping[str, Any],
         *, base_path: str | None, partitions: Sequence[str], extra: Mapping[str, Any],
         api: str, columns: Mapping[str, str] | None = None,
         temp_dir: str | None = None) -> DataFrame:
    """The rows of ``paths`` (files, or remote prefixes) as ``fmt``, with the columns of
    Hive-style ``partitions`` folders under ``base_path``; an empty frame (with ``columns``
    as its schema when known) when there is nothing to read."""
    _check_options(format_options, _CSV_READ if fmt == "csv" else
                   _JSON_READ if fmt == "json" else frozenset(), api, fmt)
    if not paths:
        return _empty(spark, columns)
    reader = spark.read
    if base_path:
        reader = reader.option("basePath", base_path)
    if fmt == "csv":
        return _read_csv(spark, list(paths), format_options, partitions, base_path,
                         temp_dir, api)
    if fmt == "json":
        return _read_json(reader, list(paths), format_options, api)
    # parquet, orc: Glue passes Spark SQL options through connection_options
    for key, value in extra.items():
        reader = reader.option(key, value)
    return reader.format(fmt).load(list(paths))


def _without_first_lines(paths: list[str], base_path: str | None,
                         temp_dir: str | None) -> tuple[list[str], str | None]:
    """Copies of ``paths`` without their first line (Glue's ``skipFirst``), kept for the
    life of the process because Spark reads lazily; the same folders under a new base."""
    root = tempfile.mkdtemp(prefix="skipfirst-", dir=temp_dir if temp_dir and
                            os.path.isdir(temp_dir) else None)
    atexit.register(shutil.rmtree, root, True)
    copies = []
    for i, path in enumerate(paths):
        rel = os.path.relpath(path, base_path) if base_path else f"{i}-{os.path.basename(path)}"
        target = os.path.join(root, rel)
        os.makedirs(os.path.dirname(target), exist_ok=True)
        with open(path, "rb") as src, open(target, "wb") as dst:
            src.readline()
            shutil.copyfileobj(src, dst)
        copies.append(target)
    return copies, (root if base_path else None)


def _read_csv(spark: SparkSession, paths: list[str], options: Mapping[str, Any],
              partitions: Sequence[str], base_path: str | None, temp_dir: str | None,
              api: str) -> DataFrame:
    quote, escape = _csv_quote_escape(options)
    header = _flag(options.get("withHeader", False))
    if _flag(options.get("skipFirst", False)):
        paths, base_path = _without_first_lines(paths, base_path, temp_dir)
    multiline = _flag(options.get("multiLine", options.get("multiline", False)))
    reader = spark.read.option("basePath", base_path) if base_path else spark.read
    df: DataFrame = (reader.option("sep", str(options.get("separator", ",")))
                     .option("quote", quote).option("escape", escape)
                     .option("header", header).option("multiLine", multiline)
                     .option("inferSchema", True).csv(paths))
    if not header:
        # Glue names the columns of a header-less CSV col0, col1, …; Spark says _c0, _c1, …
        # and puts partition columns last.
        data = len(df.columns) - len([c for c in df.columns if c in partitions])
        df = df.toDF(*[f"col{i}" if i < data else name for i, name in enumerate(df.columns)])
    return df


_JSON_PATH = re.compile(r"^\$((?:\.[A-Za-z_][\w]*|\['[^']+'\])*)(\[\*\])?$")


def _read_json(reader: Any, paths: list[str], options: Mapping[str, Any], api: str) -> DataFrame:
    multiline = _flag(options.get("multiLine", options.get("multiline", False)))
    json_path = options.get("jsonPath")
    if json_path in (None, "", "$", "$[*]"):
        # "$[*]" names the elements of a top-level array: a document, not JSON lines
        df: DataFrame = reader.option("multiLine", multiline or json_path == "$[*]").json(paths)
        return df
    m = _JSON_PATH.match(str(json_path))
    if not m:
        raise unsupported(f"{api}: jsonPath {json_path!r}",
                          "supported: '$', '$[*]', '$.a.b' and '$.a.b[*]'")
    keys = re.findall(r"\.([A-Za-z_]\w*)|\['([^']+)'\]", m.group(1))
    df = reader.option("multiLine", True).json(paths)
    column = F.col(f"`{keys[0][0] or keys[0][1]}`")
    for plain, quoted in keys[1:]:
        column = column.getField(plain or quoted)
    picked = df.select(column.alias("_v"))
    kind = picked.schema["_v"].dataType
    if isinstance(kind, ArrayType):
        picked = picked.select(F.explode("_v").alias("_v"))
        kind = picked.schema["_v"].dataType
    if isinstance(kind, StructType):
        return picked.select("_v.*")
    return picked


_CSV_WRITE = frozenset({"separator", "quoteChar", "escaper", "writeHeader", "compression",
                        "withHeader", "multiline", "multiLine"})
_PARQUET_WRITE = frozenset({"compression"})


def write(df: DataFrame, path: str, fmt: str, *, partition_keys: Sequence[str],
          format_options: Mapping[str, Any], compression: Any, api: str) -> bool:
    """Append ``df`` to ``path`` as ``fmt`` (Glue writes in append mode), partitioned by
    ``partition_keys``; False when there was nothing to write (a frame without columns)."""
    if not df.columns:
        return False
    missing = [k for k in partition_keys if k not in df.columns]
    if missing:
        raise ValueError(f"{api}: partitionKeys {missing} are not columns of the frame "
                         f"(columns: {', '.join(df.columns)})")
    writer = df.write.mode("append")
    if partition_keys:
        writer = writer.partitionBy(*partition_keys)
    codec = format_options.get("compression", compression)
    if fmt == "csv":
        _check_options(format_options, _CSV_WRITE, api, fmt)
        quote, escape = _csv_quote_escape(format_options)
        writer = (writer.option("sep", str(format_options.get("separator", ",")))
                  .option("quote", quote).option("escape", escape)
                  .option("header", _flag(format_options.get("writeHeader", True))))
    else:
        _check_options(format_options, _PARQUET_WRITE, api, fmt)
    if codec not in (None, ""):
        writer = writer.option("compression", str(codec))
    writer.format("parquet" if fmt == "glueparquet" else fmt).save(path)
    return True
