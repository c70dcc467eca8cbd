"""``awsglue.dynamicframe``: DynamicFrame and DynamicFrameCollection over Spark DataFrames.

A DynamicFrame here wraps a :class:`pyspark.sql.DataFrame` (Glue's wraps a JVM object): the
reader and writer of :mod:`.context` build frames with :meth:`DynamicFrame.fromDF` and take
them apart with :meth:`DynamicFrame.toDF`. Every transform returns a new frame over a new
DataFrame, so Spark plans the whole chain at once; only ``map``, ``filter`` and
``relationalize`` run Python per record or fix intermediate results. Where the semantics
differ from Glue's (choice types above all): docs/glue.md, section 3.

The signatures are Glue's, including the ``transformation_ctx``, ``info``,
``stageThreshold`` and ``totalThreshold`` arguments. This runtime keeps no per-transform
state, so ``transformation_ctx`` and ``info`` are accepted and unused; error records arise
only in Map and Filter (a function that raises), so only their thresholds are checked, by
``assertErrorThreshold()``.
"""

from __future__ import annotations

import sys
import warnings
from collections.abc import Callable, Iterator
from typing import Any

from . import _choice, _paths, _records, _relational
from . import gluetypes as _gt
from ._support import unsupported

__all__ = ["DynamicFrame", "DynamicFrameCollection", "ErrorThresholdExceeded", "ResolveOption"]


def _ship_by_value() -> None:
    """Spark's workers unpickle the per-record code; pickled by value, it needs no
    ``awsglue`` on their ``sys.path``."""
    from pyspark import cloudpickle

    cloudpickle.register_pickle_by_value(sys.modules[_records.__name__])  # type: ignore[no-untyped-call]


_ship_by_value()


def _as_list(paths: Any) -> list[str]:
    return [paths] if isinstance(paths, str) else [str(p) for p in paths]


class ErrorThresholdExceeded(Exception):
    """More error records than a transform's ``stageThreshold``/``totalThreshold`` allow."""


class ResolveOption:
    """How ``toDF(options)`` resolves a choice: action ``Project`` or ``Cast`` (with a
    target type) or ``KeepAsStruct``."""

    def __init__(self, path: str, action: str, target: Any = None) -> None:
        self.path = path
        self.action = action
        self.target = target


