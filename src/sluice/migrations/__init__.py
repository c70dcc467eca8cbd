"""Warehouse schema migrations, Flyway-compatible (see docs/migrations.md)."""

from __future__ import annotations

from pathlib import Path

from sluice.migrations.migrator import MigrationError, MigrationPlan, apply, plan, repair, status
from sluice.migrations.migrator import undo as undo_migrations
from sluice.migrations.scripts import FOLDER, Script, Scripts, flyway_checksum, load_scripts
from sluice.migrations.session import Session, session_for


def project_scripts(root: Path) -> Scripts:
    """The migrations of a project (or release) folder; none when it has no migrations/."""
    return load_scripts(root / FOLDER, where=FOLDER)


__all__ = ["FOLDER", "MigrationError", "MigrationPlan", "Script", "Scripts", "Session",
           "apply", "flyway_checksum", "load_scripts", "plan", "project_scripts", "repair",
           "session_for", "status", "undo_migrations"]
