"""Deterministic generation of the benchmark tables (run by run.py when a table is absent).

The values come from integer arithmetic on the row number (Lehmer steps modulo the
Mersenne prime 2^31-1 mixed by xorshifts), evaluated by DuckDB and written with COPY, so
the same --rows gives the same table on every machine and DuckDB version.

pass table (N rows): every rule holds.
fail table (1.3*N rows): every rule fails —
  RowCount above 1.2*N; 1% NULL customer_id; 1% NULL order_date; every 1000th order_id
  repeats the previous one; amount spread over -500..12500 (outside 0..10000 and mean
  about 6000); 1% of status 'lost'; newest ts three days before AS_OF.
"""

from __future__ import annotations

import sys
from pathlib import Path

import duckdb

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from common import AS_OF, STATUSES, fail_rows  # noqa: E402

P = 2147483647  # 2^31 - 1


def _mix(x: str, a: int) -> str:
    """A bijection of [1, 2^31): a Lehmer step modulo 2^31-1, then an xorshift."""
    y = f"(({x}) * {a}) % {P}"
    return f"xor({y}, ({y}) >> 15)"


def _u(i: str, a: int, salt: int) -> str:
    """A pseudo-uniform double in [0, 1) from row number ``i`` (pure integer arithmetic)."""
    return f"({_mix(_mix(f'{i} + {salt}', a), 48271)})::DOUBLE / 2147483648"


def table_sql(rows: int, failing: bool) -> str:
    i = "i"
    statuses = "[" + ", ".join(f"'{s}'" for s in STATUSES) + "]"
    u_cust, u_cnull = _u(i, 16807, 11), _u(i, 69621, 13)
    u_date, u_dnull = _u(i, 630360016, 17), _u(i, 742938285, 19)
    u_amt, u_stat, u_ts = _u(i, 950706376, 23), _u(i, 1343714438, 29), _u(i, 1226874159, 31)
    j = f"({i} - CASE WHEN {i} % 1000 = 0 THEN 1 ELSE 0 END)" if failing else i
    order_id = _mix(j, 48271)  # a permutation of the row numbers: unique
    cust = f"(floor({u_cust} * 1000000) + 1)::BIGINT"
    odate = f"DATE '2024-01-01' + floor({u_date} * 182)::INTEGER"
    if failing:
        cust = f"CASE WHEN {u_cnull} < 0.01 THEN NULL ELSE {cust} END"
        odate = f"CASE WHEN {u_dnull} < 0.01 THEN NULL ELSE {odate} END"
        amount = f"round(-500 + {u_amt} * 13000, 2)"
        status = (f"CASE WHEN {u_stat} < 0.01 THEN 'lost' "
                  f"ELSE {statuses}[1 + {i} % {len(STATUSES)}] END")
        newest = "INTERVAL 3 DAY"
    else:
        amount = f"round(1 + {u_amt} * 9998, 2)"
        status = f"{statuses}[1 + {i} % {len(STATUSES)}]"
        newest = "INTERVAL 0 SECOND"
    # ts: spread over the 30 days before the newest moment, to the second
    ts = (f"TIMESTAMP '{AS_OF:%Y-%m-%d %H:%M:%S}' - {newest} "
          f"- to_seconds(floor({u_ts} * 30 * 86400)::BIGINT)")
    return f"""
        SELECT {order_id}::BIGINT AS order_id, {cust} AS customer_id, {odate} AS order_date,
               {amount}::DOUBLE AS amount, {status} AS status, ({ts})::TIMESTAMP AS ts
        FROM range(1, {rows} + 1) t(i)
        ORDER BY i
    """


def generate(path: Path, rows: int, failing: bool) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp.parquet")
    con = duckdb.connect()
    try:
        con.execute("SET enable_progress_bar = false")
        con.execute(f"COPY ({table_sql(rows, failing)}) TO '{tmp}' "
                    "(FORMAT parquet, COMPRESSION snappy, ROW_GROUP_SIZE 122880)")
    finally:
        con.close()
    tmp.replace(path)


def ensure_tables(data_dir: Path, rows: int) -> dict[str, Path]:
    out = {"pass": data_dir / f"orders_pass_{rows}.parquet",
           "fail": data_dir / f"orders_fail_{rows}.parquet"}
    for name, path in out.items():
        if not path.exists():
            n = rows if name == "pass" else fail_rows(rows)
            print(f"generating {path.name} ({n:,} rows) ...", flush=True)
            generate(path, n, failing=name == "fail")
    return out
