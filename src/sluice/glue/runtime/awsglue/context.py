"""``awsglue.context``: GlueContext on PySpark local mode, with its readers and writers.

``GlueContext(SparkContext.getOrCreate())`` wraps the process's SparkSession. Reads and
writes go to files (connection type ``s3``; locally the paths are folders of sluice's object
store, given to the script as job arguments) or through the run's catalog: ``(database,
table_name)`` resolves to the job's inputs and outputs as the run context describes them
(:mod:`._run`). What is supported and where it differs from Glue: docs/glue.md, section 3.
"""

from __future__ import annotations

import logging
import os
import re
import sys
import time
from collections.abc import Mapping
from typing import Any

from pyspark import SparkContext
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql.types import StructType

from . import _io, _run
from ._errors import EntityNotFoundException, GlueLocationError
from ._locations import Locations, is_remote
from ._support import unsupported
from .dynamicframe import DynamicFrame

__all__ = ["DataFrameReader", "DataFrameWriter", "DataSink", "DataSource", "DynamicFrameReader",
           "DynamicFrameWriter", "GlueContext", "GlueLogger"]

#: GlueContext methods of awsglue that this runtime does not implement.
_UNSUPPORTED = frozenset({
    "write_dynamic_frame_from_jdbc_conf", "write_from_jdbc_conf", "extract_jdbc_conf",
    "transition_table", "transition_s3_path", "forEachBatch", "add_ingestion_time_columns",
    "begin_transaction", "commit_transaction", "abort_transaction", "getStreamingSource",
    "create_sample_dynamic_frame_from_catalog", "create_sample_dynamic_frame_from_options",
    "convert_resolve_option", "get_catalog_schema_as_spark_schema_with_id",
})


def _database(database: str | None, kwargs: dict[str, Any]) -> str:
    """Glue's ``database`` / ``name_space`` rule, with its messages."""
    if database is not None and "name_space" in kwargs:
        raise Exception("Parameter name_space and database are both specified, choose one.")
    if database is None and "name_space" not in kwargs:
        raise Exception("Parameter name_space or database is missing.")
    return str(kwargs.pop("name_space")) if database is None else str(database)


def _table_name(table_name: str | None) -> str:
    if table_name is None:
        raise Exception("Parameter table_name is missing.")
    return str(table_name)


def _frame_name(paths: list[str]) -> str:
    """A frame's name from what it reads (its first path's last part), as Glue names one."""
    last = os.path.basename(paths[0].rstrip("/")) if paths else ""
    return re.sub(r"[^\w]", "_", last) or "frame"


def _check_frame(frame: Any) -> DynamicFrame:
    if isinstance(frame, DynamicFrame):
        return frame
    if type(frame).__name__ == "DynamicFrameCollection":
        raise unsupported("writing a DynamicFrameCollection",
                          "write each frame: collection.select(name)")
    raise TypeError("frame_or_dfc must be DynamicFrame or DynamicFrameCollection. Got "
                    + str(type(frame)))


class _Stderr(logging.Handler):
    """Lines on whatever ``sys.stderr`` is when a record is logged (the job's log)."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            sys.stderr.write(self.format(record) + "\n")
        except Exception:
            self.handleError(record)


class GlueLogger:
    """``glueContext.get_logger()``: info/warn/error lines on the job's stderr."""

    def __init__(self, name: str = "awsglue") -> None:
        self._log = logging.getLogger(name)
        if not self._log.handlers:
            handler = _Stderr()
            handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
            self._log.addHandler(handler)
            self._log.setLevel(logging.INFO)
            self._log.propagate = False

    def info(self, message: Any) -> None:
        self._log.info(str(message))

    def warn(self, message: Any) -> None:
        self._log.warning(str(message))

    warning = warn

    def error(self, message: Any) -> None:
        self._log.error(str(message))

    def debug(self, message: Any) -> None:
        self._log.debug(str(message))


