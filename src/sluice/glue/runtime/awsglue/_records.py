"""Records as Map and Filter functions see them, and back: the code that runs in Spark's
Python workers.

A record is a plain ``dict`` (nested structs are dicts, arrays are lists, nulls are
``None``), so ``rec["address"]["city"]`` and ``del rec["tmp"]`` work as in Glue. A map
function may add fields or change their types; :func:`infer` types its results (keeping the
input's type where a value still fits it) and :func:`merge` combines the types seen across
records: null gives way to anything, int to double, structs merge field by field, and two
types that do not fit each other become ``string`` (Glue would keep a choice; see
docs/glue.md).

This module is pickled *by value* into the workers, so they need neither ``awsglue`` nor
sluice on their ``sys.path``; it imports nothing of the runtime.
"""

from __future__ import annotations

import datetime as _dt
import decimal as _decimal
import json
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from pyspark.sql import types as T

_EXPECTED = (KeyError, ValueError, TypeError)


def to_record(row: Any) -> dict[str, Any]:
    """A Spark Row as the nested dict a Map/Filter function receives."""
    return dict(row.asDict(recursive=True))


def filter_errors(f: Callable[[dict[str, Any]], Any]) -> Callable[[Any], int]:
    """1 for a record Glue's Filter would make an error record, else 0. As in Glue, a
    KeyError, ValueError or TypeError (a missing field, a null compared with a number) just
    fails the test; any other exception makes an error record."""

    def count(row: Any) -> int:
        try:
            f(to_record(row))
        except _EXPECTED:
            return 0
        except Exception:
            return 1
        return 0

    return count


def _mapped(f: Callable[[dict[str, Any]], Any], row: Any) -> dict[str, Any] | None:
    """The record ``f`` makes of ``row``; None when Glue would make it an error record (f
    raised, or returned something that is not a record)."""
    try:
        out = f(to_record(row))
    except Exception:
        return None
    return out if isinstance(out, dict) else None


def map_errors(f: Callable[[dict[str, Any]], Any]) -> Callable[[Any], int]:
    """1 for a record Map leaves out as an error record, else 0."""

    def count(row: Any) -> int:
        return 1 if _mapped(f, row) is None else 0

    return count


_NUMERIC_RANK = {T.ByteType: 0, T.ShortType: 1, T.IntegerType: 2, T.LongType: 3,
                 T.FloatType: 4, T.DoubleType: 5}


def _fits(value: Any, dtype: Any) -> bool:
    """Whether ``value`` can be stored in a column of ``dtype`` as it is."""
    if value is None:
        return True
    if isinstance(dtype, T.StringType):
        return isinstance(value, str)
    if isinstance(dtype, T.BooleanType):
        return isinstance(value, bool)
    if isinstance(dtype, (T.ByteType, T.ShortType, T.IntegerType, T.LongType)):
        return isinstance(value, int) and not isinstance(value, bool)
    if isinstance(dtype, (T.FloatType, T.DoubleType)):
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if isinstance(dtype, T.DecimalType):
        return isinstance(value, (_decimal.Decimal, int)) and not isinstance(value, bool)
    if isinstance(dtype, T.TimestampType):
        return isinstance(value, _dt.datetime)
    if isinstance(dtype, T.DateType):
        return isinstance(value, _dt.date) and not isinstance(value, _dt.datetime)
    if isinstance(dtype, T.BinaryType):
        return isinstance(value, (bytes, bytearray))
    if isinstance(dtype, T.StructType):
        return isinstance(value, dict) and set(value) <= set(dtype.names) and all(
            _fits(value.get(f.name), f.dataType) for f in dtype.fields)
    if isinstance(dtype, T.ArrayType):
        return isinstance(value, list) and all(_fits(v, dtype.elementType) for v in value)
    if isinstance(dtype, T.MapType):
        return isinstance(value, dict) and all(_fits(v, dtype.valueType) for v in value.values())
    return False


