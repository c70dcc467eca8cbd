"""The read and write paths every GlueContext call goes through.

A read: connection type and options checked, paths resolved (:mod:`._locations`), files
listed, the job bookmark applied, then Spark reads them (:mod:`._formats`). A write: the
path checked to lie in this run's outputs (or temp dir), Spark appends, and one line goes
to the run context's ``writes`` log so sluice reads the output back with the right format
and partition keys.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from pyspark.sql import DataFrame, SparkSession

from . import _formats
from ._bookmarks import Bookmarks
from ._errors import EntityNotFoundException, GlueLocationError
from ._locations import (
    Listed,
    Locations,
    as_paths,
    exclusion_patterns,
    is_remote,
    list_files,
)
from ._run import RunContext, Table
from ._support import unsupported

#: Connection types read and written here: S3 (and Glue's "file" for local paths);
#: "parquet"/"orc" are Glue's older spelling of S3 with that format.
FILE_CONNECTIONS = ("s3", "file")
FORMAT_CONNECTIONS = ("parquet", "orc")

#: S3 connection options that only tune Glue's S3 lister or grouping: accepted, no effect.
_S3_TUNING = frozenset({"groupFiles", "groupSize", "maxBand", "maxFilesInBand", "isFailFast",
                        "compressionType", "excludeStorageClasses", "useS3ListImplementation",
                        "boundedSize", "boundedFiles", "callSite", "jobBookmarkKeys",
                        "jobBookmarkKeysSortOrder", "enableSamplePath", "samplePath"})
_S3_READ = frozenset({"paths", "recurse", "exclusions", "catalogPartitionPredicate"})
_S3_WRITE = frozenset({"path", "partitionKeys", "compression", "enableUpdateCatalog",
                       "updateBehavior", "useFrameName", "callSite", "groupFiles",
                       "groupSize", "blockSize", "pageSize"})
_PARTITION = re.compile(r"^([^=/]+)=[^/]*$")


@dataclass
class Session:
    """What the read and write paths need from a GlueContext."""

    spark: SparkSession
    run: RunContext
    locations: Locations
    bookmarks: Bookmarks | None = None


def connection(connection_type: Any, fmt: Any, api: str) -> Any:
    """The format to use for ``connection_type`` (``format`` itself for s3/file)."""
    kind = str(connection_type or "").lower()
    if kind in FORMAT_CONNECTIONS:
        return fmt or kind
    if kind not in FILE_CONNECTIONS:
        raise unsupported(f"{api} with connection_type {connection_type!r}",
                          "only 's3' (files in the object store) is")
    return fmt


def _flag(value: Any) -> bool:
    return value.strip().lower() == "true" if isinstance(value, str) else bool(value)


def _partition_keys(path: str, root: str) -> tuple[str, ...]:
    parts = os.path.relpath(os.path.dirname(path), root).split(os.sep)
    return tuple(m.group(1) for m in map(_PARTITION.match, parts) if m)


def _layouts(listed: list[Listed]) -> list[list[Listed]]:
    """The files grouped by the partition keys of their folders. Spark silently drops the
    files of a folder that lack the partition folders others have, so each layout is read
    on its own and the frames are unioned (missing partition columns are null)."""
    groups: dict[tuple[str, ...], list[Listed]] = {}
    for f in listed:
        groups.setdefault(_partition_keys(f.path, f.root), []).append(f)
    return list(groups.values()) or [[]]


def read(session: Session, api: str, *, paths: list[str], fmt: Any,
         format_options: Mapping[str, Any], options: Mapping[str, Any],
         transformation_ctx: str, predicates: list[str], recurse: bool,
         columns: Mapping[str, str] | None = None) -> DataFrame:
    """The DataFrame of one read (see the module doc)."""
    name = _formats.normal_format(fmt, api, write=False)
    extra: dict[str, Any] = {}
    for key, value in options.items():
        if key in _S3_READ or key in _S3_TUNING:
            continue
        if name in ("parquet", "orc"):
            extra[key] = value  # Glue hands Spark SQL options through
        else:
            raise unsupported(f"{api}: connection_options {key!r}",
                              "S3 options here: " + ", ".join(sorted(_S3_READ)))
    resolved = [session.locations.resolve(p, f"{api} paths") for p in paths]
    local = [p for p in resolved if not is_remote(p)]
    exclusions = exclusion_patterns(options.get("exclusions"), api)
    listed = list_files(local, recurse=recurse or _flag(options.get("recurse", False)),
                        exclusions=exclusions)
    if session.bookmarks is not None:
        listed = session.bookmarks.select(transformation_ctx, listed)
    remote = [p for p in resolved if is_remote(p)]
    df: DataFrame | None = None
    for layout in _layouts(listed):
        roots = {f.root for f in layout}
        base = next(iter(roots)) if len(roots) == 1 and os.path.isdir(next(iter(roots))) \
            else None
        part = _formats.read(session.spark, [f.path for f in layout] + remote, name,
                             format_options, base_path=base,
                             partitions=list(_partition_keys(layout[0].path, layout[0].root))
                             if layout else [],
                             extra=extra, api=api, columns=columns,
                             temp_dir=session.run.temp_dir)
        remote = []
        df = part if df is None else df.unionByName(part, allowMissingColumns=True)
    assert df is not None
    for predicate in predicates:
        if predicate and df.columns:
            df = df.filter(predicate)
    return df


def source_paths(options: Mapping[str, Any], api: str) -> list[str]:
    if "paths" not in options:
        raise GlueLocationError(
            f"{api}: connection_options needs 'paths' (a list of S3 paths), e.g. "
            "connection_options={'paths': [args['SOURCE_PATH']]}")
    return as_paths(options["paths"], api)


def catalog_table(run: RunContext, database: str, table_name: str, api: str) -> tuple[str, Table]:
    """The run's table for a catalog read; a clear error for anything else."""
    if not (run.tables or run.outputs or run.job):
        raise EntityNotFoundException(
            f"{api}: table {database}.{table_name} cannot be resolved: there is no Data "
            "Catalog outside a sluice run (no $SLUICE_GLUE_CONTEXT); in a unit test read "
            "files with create_dynamic_frame.from_options, or run the job with sluice")
    name, table = run.table(database, table_name)
    if table is not None:
        return name, table
    if name in run.outputs:
        raise EntityNotFoundException(
            f"{api}: {name} is an output of job {run.job!r} and has no published version "
            "to read in this run")
    raise EntityNotFoundException(
        f"{api}: no table {table_name!r} in database {database!r} ({name}) for job "
        f"{run.job!r}; the tables it may read are its inputs: "
        f"{', '.join(sorted(run.tables)) or 'none'} (databases: "
        f"{', '.join(sorted(run.databases)) or 'none'}); add the dataset to the job's inputs")