class GlueContext:
    """A Glue context over the process's SparkSession (``**options`` such as
    ``minPartitions`` are accepted and have no effect locally)."""

    Spark_SQL_Formats = frozenset({"parquet", "orc"})

    def __init__(self, sparkContext: SparkContext, **options: Any) -> None:
        self._sc = sparkContext
        active = SparkSession.getActiveSession()
        self.spark_session: SparkSession = active or SparkSession.builder.getOrCreate()
        self._run = _run.load()
        self._session = _io.Session(self.spark_session, self._run, Locations(self._run))
        self._glue_logger = GlueLogger()
        self.create_dynamic_frame = DynamicFrameReader(self)
        self.create_data_frame = DataFrameReader(self)
        self.write_dynamic_frame = DynamicFrameWriter(self)
        self.write_data_frame = DataFrameWriter(self)

    # -- what SQLContext gave Glue's context ---------------------------------------------

    @property
    def sparkSession(self) -> SparkSession:
        return self.spark_session

    @property
    def _bookmarks(self) -> Any:
        return self._session.bookmarks

    @_bookmarks.setter
    def _bookmarks(self, value: Any) -> None:
        self._session.bookmarks = value

    def sql(self, query: str) -> DataFrame:
        return self.spark_session.sql(query)

    def table(self, name: str) -> DataFrame:
        return self.spark_session.table(name)

    def createDataFrame(self, *args: Any, **kwargs: Any) -> DataFrame:
        return self.spark_session.createDataFrame(*args, **kwargs)

    @property
    def read(self) -> Any:
        return self.spark_session.read

    def getConf(self, key: str, default: str | None = None) -> str | None:
        return self.spark_session.conf.get(key, default)

    def setConf(self, key: str, value: str) -> None:
        self.spark_session.conf.set(key, value)

    def __getattr__(self, name: str) -> Any:
        if name in _UNSUPPORTED:
            raise unsupported(f"GlueContext.{name}")
        raise AttributeError(f"'GlueContext' object has no attribute {name!r}")

    def get_logger(self) -> GlueLogger:
        return self._glue_logger

    # -- reads ---------------------------------------------------------------------------

    def _read_options(self, api: str, connection_type: Any, connection_options: Any,
                      format: Any, format_options: Any, transformation_ctx: str,
                      push_down_predicate: str) -> tuple[DataFrame, str]:
        options = dict(connection_options or {})
        fmt = _io.connection(connection_type, format, api)
        paths = _io.source_paths(options, api)
        df = _io.read(self._session, api, paths=paths, fmt=fmt,
                      format_options=dict(format_options or {}), options=options,
                      transformation_ctx=transformation_ctx or "",
                      predicates=[push_down_predicate or ""], recurse=False)
        return df, _frame_name(paths)

    def _read_catalog(self, api: str, database: str, table_name: str,
                      transformation_ctx: str, push_down_predicate: str,
                      additional_options: Any) -> DataFrame:
        _name, table = _io.catalog_table(self._run, database, table_name, api)
        extra = dict(additional_options or {})
        options = {k: extra[k] for k in ("exclusions",) if k in extra}
        return _io.read(self._session, api, paths=[table.path], fmt=table.format,
                        format_options=table.options, options=options,
                        transformation_ctx=transformation_ctx or "",
                        predicates=[push_down_predicate or "",
                                    str(extra.get("catalogPartitionPredicate") or "")],
                        recurse=True, columns=table.columns)

    def create_dynamic_frame_from_options(self, connection_type: str,
                                          connection_options: Mapping[str, Any] | None = None,
                                          format: str | None = None,
                                          format_options: Mapping[str, Any] | None = None,
                                          transformation_ctx: str = "",
                                          push_down_predicate: str = "",
                                          **kwargs: Any) -> DynamicFrame:
        df, name = self._read_options("create_dynamic_frame.from_options", connection_type,
                                      connection_options, format, format_options,
                                      transformation_ctx, push_down_predicate)
        return DynamicFrame.fromDF(df, self, name)

    def create_dynamic_frame_from_catalog(self, database: str | None = None,
                                          table_name: str | None = None,
                                          redshift_tmp_dir: str = "",
                                          transformation_ctx: str = "",
                                          push_down_predicate: str = "",
                                          additional_options: Mapping[str, Any] | None = None,
                                          catalog_id: str | None = None,
                                          **kwargs: Any) -> DynamicFrame:
        db, name = _database(database, kwargs), _table_name(table_name)
        df = self._read_catalog("create_dynamic_frame.from_catalog", db, name,
                                transformation_ctx, push_down_predicate, additional_options)
        return DynamicFrame.fromDF(df, self, name)

    def create_dynamic_frame_from_rdd(self, data: Any, name: str, schema: Any = None,
                                      sample_ratio: float | None = None,
                                      transformation_ctx: str = "") -> DynamicFrame:
        df = self.spark_session.createDataFrame(data, schema, sample_ratio)
        return DynamicFrame.fromDF(df, self, name)

    def create_data_frame_from_options(self, connection_type: str,
                                       connection_options: Mapping[str, Any] | None = None,
                                       format: str | None = None,
                                       format_options: Mapping[str, Any] | None = None,
                                       transformation_ctx: str = "",
                                       push_down_predicate: str = "",
                                       **kwargs: Any) -> DataFrame:
        df, _name = self._read_options("create_data_frame.from_options", connection_type,
                                       connection_options, format, format_options,
                                       transformation_ctx, push_down_predicate)
        return df

    def create_data_frame_from_catalog(self, database: str | None = None,
                                       table_name: str | None = None,
                                       redshift_tmp_dir: str = "",
                                       transformation_ctx: str = "",
                                       push_down_predicate: str = "",
                                       additional_options: Mapping[str, Any] | None = None,
                                       catalog_id: str | None = None,
                                       **kwargs: Any) -> DataFrame:
        db, name = _database(database, kwargs), _table_name(table_name)
        return self._read_catalog("create_data_frame.from_catalog", db, name,
                                  transformation_ctx, push_down_predicate, additional_options)

    def getSource(self, connection_type: str, format: str | None = None,
                  transformation_ctx: str = "", push_down_predicate: str = "",
                  **options: Any) -> DataSource:
        return DataSource(self, connection_type, format, transformation_ctx,
                          push_down_predicate, options)

    # -- the catalog ---------------------------------------------------------------------

    def catalog_columns(self, database: str, table_name: str) -> dict[str, str]:
        """The Spark SQL column types of a catalog table of this run (for
        ``resolveChoice(choice="match_catalog")``)."""
        name, table = _io.catalog_table(self._run, database, table_name,
                                        "GlueContext.catalog_columns")
        if not table.columns:
            raise EntityNotFoundException(
                f"the column types of {name} are not known in this run; give the dataset a "
                "contract (its columns and types) in sluice.yaml")
        return dict(table.columns)

    def get_catalog_schema_as_spark_schema(self, database: str | None = None,
                                           table_name: str | None = None,
                                           catalog_id: str | None = None) -> StructType:
        columns = self.catalog_columns(str(database), _table_name(table_name))
        ddl = ", ".join(f"`{name}` {kind}" for name, kind in columns.items())
        schema = StructType.fromDDL(ddl)
        assert isinstance(schema, StructType)
        return schema

    # -- writes --------------------------------------------------------------------------

    def getSink(self, connection_type: str, format: str | None = None,
                transformation_ctx: str = "", **options: Any) -> DataSink:
        return DataSink(self, connection_type, format, options)

    def write_dynamic_frame_from_options(self, frame: Any, connection_type: str,
                                         connection_options: Mapping[str, Any] | None = None,
                                         format: str | None = None,
                                         format_options: Mapping[str, Any] | None = None,
                                         transformation_ctx: str = "") -> DynamicFrame:
        return self.write_from_options(frame, connection_type, connection_options, format,
                                       format_options, transformation_ctx)

    def write_from_options(self, frame_or_dfc: Any, connection_type: str,
                           connection_options: Mapping[str, Any] | None = None,
                           format: str | None = None,
                           format_options: Mapping[str, Any] | None = None,
                           transformation_ctx: str = "", **kwargs: Any) -> DynamicFrame:
        frame = _check_frame(frame_or_dfc)
        api = "write_dynamic_frame.from_options"
        fmt = _io.connection(connection_type, format, api)
        _io.write(self._session, api, frame.toDF(), fmt=fmt,
                  options=dict(connection_options or {}),
                  format_options=dict(format_options or {}))
        return frame

    def write_dynamic_frame_from_catalog(self, frame: Any, database: str | None = None,
                                         table_name: str | None = None,
                                         redshift_tmp_dir: str = "",
                                         transformation_ctx: str = "",
                                         additional_options: Mapping[str, Any] | None = None,
                                         catalog_id: str | None = None,
                                         **kwargs: Any) -> DynamicFrame:
        checked = _check_frame(frame)
        api = "write_dynamic_frame.from_catalog"
        db, name = _database(database, kwargs), _table_name(table_name)
        table, folder = _io.catalog_output(self._run, db, name, api)
        extra = dict(additional_options or {})
        options: dict[str, Any] = {"path": folder}
        options.update({k: extra[k] for k in ("partitionKeys", "compression") if k in extra})
        _io.write(self._session, api, checked.toDF(), fmt="parquet", options=options,
                  format_options={}, table=table)
        return checked

    def write_data_frame_from_catalog(self, frame: DataFrame, database: str | None = None,
                                      table_name: str | None = None,
                                      redshift_tmp_dir: str = "",
                                      transformation_ctx: str = "",
                                      additional_options: Mapping[str, Any] | None = None,
                                      catalog_id: str | None = None,
                                      **kwargs: Any) -> None:
        if not isinstance(frame, DataFrame):
            raise TypeError(f"frame must be a DataFrame. Got {type(frame)}")
        self.write_dynamic_frame_from_catalog(
            DynamicFrame.fromDF(frame, self, str(table_name)), database, table_name,
            redshift_tmp_dir, transformation_ctx, additional_options, catalog_id, **kwargs)

    # -- housekeeping --------------------------------------------------------------------

    def purge_s3_path(self, s3_path: str, options: Mapping[str, Any] | None = None,
                      transformation_ctx: str = "") -> None:
        """Delete the files under ``s3_path`` older than ``retentionPeriod`` hours (168 by
        default, as in Glue); only inside this run's outputs and temp dir."""
        api = "purge_s3_path"
        opts = dict(options or {})
        for key in opts:
            if key not in ("retentionPeriod", "excludeStorageClasses"):
                raise unsupported(f"{api} option {key!r}", "supported: retentionPeriod")
        path = self._session.locations.resolve(s3_path, api)
        if is_remote(path):
            raise GlueLocationError(f"{api}: {path} cannot be purged in a local run")
        self._session.locations.check_writable(path, api)
        cutoff = time.time() - float(opts.get("retentionPeriod", 168)) * 3600
        for folder, _dirs, files in os.walk(path, topdown=False):
            for file in files:
                full = os.path.join(folder, file)
                if os.path.getmtime(full) <= cutoff:
                    os.remove(full)
            if folder != path and not os.listdir(folder):
                os.rmdir(folder)

    def purge_table(self, database: str, table_name: str,
                    options: Mapping[str, Any] | None = None, transformation_ctx: str = "",
                    catalog_id: str | None = None) -> None:
        """``purge_s3_path`` of an output table's folder (the version being written)."""
        opts = dict(options or {})
        if opts.get("partitionPredicate"):
            raise unsupported("purge_table option 'partitionPredicate'")
        _table, folder = _io.catalog_output(self._run, database, table_name, "purge_table")
        self.purge_s3_path(folder, opts, transformation_ctx)