def infer(value: Any, hint: Any = None) -> Any:
    """The Spark type of ``value``; ``hint`` (the input column's type) wins when it fits."""
    if hint is not None and value is not None and _fits(value, hint):
        return hint
    if value is None:
        return hint if hint is not None else T.NullType()
    if isinstance(value, bool):
        return T.BooleanType()
    if isinstance(value, int):
        return T.LongType()
    if isinstance(value, float):
        return T.DoubleType()
    if isinstance(value, str):
        return T.StringType()
    if isinstance(value, _decimal.Decimal):
        return T.DecimalType(38, 18)
    if isinstance(value, _dt.datetime):
        return T.TimestampType()
    if isinstance(value, _dt.date):
        return T.DateType()
    if isinstance(value, (bytes, bytearray)):
        return T.BinaryType()
    if isinstance(value, dict):
        hints = ({f.name: f.dataType for f in hint.fields}
                 if isinstance(hint, T.StructType) else {})
        return T.StructType([T.StructField(str(k), infer(v, hints.get(str(k))), True)
                             for k, v in value.items()])
    if isinstance(value, (list, tuple)):
        elem_hint = hint.elementType if isinstance(hint, T.ArrayType) else None
        elem: Any = elem_hint if elem_hint is not None else T.NullType()
        for v in value:
            elem = merge(elem, infer(v, elem_hint))
        return T.ArrayType(elem, True)
    return T.StringType()


def merge(a: Any, b: Any) -> Any:
    """One type for values of types ``a`` and ``b``."""
    if isinstance(a, T.NullType):
        return b
    if isinstance(b, T.NullType) or a == b:
        return a
    ra, rb = _NUMERIC_RANK.get(type(a)), _NUMERIC_RANK.get(type(b))
    if ra is not None and rb is not None:
        return a if ra >= rb else b
    if isinstance(a, T.StructType) and isinstance(b, T.StructType):
        fields = {f.name: f.dataType for f in a.fields}
        for f in b.fields:
            fields[f.name] = merge(fields[f.name], f.dataType) if f.name in fields else f.dataType
        return T.StructType([T.StructField(n, t, True) for n, t in fields.items()])
    if isinstance(a, T.ArrayType) and isinstance(b, T.ArrayType):
        return T.ArrayType(merge(a.elementType, b.elementType), True)
    return T.StringType()


def convert(value: Any, dtype: Any) -> Any:
    """``value`` shaped for a column of ``dtype`` (dicts to tuples in field order, values of
    a type merged into ``string`` to their text)."""
    if value is None:
        return None
    if isinstance(dtype, T.StructType):
        if not isinstance(value, dict):
            return None
        return tuple(convert(value.get(f.name), f.dataType) for f in dtype.fields)
    if isinstance(dtype, T.ArrayType):
        return [convert(v, dtype.elementType) for v in value]
    if isinstance(dtype, T.MapType):
        return {k: convert(v, dtype.valueType) for k, v in value.items()}
    if isinstance(dtype, T.StringType) and not isinstance(value, str):
        if isinstance(value, (dict, list)):
            return json.dumps(value, default=str)
        return str(value).lower() if isinstance(value, bool) else str(value)
    if isinstance(dtype, (T.FloatType, T.DoubleType)) and isinstance(value, int):
        return float(value)
    if isinstance(dtype, T.DecimalType) and isinstance(value, int):
        return _decimal.Decimal(value)
    return value


# ---------------------------------------------------------------------- Arrow batches
#
# Map and Filter move records between Spark and Python as Arrow batches (mapInArrow): far
# cheaper than Rows through an RDD, and the result keeps its Spark types without a schema
# check per row.


def _needs_fix(dtype: Any) -> bool:
    """Whether Arrow's Python values differ from Row's somewhere in ``dtype`` (maps come as
    lists of pairs, timestamps carry a time zone)."""
    if isinstance(dtype, (T.MapType, T.TimestampType)):
        return True
    if isinstance(dtype, T.StructType):
        return any(_needs_fix(f.dataType) for f in dtype.fields)
    if isinstance(dtype, T.ArrayType):
        return _needs_fix(dtype.elementType)
    return False