def catalog_output(run: RunContext, database: str, table_name: str, api: str) -> tuple[str, str]:
    """``(qualified table, its output folder)`` for a catalog write."""
    if not (run.tables or run.outputs or run.job):
        raise EntityNotFoundException(
            f"{api}: table {database}.{table_name} cannot be resolved: there is no Data "
            "Catalog outside a sluice run (no $SLUICE_GLUE_CONTEXT)")
    name, table = run.table(database, table_name)
    if name in run.outputs:
        return name, run.outputs[name]
    outputs = ", ".join(sorted(run.outputs)) or "none"
    if table is not None:
        raise GlueLocationError(
            f"{api}: {name} is an input of job {run.job!r}, not one of its outputs "
            f"({outputs}); sluice publishes new versions of a job's outputs only: add it to "
            "the job's outputs in sluice.yaml")
    raise EntityNotFoundException(
        f"{api}: no table {table_name!r} in database {database!r} ({name}) among the "
        f"outputs of job {run.job!r} ({outputs})")


def write(session: Session, api: str, df: DataFrame, *, fmt: Any,
          options: Mapping[str, Any], format_options: Mapping[str, Any],
          table: str | None = None) -> None:
    """Append ``df`` where ``options['path']`` says and log the write (module doc)."""
    name = _formats.normal_format(fmt, api, write=True)
    for key in options:
        if key not in _S3_WRITE:
            raise unsupported(f"{api}: connection_options {key!r}",
                              "S3 sink options here: " + ", ".join(sorted(_S3_WRITE)))
    if not options.get("path"):
        raise GlueLocationError(
            f"{api}: connection_options needs 'path', e.g. "
            "connection_options={'path': args['OUTPUT_PATH']} with '--OUTPUT_PATH: "
            "${output:NAME}' in the job's arguments")
    path = session.locations.resolve(options["path"], f"{api} path")
    session.locations.check_writable(path, api)
    keys = options.get("partitionKeys") or []
    if isinstance(keys, str) or not all(isinstance(k, str) for k in keys):
        raise ValueError(f"{api}: partitionKeys must be a list of column names, got {keys!r}")
    owner = session.locations.output_of(path)
    if table and owner and table != owner:
        raise GlueLocationError(f"{api}: the catalog table {table} is not the output whose "
                                f"folder {path} is ({owner})")
    wrote = _formats.write(df, path, name, partition_keys=list(keys),
                           format_options=format_options,
                           compression=options.get("compression"), api=api)
    if not wrote and not is_remote(path):
        os.makedirs(path, exist_ok=True)  # an empty frame: the output exists, with no rows
    # a frame with no rows written partitioned leaves no file to read its columns from
    # (Spark writes none, as on Glue): the log keeps them, so the version is empty, not lost
    schema = _arrow_schema(df) if df.columns and not is_remote(path) \
        and not _has_data(path) else None
    log_write(session.run, path=path, fmt="parquet" if name == "glueparquet" else name,
              partition_keys=list(keys), table=table or owner, schema=schema,
              columns=len(df.columns))