class DynamicFrameReader:
    """``glueContext.create_dynamic_frame``."""

    def __init__(self, glue_context: GlueContext) -> None:
        self._glue_context = glue_context

    def from_options(self, connection_type: str,
                     connection_options: Mapping[str, Any] | None = None,
                     format: str | None = None, format_options: Mapping[str, Any] | None = None,
                     transformation_ctx: str = "", push_down_predicate: str = "",
                     **kwargs: Any) -> DynamicFrame:
        return self._glue_context.create_dynamic_frame_from_options(
            connection_type, connection_options, format, format_options, transformation_ctx,
            push_down_predicate, **kwargs)

    def from_catalog(self, database: str | None = None, table_name: str | None = None,
                     redshift_tmp_dir: str = "", transformation_ctx: str = "",
                     push_down_predicate: str = "",
                     additional_options: Mapping[str, Any] | None = None,
                     catalog_id: str | None = None, **kwargs: Any) -> DynamicFrame:
        return self._glue_context.create_dynamic_frame_from_catalog(
            database, table_name, redshift_tmp_dir, transformation_ctx, push_down_predicate,
            additional_options, catalog_id, **kwargs)

    def from_rdd(self, data: Any, name: str, schema: Any = None,
                 sampleRatio: float | None = None) -> DynamicFrame:
        return self._glue_context.create_dynamic_frame_from_rdd(data, name, schema,
                                                                sampleRatio)


