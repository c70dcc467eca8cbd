"""Metric history per dataset, for dynamic rules and anomaly detection (SQLite)."""

from __future__ import annotations

import datetime as dt
import os
import sqlite3
from collections.abc import Mapping
from pathlib import Path

from sluice.errors import HistoryError

_SCHEMA = """
CREATE TABLE IF NOT EXISTS quality_metrics (
    dataset TEXT NOT NULL,
    metric TEXT NOT NULL,
    value REAL,
    run_id TEXT NOT NULL,
    recorded_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS quality_metrics_lookup
    ON quality_metrics (dataset, metric, recorded_at);
"""


def default_history_path() -> Path:
    home = os.environ.get("SLUICE_HOME")
    return Path(home) / "state.db" if home else Path(".sluice") / "state.db"


class MetricHistory:
    """Append-only store of metric values; ``last(k)`` reads the newest k, oldest first."""

    def __init__(self, path: str | Path | None = None) -> None:
        self.path = Path(path) if path is not None else default_history_path()
        try:
            if str(self.path) != ":memory:":
                self.path.parent.mkdir(parents=True, exist_ok=True)
            self.con = sqlite3.connect(str(self.path))
            self.con.executescript(_SCHEMA)
        except (sqlite3.Error, OSError) as exc:
            raise HistoryError(
                f"cannot open the metric history {self.path}: {exc}",
                tip="pass --history PATH to a writable file",
            ) from exc

    def last(self, dataset: str, metric: str, k: int) -> list[float]:
        rows = self.con.execute(
            "SELECT value FROM quality_metrics WHERE dataset = ? AND metric = ? "
            "AND value IS NOT NULL ORDER BY recorded_at DESC, rowid DESC LIMIT ?",
            (dataset, metric, k),
        ).fetchall()
        return [float(r[0]) for r in reversed(rows)]

    def record(self, dataset: str, run_id: str, metrics: Mapping[str, float | None],
               at: dt.datetime | None = None) -> None:
        stamp = (at or dt.datetime.now(dt.UTC)).isoformat()
        try:
            with self.con:
                self.con.executemany(
                    "INSERT INTO quality_metrics VALUES (?, ?, ?, ?, ?)",
                    [(dataset, k, v, run_id, stamp) for k, v in metrics.items()],
                )
        except sqlite3.Error as exc:
            raise HistoryError(f"cannot record metrics in {self.path}: {exc}") from exc

    def close(self) -> None:
        self.con.close()
