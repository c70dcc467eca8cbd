"""Spark SQL on PySpark (local mode here; any session in production)."""

from __future__ import annotations

import shutil
from typing import Any

from sluice.engines.base import Column, DataRef, Engine, family_of
from sluice.errors import DataSourceError, EngineError, EngineUnavailableError


class SparkEngine(Engine):
    name = "spark"
    dialect = "spark"

    def __init__(self, session: Any = None, master: str = "local[2]") -> None:
        if session is None:
            session = _local_session(master)
        self.spark = session
        self._owns = False

    def register(self, alias: str, data: DataRef) -> None:
        from pyspark.errors import AnalysisException

        reader = self.spark.read
        try:
            if data.kind == "table":
                df = self.spark.table(data.location)
            elif data.kind == "csv":
                df = reader.csv(data.location, header=True, inferSchema=True)
            elif data.kind == "json":
                df = reader.json(data.location)
            else:
                df = reader.parquet(data.location)
        except AnalysisException as exc:
            raise DataSourceError(
                f"Spark cannot read {data.kind} {data.location}: {str(exc).splitlines()[0]}"
            ) from exc
        df.createOrReplaceTempView(alias)

    def columns(self, alias: str) -> list[Column]:
        df = self.spark.table(alias)
        return [Column(n, t, family_of(t, self.dialect)) for n, t in df.dtypes]

    def fetch(self, sql: str) -> tuple[list[str], list[tuple[Any, ...]]]:
        from pyspark.errors import PySparkException

        try:
            df = self.spark.sql(sql)
            rows = df.collect()
        except PySparkException as exc:
            raise EngineError(
                f"Spark failed: {str(exc).splitlines()[0]}\n  SQL: {sql}"
            ) from exc
        return list(df.columns), [tuple(r) for r in rows]


def _local_session(master: str) -> Any:
    try:
        from pyspark.sql import SparkSession
    except ImportError as exc:
        raise EngineUnavailableError(
            "the spark engine needs PySpark", tip="pip install 'sluice-cd[spark]'"
        ) from exc
    if shutil.which("java") is None:
        raise EngineUnavailableError(
            "PySpark needs Java (17 or newer) and no `java` is on PATH",
            tip="install a JDK, e.g. apt-get install openjdk-17-jre-headless, or set JAVA_HOME",
        )
    return (
        SparkSession.builder.master(master)
        .appName("sluice")
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.ui.enabled", "false")
        .config("spark.sql.shuffle.partitions", "4")
        .getOrCreate()
    )