class DynamicFrame:
    """A named frame of records; ``glue_ctx`` is the GlueContext that made it."""

    def __init__(self, df: Any, glue_ctx: Any, name: str = "") -> None:
        self._df = df
        self.glue_ctx = glue_ctx
        self.name = name
        # Error records: how to count this transform's (map, filter), the frames it came
        # from, and the thresholds the transform was given.
        self._stage_errors: Callable[[], int] | None = None
        self._upstream: tuple[DynamicFrame, ...] = ()
        self._thresholds = (0, 0)
        self._counted: dict[str, int] = {}

    # ------------------------------------------------------------------ DataFrames

    @staticmethod
    def fromDF(dataframe: Any, glue_ctx: Any, name: str = "") -> DynamicFrame:
        return DynamicFrame(dataframe, glue_ctx, name)

    def toDF(self, options: Any = None) -> Any:
        """The DataFrame; ``options`` (ResolveOptions) resolve choices on the way."""
        if not options:
            return self._df
        specs = []
        for opt in options:
            action = str(opt.action).lower()
            if action == "keepasstruct":
                specs.append((opt.path, "make_struct"))
            elif action in ("project", "cast"):
                if opt.target is None:
                    raise ValueError(f"Missing target type for resolve action {opt.action}.")
                target = (opt.target.simpleString() if hasattr(opt.target, "simpleString")
                          else str(opt.target))
                specs.append((opt.path, f"{action}:{target}"))
            else:
                raise ValueError(f"toDF: unknown resolve action {opt.action!r}")
        return self.resolveChoice(specs=specs).toDF()

    def _new(self, df: Any, name: str | None = None) -> DynamicFrame:
        frame = DynamicFrame(df, self.glue_ctx, self.name if name is None else name)
        frame._upstream = (self,)
        return frame

    # ------------------------------------------------------------------ looking at it

    def count(self) -> int:
        return int(self._df.count())

    def schema(self) -> _gt.StructType:
        """Glue's schema type (:mod:`.gluetypes`) of the frame."""
        result = _gt.from_spark(self._df.schema)
        assert isinstance(result, _gt.StructType)
        return result

    def printSchema(self) -> None:
        """The schema in Glue's layout (no nullability, ``|--`` at the margin)."""
        print(schema_tree(self.schema()))

    def show(self, num_rows: int = 20) -> None:
        """The first ``num_rows`` records, one JSON object a line, as Glue prints them."""
        from pyspark.sql import functions as F

        rows = self._df.limit(int(num_rows)).select(F.to_json(F.struct("*")).alias("j"))
        for row in rows.collect():
            print(row["j"])

    def getNumPartitions(self) -> int:
        return int(self._df.rdd.getNumPartitions())

    def stageErrorsCount(self) -> int:
        """The error records of the transform that made this frame: records a Map or Filter
        function raised on (or, for Map, returned no record for); 0 for other transforms.
        Counting runs the function over the input again."""
        if "stage" not in self._counted:
            self._counted["stage"] = self._stage_errors() if self._stage_errors else 0
        return self._counted["stage"]

    def errorsCount(self) -> int:
        """The error records of every transform up to this frame."""
        return self.stageErrorsCount() + sum(u.errorsCount() for u in self._upstream)

    def assertErrorThreshold(self) -> None:
        """Raises when the transform's ``stageThreshold`` or ``totalThreshold`` (0: none) is
        exceeded."""
        stage, total = self._thresholds
        if stage and self.stageErrorsCount() > stage:
            raise ErrorThresholdExceeded(
                f"{self.stageErrorsCount()} error records in the last transform, more than "
                f"its stageThreshold {stage}")
        if total and self.errorsCount() > total:
            raise ErrorThresholdExceeded(
                f"{self.errorsCount()} error records in all, more than totalThreshold {total}")

    def errorsAsDynamicFrame(self) -> DynamicFrame:
        return self._new(self._df.sparkSession.createDataFrame([], "error string"))

    # ------------------------------------------------------------------ fields

    def apply_mapping(self, mappings: Any, case_sensitive: bool = False,
                      transformation_ctx: str = "", info: str = "", stageThreshold: int = 0,
                      totalThreshold: int = 0) -> DynamicFrame:
        """Only the mapped fields, each cast to its target type at its target path.

        A mapping is ``(source, source_type, target, target_type)`` (or ``(source, target,
        type)`` / ``(source, target)``); paths may be nested (``a.b``), back-ticks quote a
        name with a dot. A source that is not in the frame yields nothing, as in Glue.
        Casts are Spark's ``try_cast``: a value that cannot be converted becomes null.
        """
        from pyspark.sql import functions as F

        if isinstance(mappings, tuple):
            mappings = [mappings]
        schema = self._df.schema
        exprs: list[tuple[list[str], Any]] = []
        for m in mappings:
            source, target, target_type = _mapping(m)
            found = _paths.lookup(schema, _paths.split(source), case_sensitive)
            if found is None:
                continue
            col = F.col(_paths.quote(found))
            if target_type is not None and not _same_type(_paths.type_at(schema, found),
                                                          target_type):
                col = _choice.try_cast(col, _choice.spark_type(target_type))
            exprs.append((_paths.split(target), col))
        if all(len(p) == 1 for p, _ in exprs):
            return self._new(self._df.select(*[c.alias(p[0]) for p, c in exprs]))
        nested = self._df.select(_nested_select(exprs)).select("__sluice_mapped.*")
        return self._new(nested)

    def applyMapping(self, *args: Any, **kwargs: Any) -> DynamicFrame:
        if args and isinstance(args[0], DynamicFrame):
            args = args[1:]
        return self.apply_mapping(*args, **kwargs)

    def select_fields(self, paths: Any, transformation_ctx: str = "", info: str = "",
                      stageThreshold: int = 0, totalThreshold: int = 0) -> DynamicFrame:
        """Only the fields at ``paths``; a nested path keeps its parents, in schema order."""
        return self._new(self._df.select(*_selection(self._df.schema, _as_list(paths))))

    def drop_fields(self, paths: Any, transformation_ctx: str = "", info: str = "",
                    stageThreshold: int = 0, totalThreshold: int = 0) -> DynamicFrame:
        df = self._df
        for path in _as_list(paths):
            found = _paths.lookup(df.schema, _paths.split(path))
            if found is not None:
                df = _paths.drop(df, found)
        return self._new(df)

    def rename_field(self, oldName: str, newName: str, transformation_ctx: str = "",
                     info: str = "", stageThreshold: int = 0,
                     totalThreshold: int = 0) -> DynamicFrame:
        """The field at path ``oldName`` moved to path ``newName`` (a top-level rename keeps
        the column's position)."""
        from pyspark.sql import functions as F

        old = _paths.lookup(self._df.schema, _paths.split(oldName))
        if old is None:
            return self._new(self._df)
        new = _paths.split(newName)
        df = self._df
        if len(old) == 1 and len(new) == 1:
            return self._new(df.withColumnRenamed(old[0], new[0]))
        if len(old) == len(new) and old[:-1] == new[:-1]:
            # A rename inside one struct: rebuild it so the field keeps its place.
            parent = _paths.type_at(df.schema, old[:-1])
            rebuilt = F.struct(*[F.col(_paths.quote([*old[:-1], f.name]))
                                 .alias(new[-1] if f.name == old[-1] else f.name)
                                 for f in parent.fields])
            return self._new(_paths.put(df, old[:-1], rebuilt))
        value = F.col(_paths.quote(old))
        df = _paths.put(df, new, value)
        return self._new(_paths.drop(df, old))

    def split_fields(self, paths: Any, name1: str, name2: str, transformation_ctx: str = "",
                     info: str = "", stageThreshold: int = 0,
                     totalThreshold: int = 0) -> DynamicFrameCollection:
        """Two frames: the fields at ``paths`` (``name1``) and all the others (``name2``)."""
        chosen = self.select_fields(paths)
        rest = self.drop_fields(paths)
        return DynamicFrameCollection(
            {name1: DynamicFrame(chosen._df, self.glue_ctx, name1),
             name2: DynamicFrame(rest._df, self.glue_ctx, name2)}, self.glue_ctx)

    def drop_null_fields(self, transformation_ctx: str = "", info: str = "",
                         stageThreshold: int = 0, totalThreshold: int = 0) -> DynamicFrame:
        """Without the fields (through structs) that are null in every record."""
        from pyspark.sql import functions as F
        from pyspark.sql import types as T

        leaves: list[list[str]] = []

        def walk(dtype: Any, path: list[str]) -> None:
            for f in dtype.fields:
                p = [*path, f.name]
                if isinstance(f.dataType, T.StructType) and f.dataType.fields:
                    walk(f.dataType, p)
                leaves.append(p)

        walk(self._df.schema, [])
        if not leaves:
            return self._new(self._df)
        counts = self._df.agg(*[F.count(F.col(_paths.quote(p))).alias(f"c{i}")
                                for i, p in enumerate(leaves)]).collect()[0]
        df = self._df
        # Deepest first, so a struct left with no fields is still dropped afterwards.
        for i, p in sorted(enumerate(leaves), key=lambda t: -len(t[1])):
            if counts[f"c{i}"] == 0:
                df = _paths.drop(df, p)
        return self._new(df)

    def unnest(self, transformation_ctx: str = "", info: str = "", stageThreshold: int = 0,
               totalThreshold: int = 0) -> DynamicFrame:
        """Every struct field as a top-level column named by its path (``a.b``)."""
        return self._new(_relational.flatten(self._df))

    def relationalize(self, root_table_name: str, staging_path: str | None = None,
                      options: dict[str, Any] | None = None, transformation_ctx: str = "",
                      info: str = "", stageThreshold: int = 0,
                      totalThreshold: int = 0) -> DynamicFrameCollection:
        """The frame as flat tables: the root and one table per array (see
        :mod:`._relational`). ``staging_path`` is not written to: Spark keeps the
        intermediate tables itself."""
        tables = _relational.relationalize(self._df, root_table_name)
        return DynamicFrameCollection(
            {name: DynamicFrame(df, self.glue_ctx, name) for name, df in tables}, self.glue_ctx)

    # ------------------------------------------------------------------ records

    def filter(self, f: Callable[[dict[str, Any]], Any], transformation_ctx: str = "",
               info: str = "", stageThreshold: int = 0,
               totalThreshold: int = 0) -> DynamicFrame:
        """The records for which ``f(record)`` is true; ``record`` is a dict (nested dicts
        for structs). A record whose test raises is left out (see :func:`._records.keep`)."""
        df = self._df
        frame = self._new(_map_in_arrow(df, _records.filter_batches(f, df.schema), df.schema))
        frame._stage_errors = lambda: int(df.rdd.map(_records.filter_errors(f)).sum())
        frame._thresholds = (int(stageThreshold), int(totalThreshold))
        return frame

    def map(self, f: Callable[[dict[str, Any]], Any], preservesPartitioning: bool = False,
            transformation_ctx: str = "", info: str = "", stageThreshold: int = 0,
            totalThreshold: int = 0) -> DynamicFrame:
        """``f(record)`` for every record: it returns the (changed) record, fields may be
        added, removed or change type; the new schema is read from the results. A record
        ``f`` raises on or returns no dict for is an error record, left out."""
        from pyspark.sql import types as T
        from pyspark.sql.pandas.types import to_arrow_schema

        df = self._df
        merged: Any = T.NullType()
        parts = _map_in_arrow(df, _records.map_schema(f, df.schema), "t string").collect()
        for part in parts:
            merged = _records.merge(merged, T._parse_datatype_json_string(part["t"]))
        schema = _writable(merged if isinstance(merged, T.StructType) else df.schema)
        zone = df.sparkSession.conf.get("spark.sql.session.timeZone")
        try:
            arrow_schema = to_arrow_schema(schema, timezone=zone)
        except TypeError:  # PySpark 3.5: no time zone argument (timestamps in UTC)
            arrow_schema = to_arrow_schema(schema)
        batches = _records.map_batches(f, df.schema, schema, arrow_schema)
        frame = self._new(_map_in_arrow(df, batches, schema))
        frame._stage_errors = lambda: int(df.rdd.map(_records.map_errors(f)).sum())
        frame._thresholds = (int(stageThreshold), int(totalThreshold))
        return frame

    def join(self, paths1: Any, paths2: Any, frame2: DynamicFrame, transformation_ctx: str = "",
             info: str = "", stageThreshold: int = 0,
             totalThreshold: int = 0) -> DynamicFrame:
        """The equality (inner) join of this frame's ``paths1`` with ``frame2``'s ``paths2``;
        both frames' fields are kept. A key of the same name on both sides appears once; any
        other field in both frames is an error (rename one first)."""
        from pyspark.sql import functions as F

        keys1, keys2 = _as_list(paths1), _as_list(paths2)
        if len(keys1) != len(keys2) or not keys1:
            raise ValueError("join: paths1 and paths2 must name the same number of keys (>0)")
        left, right = self._df, frame2._df
        shared = {k1 for k1, k2 in zip(keys1, keys2, strict=True) if k1 == k2}
        clash = (set(left.columns) & set(right.columns)) - shared
        if clash:
            raise ValueError(
                f"join: both frames have the field(s) {sorted(clash)}; rename or drop them on "
                "one side first (rename_field / drop_fields)")
        l_alias, r_alias = left.alias("__l"), right.alias("__r")
        cond = None
        for k1, k2 in zip(keys1, keys2, strict=True):
            c = (F.col("__l." + _paths.quote(_paths.split(k1)))
                 == F.col("__r." + _paths.quote(_paths.split(k2))))
            cond = c if cond is None else cond & c
        joined = l_alias.join(r_alias, cond, "inner")
        cols = [F.col("__l." + _paths.quote([c])).alias(c) for c in left.columns]
        cols += [F.col("__r." + _paths.quote([c])).alias(c) for c in right.columns
                 if c not in shared]
        frame = DynamicFrame(joined.select(*cols), self.glue_ctx, self.name + frame2.name)
        frame._upstream = (self, frame2)
        return frame

    def mergeDynamicFrame(self, stage_dynamic_frame: DynamicFrame, primary_keys: Any,
                          transformation_ctx: str = "", options: dict[str, Any] | None = None,
                          info: str = "", stageThreshold: int = 0,
                          totalThreshold: int = 0) -> DynamicFrame:
        """This frame's records whose ``primary_keys`` are not in the staging frame, plus
        every staging record (duplicates are kept, as in Glue); fields missing on one side
        are null."""
        keys = _as_list(primary_keys)
        stage = stage_dynamic_frame._df
        for side, df in (("this frame", self._df), ("the staging frame", stage)):
            missing = [k for k in keys if k not in df.columns]
            if missing:
                raise ValueError(f"mergeDynamicFrame: {side} has no primary key field(s) "
                                 f"{missing}")
        kept = self._df.join(stage.select(*keys).distinct(), on=keys, how="left_anti")
        frame = self._new(kept.unionByName(stage, allowMissingColumns=True))
        frame._upstream = (self, stage_dynamic_frame)
        return frame

    def union(self, other_frame: DynamicFrame, transformation_ctx: str = "", info: str = "",
              stageThreshold: int = 0, totalThreshold: int = 0) -> DynamicFrame:
        """All records of both frames, fields matched by name (missing ones null)."""
        frame = self._new(self._df.unionByName(other_frame._df, allowMissingColumns=True))
        frame._upstream = (self, other_frame)
        return frame

    # ------------------------------------------------------------------ choices

    def resolveChoice(self, specs: Any = None, choice: str = "", database: str | None = None,
                      table_name: str | None = None, transformation_ctx: str = "",
                      info: str = "", stageThreshold: int = 0,
                      totalThreshold: int = 0, catalog_id: str | None = None) -> DynamicFrame:
        """Each choice resolved by its spec ``(path, action)`` or by the default ``choice``;
        what a choice and each action are in this runtime: :mod:`._choice`."""
        if specs is None and not choice:
            raise ValueError("Parameter specs and option are both missing, add one.")
        if specs is not None and choice:
            raise ValueError("Parameter specs and option are both specified, choose one.")
        if isinstance(specs, tuple):
            specs = [specs]
        return self._new(_choice.resolve(self._df, list(specs or []), choice, database,
                                         table_name, self.glue_ctx))

    # ------------------------------------------------------------------ partitions, output

    def repartition(self, num_partitions: int, transformation_ctx: str = "", info: str = "",
                    stageThreshold: int = 0, totalThreshold: int = 0) -> DynamicFrame:
        return self._new(self._df.repartition(int(num_partitions)))

    def coalesce(self, num_partitions: int, shuffle: bool = False, transformation_ctx: str = "",
                 info: str = "", stageThreshold: int = 0,
                 totalThreshold: int = 0) -> DynamicFrame:
        n = int(num_partitions)
        return self._new(self._df.repartition(n) if shuffle else self._df.coalesce(n))

    def spigot(self, path: str, options: dict[str, Any] | None = None,
               transformation_ctx: str = "", info: str = "", stageThreshold: int = 0,
               totalThreshold: int = 0) -> DynamicFrame:
        """Writes a sample (``topk`` records, default 100, each kept with ``prob``, default
        1) as JSON lines to the local folder ``path``; returns this frame."""
        opts = options or {}
        if str(path).startswith("s3://"):
            raise unsupported("DynamicFrame.spigot to s3://", "give a local folder")
        sample = self._df
        prob = float(opts.get("prob", 1.0))
        if prob < 1.0:
            sample = sample.sample(fraction=prob)
        sample.limit(int(opts.get("topk", 100))).write.mode("overwrite").json(path)
        return self

    def write(self, connection_type: str, connection_options: dict[str, Any] | None = None,
              format: str | None = None, format_options: dict[str, Any] | None = None,
              accumulator_size: int = 0) -> Any:
        """Glue's shortcut for ``glue_ctx.write_dynamic_frame.from_options(self, …)``."""
        return self.glue_ctx.write_dynamic_frame.from_options(
            frame=self, connection_type=connection_type,
            connection_options=connection_options or {}, format=format,
            format_options=format_options or {})

    def unbox(self, *args: Any, **kwargs: Any) -> DynamicFrame:
        raise unsupported("DynamicFrame.unbox")

    def split_rows(self, *args: Any, **kwargs: Any) -> DynamicFrameCollection:
        raise unsupported("DynamicFrame.split_rows")

    def __repr__(self) -> str:
        return f"DynamicFrame(name={self.name!r})"