class DataFrameReader:
    """``glueContext.create_data_frame``: the same reads, as Spark DataFrames."""

    def __init__(self, glue_context: GlueContext) -> None:
        self._glue_context = glue_context

    def from_options(self, connection_type: str,
                     connection_options: Mapping[str, Any] | None = None,
                     format: str | None = None, format_options: Mapping[str, Any] | None = None,
                     transformation_ctx: str = "", push_down_predicate: str = "",
                     **kwargs: Any) -> DataFrame:
        return self._glue_context.create_data_frame_from_options(
            connection_type, connection_options, format, format_options, transformation_ctx,
            push_down_predicate, **kwargs)

    def from_catalog(self, database: str | None = None, table_name: str | None = None,
                     redshift_tmp_dir: str = "", transformation_ctx: str = "",
                     push_down_predicate: str = "",
                     additional_options: Mapping[str, Any] | None = None,
                     catalog_id: str | None = None, **kwargs: Any) -> DataFrame:
        return self._glue_context.create_data_frame_from_catalog(
            database, table_name, redshift_tmp_dir, transformation_ctx, push_down_predicate,
            additional_options, catalog_id, **kwargs)


class DynamicFrameWriter:
    """``glueContext.write_dynamic_frame``."""

    def __init__(self, glue_context: GlueContext) -> None:
        self._glue_context = glue_context

    def from_options(self, frame: Any, connection_type: str,
                     connection_options: Mapping[str, Any] | None = None,
                     format: str | None = None, format_options: Mapping[str, Any] | None = None,
                     transformation_ctx: str = "") -> DynamicFrame:
        return self._glue_context.write_dynamic_frame_from_options(
            frame, connection_type, connection_options, format, format_options,
            transformation_ctx)

    def from_catalog(self, frame: Any, database: str | None = None,
                     table_name: str | None = None, redshift_tmp_dir: str = "",
                     transformation_ctx: str = "",
                     additional_options: Mapping[str, Any] | None = None,
                     catalog_id: str | None = None, **kwargs: Any) -> DynamicFrame:
        return self._glue_context.write_dynamic_frame_from_catalog(
            frame, database, table_name, redshift_tmp_dir, transformation_ctx,
            additional_options, catalog_id, **kwargs)

    def from_jdbc_conf(self, *args: Any, **kwargs: Any) -> DynamicFrame:
        raise unsupported("write_dynamic_frame.from_jdbc_conf", "JDBC connections")