def _from_arrow(value: Any, dtype: Any) -> Any:
    if value is None:
        return None
    if isinstance(dtype, T.StructType):
        return {f.name: _from_arrow(value.get(f.name), f.dataType) for f in dtype.fields}
    if isinstance(dtype, T.ArrayType):
        return [_from_arrow(v, dtype.elementType) for v in value]
    if isinstance(dtype, T.MapType):
        pairs = value.items() if isinstance(value, dict) else value
        return {k: _from_arrow(v, dtype.valueType) for k, v in pairs}
    if isinstance(dtype, T.TimestampType) and getattr(value, "tzinfo", None) is not None:
        return value.astimezone().replace(tzinfo=None)  # naive local time, as in a Row
    return value


def records_of(batch: Any, schema: Any) -> list[dict[str, Any]]:
    """The records of an Arrow batch, shaped as :func:`to_record` shapes a Row."""
    recs: list[dict[str, Any]] = batch.to_pylist()
    if _needs_fix(schema):
        return [_from_arrow(r, schema) for r in recs]
    return recs


def filter_batches(f: Callable[[dict[str, Any]], Any],
                   schema: Any) -> Callable[[Iterable[Any]], Iterator[Any]]:
    """Filter over Arrow batches: each batch cut down to the records that pass."""

    def run(batches: Iterable[Any]) -> Iterator[Any]:
        import pyarrow as pa

        for batch in batches:
            mask = []
            for rec in records_of(batch, schema):
                try:
                    mask.append(bool(f(rec)))
                except Exception:
                    mask.append(False)
            yield batch.filter(pa.array(mask, pa.bool_()))

    return run


def _mapped_batch(f: Callable[[dict[str, Any]], Any], batch: Any,
                  schema: Any) -> Iterator[dict[str, Any]]:
    for rec in records_of(batch, schema):
        try:
            out = f(rec)
        except Exception:
            continue
        if isinstance(out, dict):
            yield out


def map_schema(f: Callable[[dict[str, Any]], Any],
               schema: Any) -> Callable[[Iterable[Any]], Iterator[Any]]:
    """Map's first pass: one row per partition holding the JSON of the merged type of its
    results."""

    def run(batches: Iterable[Any]) -> Iterator[Any]:
        import pyarrow as pa

        acc: Any = T.NullType()
        for batch in batches:
            for out in _mapped_batch(f, batch, schema):
                # Most records have the shape of the ones before: checking is cheaper.
                if not (isinstance(acc, T.StructType) and _fits(out, acc)):
                    acc = merge(acc, infer(out, schema))
        yield pa.RecordBatch.from_pylist([{"t": acc.json()}],
                                         schema=pa.schema([("t", pa.string())]))

    return run


def _to_arrow(value: Any, dtype: Any) -> Any:
    """``value`` as ``pyarrow`` takes it for ``dtype`` (structs as dicts, maps as pairs)."""
    if value is None:
        return None
    if isinstance(dtype, T.StructType):
        if not isinstance(value, dict):
            return None
        return {f.name: _to_arrow(value.get(f.name), f.dataType) for f in dtype.fields}
    if isinstance(dtype, T.ArrayType):
        return [_to_arrow(v, dtype.elementType) for v in value]
    if isinstance(dtype, T.MapType):
        return [(k, _to_arrow(v, dtype.valueType)) for k, v in value.items()]
    if isinstance(dtype, T.TimestampType) and isinstance(value, _dt.datetime):
        return value.astimezone()  # naive is local time, as in a Row; Arrow's carry a zone
    return convert(value, dtype)


def map_batches(f: Callable[[dict[str, Any]], Any], schema: Any, out_schema: Any,
                arrow_schema: Any) -> Callable[[Iterable[Any]], Iterator[Any]]:
    """Map's second pass: the results as Arrow batches of ``out_schema``."""

    def run(batches: Iterable[Any]) -> Iterator[Any]:
        import pyarrow as pa

        for batch in batches:
            rows = [{fl.name: _to_arrow(out.get(fl.name), fl.dataType)
                     for fl in out_schema.fields} for out in _mapped_batch(f, batch, schema)]
            yield pa.RecordBatch.from_pylist(rows, schema=arrow_schema)

    return run