class DynamicFrameCollection:
    """Frames by name, as relationalize and split_fields return them."""

    def __init__(self, dynamic_frames: Any, glue_ctx: Any) -> None:
        self._glue_ctx = glue_ctx
        if isinstance(dynamic_frames, list):
            self._df_dict: dict[str, DynamicFrame] = {df.name: df for df in dynamic_frames}
        elif isinstance(dynamic_frames, dict):
            self._df_dict = dict(dynamic_frames)
        else:
            raise TypeError("dynamic_frames must be list or dict.")

    def __getitem__(self, key: str) -> DynamicFrame:
        return self._df_dict[key]

    def __len__(self) -> int:
        return len(self._df_dict)

    def __iter__(self) -> Iterator[str]:
        return iter(self._df_dict)

    def __contains__(self, key: object) -> bool:
        return key in self._df_dict

    def keys(self) -> Any:
        return self._df_dict.keys()

    def values(self) -> Any:
        return self._df_dict.values()

    def items(self) -> Any:
        return self._df_dict.items()

    def select(self, key: str, transformation_ctx: str = "") -> DynamicFrame:
        """The frame named ``key``; an empty frame when there is none, as in Glue."""
        if key in self._df_dict:
            return self._df_dict[key]
        return DynamicFrame(_empty(self._glue_ctx, self._df_dict), self._glue_ctx, key)

    def map(self, callable: Callable[[DynamicFrame, str], Any],
            transformation_ctx: str = "") -> DynamicFrameCollection:
        out = {}
        for key, frame in self._df_dict.items():
            res = callable(frame, transformation_ctx + ":" + key)
            if not isinstance(res, DynamicFrame):
                raise TypeError(f"callable must return a DynamicFrame. Got {type(res)}")
            out[key] = res
        return DynamicFrameCollection(out, self._glue_ctx)

    def flatmap(self, f: Callable[[DynamicFrame, str], Any],
                transformation_ctx: str = "") -> DynamicFrameCollection:
        out: dict[str, DynamicFrame] = {}
        for frame in self._df_dict.values():
            res = f(frame, transformation_ctx + ":" + frame.name)
            if isinstance(res, DynamicFrame):
                out[res.name] = res
            elif isinstance(res, DynamicFrameCollection):
                out.update(res._df_dict)
            else:
                raise TypeError("Function argument to flatmap must return DynamicFrame or "
                                f"DynamicFrameCollection. Got {type(res)}")
        return DynamicFrameCollection(out, self._glue_ctx)

    def __repr__(self) -> str:
        return f"DynamicFrameCollection({list(self._df_dict)!r})"


