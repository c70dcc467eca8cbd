"""``awsglue.transforms``: Glue's transform classes, each a thin call of a DynamicFrame method.

``ApplyMapping.apply(frame=…, mappings=…)`` is how Glue's generated scripts call them, and
``from awsglue.transforms import *`` is how they import them: every class below is in
``__all__``. ``apply`` makes an instance and calls it, as Glue's GlueTransform does, so
``ApplyMapping()(frame, mappings)`` works too. Transforms this runtime lacks (Unbox,
SplitRows) exist so the import works, and raise the unsupported-API error when used.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ._support import unsupported
from .dynamicframe import DynamicFrame, DynamicFrameCollection

__all__ = [
    "ApplyMapping", "Coalesce", "DropFields", "DropNullFields", "ErrorsAsDynamicFrame",
    "Filter", "FlatMap", "GlueTransform", "Join", "Map", "MapToCollection", "Relationalize",
    "RenameField", "Repartition", "ResolveChoice", "SelectFields", "SelectFromCollection",
    "Spigot", "SplitFields", "SplitRows", "Unbox", "Union", "UnnestFrame",
]


class GlueTransform:
    """The base of every transform: ``Transform.apply(**kwargs)`` is
    ``Transform()(**kwargs)``."""

    @classmethod
    def apply(cls, *args: Any, **kwargs: Any) -> Any:
        return cls()(*args, **kwargs)

    @classmethod
    def name(cls) -> str:
        return cls.__name__

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        raise unsupported(f"awsglue.transforms.{self.name()}")

    def __eq__(self, other: object) -> bool:
        return isinstance(other, type(self)) and self.__dict__ == other.__dict__

    def __hash__(self) -> int:
        return hash(type(self).__name__)

    def __repr__(self) -> str:
        return f"<Transform: {self.name()}>"


class ApplyMapping(GlueTransform):
    def __call__(self, frame: DynamicFrame, mappings: Any, case_sensitive: bool = False,
                 transformation_ctx: str = "", info: str = "", stageThreshold: int = 0,
                 totalThreshold: int = 0) -> DynamicFrame:
        return frame.apply_mapping(mappings, case_sensitive, transformation_ctx, info,
                                   stageThreshold, totalThreshold)


class SelectFields(GlueTransform):
    def __call__(self, frame: DynamicFrame, paths: Any, transformation_ctx: str = "",
                 info: str = "", stageThreshold: int = 0,
                 totalThreshold: int = 0) -> DynamicFrame:
        return frame.select_fields(paths, transformation_ctx, info, stageThreshold,
                                   totalThreshold)


class DropFields(GlueTransform):
    def __call__(self, frame: DynamicFrame, paths: Any, transformation_ctx: str = "",
                 info: str = "", stageThreshold: int = 0,
                 totalThreshold: int = 0) -> DynamicFrame:
        return frame.drop_fields(paths, transformation_ctx, info, stageThreshold,
                                 totalThreshold)


class RenameField(GlueTransform):
    def __call__(self, frame: DynamicFrame, old_name: str, new_name: str,
                 transformation_ctx: str = "", info: str = "", stageThreshold: int = 0,
                 totalThreshold: int = 0) -> DynamicFrame:
        return frame.rename_field(old_name, new_name, transformation_ctx, info,
                                  stageThreshold, totalThreshold)


class SplitFields(GlueTransform):
    """The named fields and the rest; names default to the frame's name + ``1``/``2``."""

    def __call__(self, frame: DynamicFrame, paths: Any, name1: str | None = None,
                 name2: str | None = None, transformation_ctx: str = "", info: str = "",
                 stageThreshold: int = 0, totalThreshold: int = 0) -> DynamicFrameCollection:
        base = frame.name or "frame"
        return frame.split_fields(paths, name1 or base + "1", name2 or base + "2",
                                  transformation_ctx, info, stageThreshold, totalThreshold)


class Filter(GlueTransform):
    def __call__(self, frame: DynamicFrame, f: Callable[[dict[str, Any]], Any],
                 transformation_ctx: str = "", info: str = "", stageThreshold: int = 0,
                 totalThreshold: int = 0) -> DynamicFrame:
        return frame.filter(f, transformation_ctx, info, stageThreshold, totalThreshold)


class Map(GlueTransform):
    def __call__(self, frame: DynamicFrame, f: Callable[[dict[str, Any]], Any],
                 preservesPartitioning: bool = False, transformation_ctx: str = "",
                 info: str = "", stageThreshold: int = 0,
                 totalThreshold: int = 0) -> DynamicFrame:
        return frame.map(f, preservesPartitioning, transformation_ctx, info, stageThreshold,
                         totalThreshold)


