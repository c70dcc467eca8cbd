"""The engine fixtures hand out working engines."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from pyspark.sql import SparkSession


@pytest.mark.postgres
def test_postgres_db_round_trip(postgres_db: str) -> None:
    import psycopg

    with psycopg.connect(postgres_db) as conn:
        conn.execute("CREATE TABLE t (id int PRIMARY KEY, name text NOT NULL)")
        conn.execute("INSERT INTO t VALUES (1, 'a'), (2, 'b'), (3, 'c')")
        rows = conn.execute("SELECT id, name FROM t ORDER BY id").fetchall()
        (dbname,) = conn.execute("SELECT current_database()").fetchone() or ("",)
    assert rows == [(1, "a"), (2, "b"), (3, "c")]
    assert postgres_db.startswith("postgresql://postgres@127.0.0.1:")
    assert postgres_db.endswith("/" + dbname)


@pytest.mark.postgres
def test_postgres_db_is_fresh_per_test(postgres_db: str, postgres_url: str) -> None:
    import psycopg

    assert postgres_db != postgres_url
    with psycopg.connect(postgres_db) as conn:
        tables = conn.execute(
            "SELECT count(*) FROM information_schema.tables WHERE table_schema = 'public'"
        ).fetchone()
        (version,) = conn.execute("SHOW server_version_num").fetchone() or ("0",)
    assert tables == (0,)
    assert int(version) >= 150000


@pytest.mark.spark
def test_spark_dataframe_count(spark: SparkSession) -> None:
    df = spark.createDataFrame([(1, "a"), (2, "b"), (3, None)], "id INT, name STRING")
    assert df.count() == 3
    assert df.where(df.name.isNotNull()).count() == 2


@pytest.mark.spark
def test_spark_sql_query(spark: SparkSession) -> None:
    spark.createDataFrame(
        [("x", 1), ("x", 2), ("y", 5)], "k STRING, v INT"
    ).createOrReplaceTempView("kv")
    rows = spark.sql("SELECT k, sum(v) AS s FROM kv GROUP BY k ORDER BY k").collect()
    assert [(r.k, r.s) for r in rows] == [("x", 3), ("y", 5)]
    assert spark.conf.get("spark.sql.session.timeZone") == "UTC"
    assert spark.conf.get("spark.sql.shuffle.partitions") == "2"
