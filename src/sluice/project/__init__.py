"""The project as a graph: jobs, the datasets they read and write, and their fingerprints.

The graph (and sqlglot, which it parses SQL with) loads on first use of these names, so that
``sluice.project.workspace`` can be imported without it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sluice.project.graph import JobNode, ProjectGraph, build_graph

__all__ = ["JobNode", "ProjectGraph", "build_graph"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from sluice.project import graph

        return getattr(graph, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