# ---------------------------------------------------------------------- helpers


def _map_in_arrow(df: Any, func: Any, schema: Any) -> Any:
    """``df.mapInArrow(func, schema)`` without PySpark's warning about the pandas version:
    Arrow batches do not go through pandas."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "PySpark does not yet fully support pandas",
                                FutureWarning)
        return df.mapInArrow(func, schema)


def _session(glue_ctx: Any, frames: dict[str, DynamicFrame]) -> Any:
    session = getattr(glue_ctx, "spark_session", None)
    if session is not None:
        return session
    for frame in frames.values():
        return frame._df.sparkSession
    from pyspark.sql import SparkSession

    return SparkSession.builder.getOrCreate()


def _empty(glue_ctx: Any, frames: dict[str, DynamicFrame]) -> Any:
    from pyspark.sql import types as T

    return _session(glue_ctx, frames).createDataFrame([], T.StructType([]))


def _mapping(m: Any) -> tuple[str, str, str | None]:
    """``(source, target, target type or None)`` of one ApplyMapping tuple."""
    if not isinstance(m, tuple):
        raise TypeError(f"Mapping must be specified as a tuple. Got {m!r}")
    if len(m) == 4:
        return str(m[0]), str(m[2]), str(m[3])
    if len(m) == 3:
        return str(m[0]), str(m[1]), str(m[2])
    if len(m) == 2:
        return str(m[0]), str(m[1]), None
    raise ValueError(f"Mapping tuple must be of length 2, 3, or 4. Got tuple of length {len(m)}")


def _same_type(spark_type: Any, glue_type: str) -> bool:
    """Whether casting to ``glue_type`` would leave the column as it is (complex types are
    never cast: ``struct``/``array`` as targets keep the value)."""
    name = glue_type.strip().lower()
    if name in ("struct", "array", "map", "choice"):
        return True
    return bool(spark_type.simpleString() == _choice.spark_type(name))


def _nested_select(exprs: list[tuple[list[str], Any]]) -> Any:
    """One struct column holding every mapped value at its target path (ApplyMapping builds
    nested targets); expanded with ``.*`` by the caller."""
    from pyspark.sql import functions as F

    tree: dict[str, Any] = {}
    for parts, col in exprs:
        node = tree
        for p in parts[:-1]:
            node = node.setdefault(p, {})
            if not isinstance(node, dict):
                raise ValueError(f"apply_mapping: {'.'.join(parts)} is below a non-struct target")
        node[parts[-1]] = col

    def build(node: dict[str, Any]) -> Any:
        return F.struct(*[(build(v) if isinstance(v, dict) else v).alias(k)
                          for k, v in node.items()])

    return build(tree).alias("__sluice_mapped")


def _selection(schema: Any, paths: list[str]) -> list[Any]:
    """The columns of ``select_fields``: whole columns, or structs cut down to the chosen
    nested fields, in the schema's order."""
    from pyspark.sql import functions as F
    from pyspark.sql import types as T

    wanted: dict[str, Any] = {}
    for path in paths:
        found = _paths.lookup(schema, _paths.split(path))
        if found is None:
            continue
        node = wanted
        for p in found[:-1]:
            nxt = node.setdefault(p, {})
            if nxt is True:
                break
            node = nxt
        else:
            node[found[-1]] = True

    def cut(dtype: Any, base: list[str], node: Any) -> Any:
        if node is True or not isinstance(dtype, T.StructType):
            return F.col(_paths.quote(base))
        return F.struct(*[cut(f.dataType, [*base, f.name], node[f.name]).alias(f.name)
                          for f in dtype.fields if f.name in node])

    return [cut(f.dataType, [f.name], wanted[f.name]).alias(f.name)
            for f in schema.fields if f.name in wanted]


