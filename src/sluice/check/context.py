"""What every check of one ``sluice check`` run shares: the project, its config and graph,
the digests of its files and the versions of the tools that judge them."""

from __future__ import annotations

import hashlib
import importlib.metadata
import os
import platform
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

from sluice import __version__
from sluice.config import ProjectConfig, builtins, load_project
from sluice.config.loader import read_config_document
from sluice.config.yamlsource import YamlDocument
from sluice.errors import ConfigError, ReleaseError, SluiceError
from sluice.project.graph import ProjectGraph, build_graph
from sluice.release.git import Git

#: Folders never part of a project's checked files.
IGNORED_DIRS = {".git", ".sluice", ".venv", "venv", "__pycache__", ".ruff_cache",
                ".mypy_cache", ".pytest_cache", "node_modules", "target", "dbt_packages"}


@dataclass
class CheckOptions:
    against: str | None = None  # an environment or a git ref (contracts)
    changed_since: str | None = None
    only: frozenset[str] = frozenset()
    skip: frozenset[str] = frozenset()
    use_cache: bool = True
    workers: int = field(default_factory=lambda: max(2, os.cpu_count() or 2))


def tool_version(dist: str) -> str:
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return "missing"


class CheckContext:
    """The project under check. Config problems are kept, not raised: they are findings."""

    def __init__(self, root: Path, home: Path, options: CheckOptions) -> None:
        self.root, self.home, self.options = root, home, options
        self.git = Git(root)
        self.config: ProjectConfig | None = None
        self.config_error: SluiceError | None = None
        try:
            self.config = load_project(root)
        except SluiceError as exc:
            self.config_error = exc

    # ------------------------------------------------------------------ project files
    @cached_property
    def in_git(self) -> bool:
        try:
            self.git.prefix()
        except ReleaseError:
            return False
        return True

    @cached_property
    def files(self) -> dict[str, str]:
        """Every file of the project (git's view: tracked + untracked, not ignored) and the
        SHA-256 of its content."""
        if self.in_git:  # git's ignore rules decide; a tracked file always counts
            names = [n for n in self.git.list_files(include_untracked=True)
                     if not n.startswith(".sluice/")]
        else:
            names = []
            for folder, dirs, filenames in os.walk(self.root):
                dirs[:] = sorted(d for d in dirs if d not in IGNORED_DIRS)
                rel = Path(folder).relative_to(self.root)
                names += [str(rel / f) if str(rel) != "." else f for f in filenames]
        out: dict[str, str] = {}
        for name in sorted(names):
            path = self.root / name
            if path.is_file():
                out[name] = hashlib.sha256(path.read_bytes()).hexdigest()
        return out

    def files_under(self, *suffixes: str, folder: str = "") -> list[str]:
        return [f for f in self.files
                if f.endswith(suffixes) and (not folder or f.startswith(folder.rstrip("/") + "/"))]

    @cached_property
    def tree(self) -> str | None:
        """The git tree id of the work tree as checked (what a release built now contains)."""
        return self.git.worktree_tree() if self.in_git else None

    # ------------------------------------------------------------------ config
    @cached_property
    def document(self) -> YamlDocument | None:
        try:
            return read_config_document(self.root)
        except SluiceError:
            return None

    def locate(self, *path: str | int) -> tuple[str, int | None, int | None]:
        """sluice.yaml:line:col of a config path such as ("jobs", "orders", "inputs", 0)."""
        doc = self.document
        if doc is None:
            return "sluice.yaml", None, None
        loc = doc.locate(list(path), key=True)
        return "sluice.yaml", loc.line, loc.column

    @cached_property
    def params(self) -> dict[str, str]:
        """The first environment's parameters (``${name}`` in SQL is substituted with them)."""
        cfg = self.config
        if cfg is None or not cfg.environments:
            return {}
        env = cfg.promotion_order()[0]
        return {**builtins(env, cfg.project), **cfg.environment(env).parameters}

    @cached_property
    def graph(self) -> ProjectGraph | None:
        """The dependency graph, or None when config or SQL is broken (other checks say so)."""
        if self.config is None:
            return None
        try:
            return build_graph(self.root, self.config)
        except (ConfigError, OSError):
            return None

    @cached_property
    def tools(self) -> dict[str, str]:
        return {"sluice": __version__, "python": platform.python_version(),
                "sqlglot": tool_version("sqlglot"), "duckdb": tool_version("duckdb")}

