"""The local target: the embedded default (folders, a DuckDB warehouse, objects/ for S3)."""
