"""A glue job's output folders read back as Arrow tables, with the format it wrote them in.

The runtime logs each write to the run's ``writes`` file (one JSON line: ``path``,
``format``, ``partition_keys``, ``table``). An output is read in the format of the last
write into its folder (Parquet when none was logged: a plain Spark ``df.write.parquet``);
hive partition folders (``year=2024/``) become columns, as Glue's crawler would make them.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from sqlglot import exp

from sluice.deploy.jobs import JobError

_DUCKDB_READERS = {"csv": "read_csv_auto", "json": "read_json_auto"}


def written(log: Path) -> list[dict[str, Any]]:
    """The writes a run logged, oldest first (none when nothing was logged)."""
    if not log.is_file():
        return []
    out = []
    for number, line in enumerate(log.read_text(encoding="utf-8").splitlines(), 1):
        if line.strip():
            try:
                entry = json.loads(line)
            except ValueError:
                raise JobError(
                    f"the Glue runtime's log of writes is unreadable at line {number} "
                    f"({line[:60]!r}): sluice cannot tell what the script wrote",
                    tip="does the script (or one before it in this deploy) replace "
                        "json.dumps or another part of the standard library?") from None
            if isinstance(entry, dict):
                out.append(entry)
    return out


def last_write(folder: Path, log: list[dict[str, Any]], dataset: str) -> dict[str, Any] | None:
    """The last logged write into ``folder`` (or to the catalog table ``dataset``)."""
    found = None
    root = folder.resolve()
    for entry in log:
        path = str(entry.get("path") or "")
        inside = False
        if path:
            try:
                inside = Path(path.removeprefix("file://")).resolve().is_relative_to(root)
            except (OSError, ValueError):
                inside = False
        if inside or str(entry.get("table") or "").lower() == dataset:
            found = entry
    return found


def output_format(folder: Path, log: list[dict[str, Any]], dataset: str) -> str:
    """The format of the last write into ``folder``: Parquet when none was logged."""
    entry = last_write(folder, log, dataset) or {}
    fmt = str(entry.get("format") or "parquet").lower()
    return "json" if fmt == "jsonl" else fmt


def data_files(folder: Path) -> list[Path]:
    """The files Spark wrote (``_SUCCESS``, ``.crc`` and other hidden files left out)."""
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.rglob("*") if p.is_file()
                  and not any(part.startswith(("_", ".")) for part in
                              p.relative_to(folder).parts))


def read_output(folder: Path, log: list[dict[str, Any]], dataset: str) -> Any:
    """The output in ``folder`` as a ``pyarrow.Table``; None when nothing was written. A
    logged write of a frame without rows that left no file (partitioned) is an empty table
    of the frame's columns."""
    files = data_files(folder)
    if not files:
        return _empty(last_write(folder, log, dataset))
    fmt = output_format(folder, log, dataset)
    if fmt in _DUCKDB_READERS:
        import duckdb

        listed = ", ".join(exp.Literal.string(str(f)).sql("duckdb") for f in files)
        con = duckdb.connect()
        try:
            return con.sql(f"SELECT * FROM {_DUCKDB_READERS[fmt]}([{listed}], "
                           "hive_partitioning = true)").to_arrow_table()
        finally:
            con.close()
    import pyarrow.dataset as pads

    return pads.dataset([str(f) for f in files], format=arrow_format(fmt),
                        partitioning="hive", partition_base_dir=str(folder)).to_table()


def _empty(entry: dict[str, Any] | None) -> Any:
    """The empty table of a logged write's columns (None: no write, or no columns)."""
    schema = (entry or {}).get("schema")
    if not isinstance(schema, str):
        return None
    import base64

    import pyarrow as pa

    try:
        return pa.ipc.read_schema(pa.py_buffer(base64.b64decode(schema))).empty_table()
    except (ValueError, pa.ArrowException):
        raise JobError("the Glue runtime's log of writes holds an unreadable schema: sluice "
                       "cannot tell what the script wrote") from None


def arrow_format(fmt: str) -> Any:
    """pyarrow's reader for ``fmt``. Spark writes Parquet timestamps as INT96 by default,
    which pyarrow would read as nanoseconds (a ``TIMESTAMP_NS`` column no contract says):
    they are read as microseconds, Spark's own precision."""
    import pyarrow.dataset as pads

    if fmt != "parquet":
        return fmt
    return pads.ParquetFileFormat(
        read_options=pads.ParquetReadOptions(coerce_int96_timestamp_unit="us"))