class Join(GlueTransform):
    """``Join.apply(frame1, frame2, keys1, keys2)``: an equality join (Glue's order of
    arguments: both frames first)."""

    def __call__(self, frame1: DynamicFrame, frame2: DynamicFrame, keys1: Any, keys2: Any,
                 transformation_ctx: str = "") -> DynamicFrame:
        return frame1.join(keys1, keys2, frame2, transformation_ctx)


class ResolveChoice(GlueTransform):
    def __call__(self, frame: DynamicFrame, specs: Any = None, choice: str = "",
                 database: str | None = None, table_name: str | None = None,
                 transformation_ctx: str = "", info: str = "", stageThreshold: int = 0,
                 totalThreshold: int = 0, catalog_id: str | None = None) -> DynamicFrame:
        return frame.resolveChoice(specs, choice, database, table_name, transformation_ctx,
                                   info, stageThreshold, totalThreshold, catalog_id)


class DropNullFields(GlueTransform):
    def __call__(self, frame: DynamicFrame, transformation_ctx: str = "", info: str = "",
                 stageThreshold: int = 0, totalThreshold: int = 0) -> DynamicFrame:
        return frame.drop_null_fields(transformation_ctx, info, stageThreshold, totalThreshold)


class Relationalize(GlueTransform):
    """``Relationalize.apply(frame, staging_path, name="roottable", options)``."""

    def __call__(self, frame: DynamicFrame, staging_path: str | None = None,
                 name: str = "roottable", options: dict[str, Any] | None = None,
                 transformation_ctx: str = "", info: str = "", stageThreshold: int = 0,
                 totalThreshold: int = 0) -> DynamicFrameCollection:
        return frame.relationalize(name, staging_path, options or {}, transformation_ctx,
                                   info, stageThreshold, totalThreshold)


class UnnestFrame(GlueTransform):
    def __call__(self, frame: DynamicFrame, transformation_ctx: str = "", info: str = "",
                 stageThreshold: int = 0, totalThreshold: int = 0) -> DynamicFrame:
        return frame.unnest(transformation_ctx, info, stageThreshold, totalThreshold)


class SelectFromCollection(GlueTransform):
    def __call__(self, dfc: DynamicFrameCollection, key: str,
                 transformation_ctx: str = "") -> DynamicFrame:
        return dfc.select(key, transformation_ctx)


class MapToCollection(GlueTransform):
    def __call__(self, dfc: DynamicFrameCollection,
                 callable: Callable[[DynamicFrame, str], Any],
                 transformation_ctx: str = "") -> DynamicFrameCollection:
        return dfc.map(callable, transformation_ctx)


class FlatMap(GlueTransform):
    """``BaseTransform`` applied to every frame of ``dfc``, given as argument
    ``frame_name``; the results flattened into one collection."""

    def __call__(self, dfc: DynamicFrameCollection, BaseTransform: type[GlueTransform],
                 frame_name: str, transformation_ctx: str = "",
                 **base_kwargs: Any) -> DynamicFrameCollection:
        def inner(frame: DynamicFrame, ctx: str) -> Any:
            return BaseTransform.apply(**{**base_kwargs, frame_name: frame,
                                          "transformation_ctx": ctx})

        return dfc.flatmap(inner, transformation_ctx)


class Spigot(GlueTransform):
    def __call__(self, frame: DynamicFrame, path: str, options: dict[str, Any] | None = None,
                 transformation_ctx: str = "") -> DynamicFrame:
        return frame.spigot(path, options or {}, transformation_ctx)


class Repartition(GlueTransform):
    def __call__(self, frame: DynamicFrame, num_partitions: int,
                 transformation_ctx: str = "", info: str = "", stageThreshold: int = 0,
                 totalThreshold: int = 0) -> DynamicFrame:
        return frame.repartition(num_partitions)


class Coalesce(GlueTransform):
    def __call__(self, frame: DynamicFrame, num_partitions: int, shuffle: bool = False,
                 transformation_ctx: str = "", info: str = "", stageThreshold: int = 0,
                 totalThreshold: int = 0) -> DynamicFrame:
        return frame.coalesce(num_partitions, shuffle)


class ErrorsAsDynamicFrame(GlueTransform):
    def __call__(self, frame: DynamicFrame) -> DynamicFrame:
        return frame.errorsAsDynamicFrame()


class Unbox(GlueTransform):
    """Not supported: raises the unsupported-API error."""


class SplitRows(GlueTransform):
    """Not supported: raises the unsupported-API error."""


class Union(GlueTransform):
    def __call__(self, frame1: DynamicFrame, frame2: DynamicFrame, transformation_ctx: str = "",
                 info: str = "", stageThreshold: int = 0,
                 totalThreshold: int = 0) -> DynamicFrame:
        return frame1.union(frame2, transformation_ctx)
