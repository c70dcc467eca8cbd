"""``awsglue.dynamicframe``: DynamicFrame and DynamicFrameCollection over Spark DataFrames.

A DynamicFrame here wraps a :class:`pyspark.sql.DataFrame` (Glue's wraps a JVM object): the
reader and writer of :mod:`.context` build frames with :meth:`DynamicFrame.fromDF` and take
them apart with :meth:`DynamicFrame.toDF`.
"""

from __future__ import annotations

from typing import Any


class DynamicFrame:
    """A named frame of records; ``glue_ctx`` is the GlueContext that made it."""

    def __init__(self, df: Any, glue_ctx: Any, name: str = "") -> None:
        self._df = df
        self.glue_ctx = glue_ctx
        self.name = name

    @staticmethod
    def fromDF(dataframe: Any, glue_ctx: Any, name: str = "") -> DynamicFrame:
        return DynamicFrame(dataframe, glue_ctx, name)

    def toDF(self, options: Any = None) -> Any:
        return self._df

    def count(self) -> int:
        return int(self._df.count())