class DataFrameWriter:
    """``glueContext.write_data_frame``: catalog writes of Spark DataFrames."""

    def __init__(self, glue_context: GlueContext) -> None:
        self._glue_context = glue_context

    def from_catalog(self, frame: DataFrame, database: str | None = None,
                     table_name: str | None = None, redshift_tmp_dir: str = "",
                     transformation_ctx: str = "",
                     additional_options: Mapping[str, Any] | None = None,
                     catalog_id: str | None = None, **kwargs: Any) -> None:
        self._glue_context.write_data_frame_from_catalog(
            frame, database, table_name, redshift_tmp_dir, transformation_ctx,
            additional_options, catalog_id, **kwargs)


class DataSource:
    """``glueContext.getSource(...)``: ``setFormat`` then ``getFrame``."""

    def __init__(self, glue_context: GlueContext, connection_type: str, format: str | None,
                 transformation_ctx: str, push_down_predicate: str,
                 options: dict[str, Any]) -> None:
        self._glue_context = glue_context
        self._connection_type = connection_type
        self._format = format
        self._format_options: dict[str, Any] = {}
        self._ctx = transformation_ctx
        self._predicate = push_down_predicate
        self._options = options

    def setFormat(self, format: str, **options: Any) -> None:
        self._format, self._format_options = format, options

    def getFrame(self, **kwargs: Any) -> DynamicFrame:
        return self._glue_context.create_dynamic_frame_from_options(
            self._connection_type, self._options, self._format, self._format_options,
            self._ctx, self._predicate)


class DataSink:
    """``glueContext.getSink(...)``: ``setFormat``, ``setCatalogInfo``, ``writeFrame``."""

    def __init__(self, glue_context: GlueContext, connection_type: str, format: str | None,
                 options: dict[str, Any]) -> None:
        self._glue_context = glue_context
        self._connection_type = connection_type
        self._format = format
        self._format_options: dict[str, Any] = {}
        self._options = options
        self._catalog: tuple[str, str] | None = None

    def setFormat(self, format: str, **options: Any) -> None:
        self._format, self._format_options = format, options

    def setCatalogInfo(self, catalogDatabase: str, catalogTableName: str,
                       catalogId: str = "") -> None:
        self._catalog = (catalogDatabase, catalogTableName)

    def setAccumulableSize(self, size: int) -> None:
        """Error accounting size: no effect locally."""

    def writeFrame(self, dynamic_frame: Any, info: str = "") -> DynamicFrame:
        frame = _check_frame(dynamic_frame)
        api = "DataSink.writeFrame"
        ctx = self._glue_context
        options = dict(self._options)
        table: str | None = None
        if self._catalog is not None:
            table, folder = _io.catalog_output(ctx._run, *self._catalog, api)
            options.setdefault("path", folder)
        fmt = _io.connection(self._connection_type, self._format, api)
        _io.write(ctx._session, api, frame.toDF(), fmt=fmt or "parquet", options=options,
                  format_options=self._format_options, table=table)
        return frame

    def write(self, dynamic_frame_or_dfc: Any, info: str = "") -> DynamicFrame:
        return self.writeFrame(dynamic_frame_or_dfc, info)
