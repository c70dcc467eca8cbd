"""The project as a graph: jobs, the datasets they read and write, and their fingerprints."""

from sluice.project.graph import JobNode, ProjectGraph, build_graph

__all__ = ["JobNode", "ProjectGraph", "build_graph"]
