"""Differences between two versions of a project's contracts, each marked breaking or not.

Every change has a stable id (``removed:discount``, ``type:amount``, ``renamed:a->b``,
``nullability:country``, ``primary_key``, ``dataset_removed``) that ``checks.acknowledge`` in
sluice.yaml refers to. A change is breaking when a consumer written against the old contract
can fail on the new data: a column removed or renamed, a type that is not a widening of the
old one, a column that becomes NOT NULL, a new NOT NULL column, a changed primary key.
"""

from __future__ import annotations

from dataclasses import dataclass

from sluice.config import ProjectConfig

_ALIASES = {
    "INT": "INTEGER", "INT4": "INTEGER", "SIGNED": "INTEGER", "INT8": "BIGINT",
    "LONG": "BIGINT", "INT2": "SMALLINT", "SHORT": "SMALLINT", "INT1": "TINYINT",
    "FLOAT4": "FLOAT", "REAL": "FLOAT", "FLOAT8": "DOUBLE", "DOUBLE PRECISION": "DOUBLE",
    "NUMERIC": "DECIMAL", "STRING": "VARCHAR", "TEXT": "VARCHAR", "CHAR": "VARCHAR",
    "BPCHAR": "VARCHAR", "BOOL": "BOOLEAN", "DATETIME": "TIMESTAMP",
}
#: Each type and the types it widens to without loss (DECIMAL: see _decimal_holds).
_WIDER = {
    "TINYINT": ["SMALLINT", "INTEGER", "BIGINT", "HUGEINT", "DOUBLE"],
    "SMALLINT": ["INTEGER", "BIGINT", "HUGEINT", "DOUBLE"],
    "INTEGER": ["BIGINT", "HUGEINT", "DOUBLE"],
    "BIGINT": ["HUGEINT"],
    "FLOAT": ["DOUBLE"],
    "DATE": ["TIMESTAMP"],
}
#: Decimal digits an integer type needs.
_INT_DIGITS = {"TINYINT": 3, "SMALLINT": 5, "INTEGER": 10, "BIGINT": 19, "HUGEINT": 39}


@dataclass(frozen=True)
class ContractChange:
    dataset: str
    change: str  # what happened, in words
    breaking: bool
    id: str = ""  # stable id, for acknowledgements

    def acknowledged_by(self, config: ProjectConfig) -> str | None:
        """The reason given in ``checks.acknowledge`` for this change, if any."""
        for ack in config.checks.acknowledge:
            if ack.dataset == self.dataset and ack.change == self.id:
                return ack.reason
        return None


def canonical_type(spec: str) -> str:
    base = spec.strip().upper().split("(")[0].strip()
    return _ALIASES.get(base, base)


def is_widening(old: str, new: str) -> bool:
    a, b = canonical_type(old), canonical_type(new)
    if b == "DECIMAL" and (a == "DECIMAL" or a in _INT_DIGITS):
        return _decimal_holds(old, new)
    if a == b:
        return _params(new) >= _params(old) if a == "VARCHAR" else True
    return b in _WIDER.get(a, [])


def _decimal_holds(old: str, new: str) -> bool:
    """Whether every value of ``old`` (an integer or a DECIMAL(p, s)) fits DECIMAL ``new``:
    as many integer digits (p - s) and as many fraction digits (s)."""
    a = canonical_type(old)
    old_int, old_frac = (_INT_DIGITS[a], 0) if a in _INT_DIGITS else _precision(old)
    new_int, new_frac = _precision(new)
    return new_int >= old_int and new_frac >= old_frac


def _precision(spec: str) -> tuple[int, int]:
    """(integer digits, fraction digits) of DECIMAL(p, s); unbounded without parameters."""
    params = _params(spec)
    if len(params) == 1 and params[0] == 1 << 30:
        return 1 << 30, 1 << 30
    p, s = (*params, 0)[:2]
    return p - s, s


def _params(spec: str) -> tuple[int, ...]:
    """(precision, scale) or (length,); a missing bound counts as unlimited."""
    if "(" not in spec:
        return (1 << 30,)
    inner = spec.split("(", 1)[1].rstrip(")")
    try:
        return tuple(int(p) for p in inner.split(","))
    except ValueError:
        return (1 << 30,)


def contract_changes(old: ProjectConfig, new: ProjectConfig) -> list[ContractChange]:
    """Column-level differences between two configs' contracts, marked breaking or not."""
    out: list[ContractChange] = []
    for name, ds in new.datasets.items():
        before = old.datasets.get(name)
        if before is None or before.contract is None or ds.contract is None:
            continue
        a, b = before.contract.columns, ds.contract.columns
        removed = [c for c in a if c not in b]
        added = [c for c in b if c not in a]
        renamed: dict[str, str] = {}
        for col in removed:  # same type, and the only candidate both ways: a rename
            same = [n for n in added if canonical_type(b[n].type) == canonical_type(a[col].type)
                    and n not in renamed.values()]
            if len(same) == 1 and len(removed) == len(added):
                renamed[col] = same[0]
        for col in removed:
            if col in renamed:
                out.append(ContractChange(name, f"column {col} renamed to {renamed[col]}", True,
                                          f"renamed:{col}->{renamed[col]}"))
            else:
                out.append(ContractChange(name, f"column {col} removed", True, f"removed:{col}"))
        for col, spec in a.items():
            if col not in b:
                continue
            nspec = b[col]
            if canonical_type(nspec.type) != canonical_type(spec.type) or \
                    nspec.type.upper().replace(" ", "") != spec.type.upper().replace(" ", ""):
                widening = is_widening(spec.type, nspec.type)
                out.append(ContractChange(
                    name, f"column {col} type {spec.type} -> {nspec.type}"
                    + (" (widening)" if widening else " (narrowing or incompatible)"),
                    not widening, f"type:{col}"))
            if spec.nullable and not nspec.nullable:
                out.append(ContractChange(name, f"column {col} no longer nullable", True,
                                          f"nullability:{col}"))
            if not spec.nullable and nspec.nullable:
                out.append(ContractChange(name, f"column {col} now nullable", False,
                                          f"nullability:{col}"))
        for col in added:
            if col not in renamed.values():
                out.append(ContractChange(name, f"column {col} added", not b[col].nullable,
                                          f"added:{col}"))
        if list(before.contract.primary_key) != list(ds.contract.primary_key):
            out.append(ContractChange(
                name, f"primary key {before.contract.primary_key} -> "
                      f"{ds.contract.primary_key}", True, "primary_key"))
    for name in old.datasets:
        if name not in new.datasets:
            out.append(ContractChange(name, "dataset removed", True, "dataset_removed"))
    return out
