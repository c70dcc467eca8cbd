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


def keep(f: Callable[[dict[str, Any]], Any]) -> Callable[[Any], bool]:
    """Filter's predicate on Rows. As in Glue, a record whose test raises is left out: a
    KeyError, ValueError or TypeError (a missing field, a null compared with a number) just
    fails the test, any other exception makes it an error record (:func:`filter_errors`)."""

    def test(row: Any) -> bool:
        try:
            return bool(f(to_record(row)))
        except Exception:
            return False

    return test


def filter_errors(f: Callable[[dict[str, Any]], Any]) -> Callable[[Any], int]:
    """1 for a record Glue's Filter would make an error record, else 0."""

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


def apply(f: Callable[[dict[str, Any]], Any]) -> Callable[[Iterable[Any]], Iterator[Any]]:
    """Map's function over a partition of Rows, without its error records."""

    def run(rows: Iterable[Any]) -> Iterator[Any]:
        for row in rows:
            out = _mapped(f, row)
            if out is not None:
                yield out

    return run


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


def schema_of(hint: Any) -> Callable[[Iterable[dict[str, Any]]], Iterator[Any]]:
    """The merged type of one partition's records (one value per partition)."""

    def run(records: Iterable[dict[str, Any]]) -> Iterator[Any]:
        acc: Any = T.NullType()
        for rec in records:
            acc = merge(acc, infer(rec, hint))
        yield acc

    return run


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


def to_row(schema: Any) -> Callable[[dict[str, Any]], tuple[Any, ...]]:
    def run(rec: dict[str, Any]) -> tuple[Any, ...]:
        return tuple(convert(rec.get(f.name), f.dataType) for f in schema.fields)

    return run
