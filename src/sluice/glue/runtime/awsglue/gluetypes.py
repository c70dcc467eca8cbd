"""``awsglue.gluetypes``: Glue's schema types, as ``DynamicFrame.schema()`` returns them.

Scripts walk a frame's schema (``for field in frame.schema(): field.name,
field.dataType.typeName()``) to decide what to drop or cast; Glue's own DropNullFields does.
These classes are built from the Spark schema of the frame's DataFrame by :func:`from_spark`;
``typeName()`` gives Glue's names (``int``, ``long``, ``struct``…), which are not Spark's.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

__all__ = [
    "ArrayType", "BinaryType", "BooleanType", "ByteType", "ChoiceType", "DataType", "DateType",
    "DecimalType", "DoubleType", "Field", "FloatType", "IntegerType", "LongType", "MapType",
    "NullType", "ShortType", "StringType", "StructType", "TimestampType", "UnknownType",
    "from_spark",
]


class DataType:
    """A Glue type; atomic types differ only by name."""

    _name = "unknown"

    def typeName(self) -> str:
        return self._name

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"

    def __eq__(self, other: object) -> bool:
        return type(self) is type(other) and self.__dict__ == other.__dict__

    def __hash__(self) -> int:
        return hash(repr(self))


class UnknownType(DataType):
    _name = "unknown"


class NullType(DataType):
    _name = "null"


class StringType(DataType):
    _name = "string"


class BooleanType(DataType):
    _name = "boolean"


class ByteType(DataType):
    _name = "byte"


class ShortType(DataType):
    _name = "short"


class IntegerType(DataType):
    _name = "int"


class LongType(DataType):
    _name = "long"


class FloatType(DataType):
    _name = "float"


class DoubleType(DataType):
    _name = "double"


class DateType(DataType):
    _name = "date"


class TimestampType(DataType):
    _name = "timestamp"


class BinaryType(DataType):
    _name = "binary"


class DecimalType(DataType):
    _name = "decimal"

    def __init__(self, precision: int = 10, scale: int = 2) -> None:
        self.precision = precision
        self.scale = scale

    def __repr__(self) -> str:
        return f"DecimalType({self.precision}, {self.scale})"


class ArrayType(DataType):
    _name = "array"

    def __init__(self, elementType: DataType) -> None:
        self.elementType = elementType

    def __repr__(self) -> str:
        return f"ArrayType({self.elementType!r})"


class MapType(DataType):
    _name = "map"

    def __init__(self, valueType: DataType, keyType: DataType | None = None) -> None:
        self.keyType = keyType or StringType()
        self.valueType = valueType

    def __repr__(self) -> str:
        return f"MapType({self.valueType!r})"


class ChoiceType(DataType):
    """Glue's "this field holds one of several types"; sluice's runtime never infers one (a
    Spark column has one type, see docs/glue.md), but scripts may build and compare them."""

    _name = "choice"

    def __init__(self, choices: list[DataType] | None = None) -> None:
        self.choices = {c.typeName(): c for c in (choices or [])}

    def __repr__(self) -> str:
        return f"ChoiceType({list(self.choices.values())!r})"


class Field:
    """One named field of a struct."""

    def __init__(self, name: str, dataType: DataType,
                 properties: dict[str, Any] | None = None) -> None:
        self.name = name
        self.dataType = dataType
        self.properties = properties or {}

    def __repr__(self) -> str:
        return f"Field({self.name}, {self.dataType!r})"

    def __eq__(self, other: object) -> bool:
        return (isinstance(other, Field) and self.name == other.name
                and self.dataType == other.dataType)

    def __hash__(self) -> int:
        return hash((self.name, repr(self.dataType)))


class StructType(DataType):
    _name = "struct"

    def __init__(self, fields: list[Field] | None = None,
                 properties: dict[str, Any] | None = None) -> None:
        self.fields = list(fields or [])
        self.field_map = {f.name: f for f in self.fields}
        self.properties = properties or {}

    def __iter__(self) -> Iterator[Field]:
        return iter(self.fields)

    def __len__(self) -> int:
        return len(self.fields)

    def __repr__(self) -> str:
        return f"StructType({self.fields!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, StructType) and self.fields == other.fields

    def __hash__(self) -> int:
        return hash(tuple(self.fields))

    def hasField(self, name: str) -> bool:
        return name in self.field_map

    def getField(self, name: str) -> Field | None:
        return self.field_map.get(name)

    def add(self, field: Field) -> StructType:
        self.fields.append(field)
        self.field_map[field.name] = field
        return self


_ATOMIC: dict[str, type[DataType]] = {
    "string": StringType, "varchar": StringType, "char": StringType, "boolean": BooleanType,
    "byte": ByteType, "short": ShortType, "integer": IntegerType, "long": LongType,
    "float": FloatType, "double": DoubleType, "date": DateType, "timestamp": TimestampType,
    "timestamp_ntz": TimestampType, "binary": BinaryType, "void": NullType, "null": NullType,
}


def from_spark(dtype: Any) -> DataType:
    """The Glue type of a :mod:`pyspark.sql.types` type."""
    from pyspark.sql import types as T

    if isinstance(dtype, T.StructType):
        return StructType([Field(f.name, from_spark(f.dataType)) for f in dtype.fields])
    if isinstance(dtype, T.ArrayType):
        return ArrayType(from_spark(dtype.elementType))
    if isinstance(dtype, T.MapType):
        return MapType(from_spark(dtype.valueType), from_spark(dtype.keyType))
    if isinstance(dtype, T.DecimalType):
        return DecimalType(dtype.precision, dtype.scale)
    return _ATOMIC.get(dtype.typeName(), UnknownType)()


def _create_dynamic_record(record: dict[str, Any]) -> dict[str, Any]:
    """A record as Map/Filter functions see it; here a plain dict (some scripts build
    their own with this private helper of Glue's)."""
    return dict(record)


def _revert_to_dict(record: dict[str, Any]) -> dict[str, Any]:
    """The plain dict of a record: records already are dicts in this runtime."""
    return dict(record)