def _has_data(folder: str) -> bool:
    """Whether ``folder`` holds a data file (not ``_SUCCESS``, ``.crc`` or other hidden ones)."""
    for _base, dirs, files in os.walk(folder):
        dirs[:] = [d for d in dirs if not d.startswith(("_", "."))]
        if any(not f.startswith(("_", ".")) for f in files):
            return True
    return False


def _arrow_schema(df: DataFrame) -> str | None:
    """The frame's columns as a serialized Arrow schema (base64), None when a type has no
    Arrow equivalent. Timestamps are microseconds without a zone: what the frame's files
    read back as (see ``sluice.deploy.glue_outputs.arrow_format``)."""
    import base64
    import inspect

    import pyarrow as pa

    try:
        from pyspark.sql.pandas.types import to_arrow_schema

        # PySpark 4 wants the session's zone for timestamps; 3.5 takes no such argument
        zone: dict[str, Any] = {"timezone": "UTC"} if "timezone" in inspect.signature(
            to_arrow_schema).parameters else {}
        schema = to_arrow_schema(df.schema, **zone)
    except Exception:  # a type Arrow cannot hold: the output then reads as not written
        return None
    schema = pa.schema([f.with_type(pa.timestamp("us")) if pa.types.is_timestamp(f.type) else f
                        for f in schema])
    return base64.b64encode(schema.serialize().to_pybytes()).decode("ascii")


def log_write(run: RunContext, *, path: str, fmt: str, partition_keys: list[str],
              table: str | None, schema: str | None = None,
              columns: int | None = None) -> None:
    """One JSON line in the run's ``writes`` log (nothing outside a sluice run)."""
    if not run.writes:
        return
    line = json.dumps({"path": path, "format": fmt, "partition_keys": partition_keys,
                       "table": table, "schema": schema, "columns": columns})
    with open(run.writes, "a", encoding="utf-8") as fh:
        fh.write(line + "\n")