def _writable(schema: Any) -> Any:
    """NullType (a field no record gave a value) as string, which every format can store."""
    from pyspark.sql import types as T

    def fix(dtype: Any) -> Any:
        if isinstance(dtype, T.NullType):
            return T.StringType()
        if isinstance(dtype, T.StructType):
            return T.StructType([T.StructField(f.name, fix(f.dataType), True)
                                 for f in dtype.fields])
        if isinstance(dtype, T.ArrayType):
            return T.ArrayType(fix(dtype.elementType), True)
        if isinstance(dtype, T.MapType):
            return T.MapType(dtype.keyType, fix(dtype.valueType), True)
        return dtype

    return fix(schema)


def schema_tree(schema: _gt.StructType) -> str:
    """Glue's printSchema text::

        root
        |-- contact_details: array
        |    |-- element: struct
        |    |    |-- type: string
    """
    lines = ["root"]

    def walk(dtype: _gt.DataType, depth: int) -> None:
        pad = "|    " * depth + "|-- "
        if isinstance(dtype, _gt.StructType):
            for f in dtype:
                lines.append(f"{pad}{f.name}: {f.dataType.typeName()}")
                walk(f.dataType, depth + 1)
        elif isinstance(dtype, _gt.ArrayType):
            lines.append(f"{pad}element: {dtype.elementType.typeName()}")
            walk(dtype.elementType, depth + 1)
        elif isinstance(dtype, _gt.MapType):
            lines.append(f"{pad}keyType: {dtype.keyType.typeName()}")
            lines.append(f"{pad}valueType: {dtype.valueType.typeName()}")
            walk(dtype.valueType, depth + 1)
        elif isinstance(dtype, _gt.ChoiceType):
            for c in dtype.choices.values():
                lines.append(f"{pad}{c.typeName()}")

    walk(schema, 0)
    return "\n".join(lines)
