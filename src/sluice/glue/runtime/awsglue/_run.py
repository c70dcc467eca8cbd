"""The run a job's process is part of, as sluice describes it.

sluice writes a JSON file (mode 0600, in the run's private temporary folder) and names it in
``$SLUICE_GLUE_CONTEXT`` before the script starts::

    {
      "job": "persons",                 # the sluice job
      "env": "dev",
      "tables": {                       # the catalog: "schema.table" -> where it lives
        "raw.persons": {"path": "/abs/objects/raw/persons/", "format": "json",
                        "options": {},                    # Glue format_options
                        "columns": {"id": "bigint"}},     # Spark SQL types, when known
        "curated.orgs": {"path": "/abs/tmp/in/curated.orgs/", "format": "parquet",
                         "options": {}}
      },
      "databases": {"dev_raw": "raw", "raw": "raw"},      # Glue database -> schema
      "outputs": {"curated.persons": "/abs/tmp/out/curated.persons/"},
      "bookmarks": {"state": "/abs/…/persons.json" | null,  # what earlier runs committed
                    "pending": "/abs/tmp/bookmarks.json"},  # Job.commit() writes here
      "temp_dir": "/abs/tmp/glue-temp/",
      "writes": "/abs/tmp/writes.jsonl"   # each write appends one JSON line:
    }                                     #  {"path", "format", "partition_keys", "table"}

sluice reads each output folder back with the format and partition keys its writes logged
(Parquet when nothing was logged), so a script may write csv or json to ``${output:…}``.

A catalog read ``(database, table_name)`` maps the database through ``databases`` to a
schema and reads ``tables["schema.table"]``; a catalog write to a table in ``outputs``
writes Parquet to that folder (the new version, audited and published by sluice). Without
the variable (a unit test, a notebook) every catalog call fails with a clear error, and
paths are used as given.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from typing import Any

CONTEXT_ENV = "SLUICE_GLUE_CONTEXT"


@dataclass(frozen=True)
class Table:
    path: str
    format: str
    options: dict[str, Any] = field(default_factory=dict)
    columns: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class RunContext:
    job: str = ""
    env: str = ""
    tables: dict[str, Table] = field(default_factory=dict)
    databases: dict[str, str] = field(default_factory=dict)
    outputs: dict[str, str] = field(default_factory=dict)
    bookmark_state: str | None = None
    bookmark_pending: str | None = None
    temp_dir: str | None = None
    writes: str | None = None

    def table(self, database: str, table_name: str) -> tuple[str, Table | None]:
        """``("schema.table", its Table or None)`` for a catalog read or write."""
        schema = self.databases.get(database, database)
        name = f"{schema}.{table_name}".lower()
        return name, self.tables.get(name)


def load(environ: dict[str, str] | None = None) -> RunContext:
    """The run's context from ``$SLUICE_GLUE_CONTEXT``; an empty one without it."""
    path = (environ if environ is not None else os.environ).get(CONTEXT_ENV)
    if not path:
        return RunContext()
    with open(path, encoding="utf-8") as fh:
        raw = json.load(fh)
    marks = raw.get("bookmarks") or {}
    return RunContext(
        job=str(raw.get("job", "")), env=str(raw.get("env", "")),
        tables={str(k).lower(): Table(str(v["path"]), str(v["format"]),
                                      dict(v.get("options") or {}),
                                      {str(c): str(t) for c, t in (v.get("columns") or {}).items()})
                for k, v in (raw.get("tables") or {}).items()},
        databases={str(k): str(v) for k, v in (raw.get("databases") or {}).items()},
        outputs={str(k).lower(): str(v) for k, v in (raw.get("outputs") or {}).items()},
        bookmark_state=marks.get("state"), bookmark_pending=marks.get("pending"),
        temp_dir=raw.get("temp_dir"), writes=raw.get("writes"))
