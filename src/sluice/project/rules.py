"""A dataset's quality gate as code: its DQDL rules file and its contract.

Rules travel in a release like SQL does, so they are held to the same standard:

- ``${name}`` in a ``.dqdl`` file is replaced by the environment's parameters (``$${name}``
  is a literal ``${name}``), exactly as in SQL files; an unknown name is an error at its
  line:column.
- The rules file must exist; a missing one is reported at its ``rules:`` line in sluice.yaml.
- A rule may name only columns of the dataset's contract, when the dataset has one that
  lists all its columns (otherwise the integration check finds such rules on the sample
  data).

:func:`check_rules` runs from :func:`sluice.project.graph.build_graph`, so ``sluice release``
and every deploy refuse a gate that cannot be evaluated. :func:`gate_digests` says whether two
releases audit a dataset differently: the deploy plan re-audits a live version whose gate
changed when it is not recomputed anyway (see :mod:`sluice.deploy.plan`).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from sluice.config import CONFIG_FILE, ProjectConfig, read_config_document, substitute
from sluice.config.base import did_you_mean
from sluice.config.names import qualify
from sluice.config.yamlsource import display_path
from sluice.errors import ConfigError, DQDLSyntaxError, Location, RuleDefinitionError, SluiceError

if TYPE_CHECKING:
    from sluice.config.datasets import Contract
    from sluice.quality.model import Ruleset

#: Rule types whose every parameter is a column of the dataset.
COLUMN_RULES = frozenset({
    "ColumnDataType", "Completeness", "IsComplete", "Uniqueness", "IsUnique", "IsPrimaryKey",
    "DistinctValuesCount", "UniqueValueRatio", "Entropy", "Mean", "Sum", "StandardDeviation",
    "Variance", "ColumnCorrelation", "ColumnLength", "ColumnValues", "DataFreshness",
})


def read_rules(root: Path, rules: str, params: Mapping[str, str]) -> str:
    """The text of a rules file as the audit evaluates it: ``${name}`` substituted.

    Raises OSError/UnicodeDecodeError for an unreadable file and a located ConfigError for
    an unknown or malformed ``${…}``.
    """
    text = (root / rules).read_text(encoding="utf-8")
    return substitute(text, params, where=rules)


def column_problems(ruleset: Ruleset, dataset: str,
                    contract: Contract | None) -> list[tuple[Location, str]]:
    """Rules naming a column the dataset's contract does not have (none without a contract,
    nor when the contract allows extra columns: a rule may be about one of those)."""
    if contract is None or contract.allow_extra_columns or not contract.columns:
        return []
    columns = list(contract.columns)
    lowered = {c.lower() for c in columns}
    out: list[tuple[Location, str]] = []
    for rule in ruleset.leaves():
        if rule.type not in COLUMN_RULES:
            continue
        for param in rule.params:
            if param.lower() not in lowered:
                out.append((rule.location,
                            f"{rule.type} names column {param!r}, which {dataset}'s contract "
                            f"does not have{did_you_mean(param, columns)}"))
    return out


def rules_location(root: Path, dataset: str) -> tuple[Location, str]:
    """sluice.yaml:line:col of ``datasets.<dataset>.rules`` and that path as displayed (the
    dataset's key as written in the file), as :func:`sluice.config.check_files` gives them."""
    path: list[str] = ["datasets", dataset, "rules"]
    try:
        doc = read_config_document(root)
    except SluiceError:
        return Location(CONFIG_FILE, 1, 1), display_path(path)
    block = doc.data.get("datasets") if isinstance(doc.data, dict) else None
    written = {qualify(str(k)): str(k) for k in block} if isinstance(block, dict) else {}
    path[1] = written.get(dataset, dataset)
    return doc.locate(path), display_path(path)


def dataset_rule_problems(root: Path, config: ProjectConfig, dataset: str,
                          params: Mapping[str, str]) -> list[tuple[Location, str]]:
    """Why ``dataset``'s rules cannot gate a release: a missing or unreadable file, an unknown
    ``${name}``, a ruleset that does not parse, or a rule naming a column not in the contract.
    """
    from sluice.quality.dqdl.parser import parse_ruleset  # lazy: lark is slow to import

    ds = config.datasets[dataset]
    if ds.rules is None:
        return []
    if not (root / ds.rules).is_file():
        loc, key = rules_location(root, dataset)
        return [(loc, f"{key}: file not found: {ds.rules!r}")]
    try:
        text = read_rules(root, ds.rules, params)
        ruleset = parse_ruleset(text, source=ds.rules)
    except (OSError, UnicodeDecodeError) as exc:
        loc, key = rules_location(root, dataset)
        return [(loc, f"{key}: cannot read {ds.rules!r}: {exc}")]
    except (DQDLSyntaxError, RuleDefinitionError) as exc:
        return [(exc.location or Location(ds.rules, 1, 1), exc.reason)]
    except SluiceError as exc:  # an unknown ${name}: the message starts with file:line:col
        head = exc.message.splitlines()[0]
        at = _parse_location(head)
        return [(at, head[len(str(at)) + 2:]) if at else (Location(ds.rules, 1, 1), head)]
    from sluice.quality.sqlexpr import sql_errors  # where clauses and CustomSql: sqlguard

    return column_problems(ruleset, dataset, ds.contract) + [
        (e.location or Location(ds.rules, 1, 1), e.reason) for e in sql_errors(ruleset)]


def check_rules(root: Path, config: ProjectConfig, params: Mapping[str, str]) -> None:
    """Raise one located ConfigError listing every rules problem of the project."""
    problems: list[tuple[Location, str]] = []
    for name in sorted(config.datasets):
        problems += dataset_rule_problems(root, config, name, params)
    if problems:
        lines = [f"{loc}: {text}" for loc, text in dict.fromkeys(problems)]
        raise ConfigError(
            "\n".join(lines),
            tip="fix the rules (or the contract) and commit; `sluice check` lists every "
                "problem of the project")


def gate_digests(root: Path, config: ProjectConfig, dataset: str,
                 params: Mapping[str, str]) -> tuple[str | None, str]:
    """(digest of the rules as audited, digest of the contract) of ``dataset``.

    The rules digest hashes the substituted text ("" without rules) and is None when the file
    cannot be read: a caller must then treat the rules as changed.
    """
    ds = config.datasets.get(dataset)
    rules: str | None = _sha256("")
    if ds is not None and ds.rules is not None:
        try:
            rules = _sha256(read_rules(root, ds.rules, params))
        except (OSError, UnicodeDecodeError, ConfigError):
            rules = None
    contract = ds.contract.model_dump(mode="json") if ds is not None and ds.contract else None
    return rules, _sha256(json.dumps(contract, sort_keys=True))


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def _parse_location(text: str) -> Location | None:
    parts = text.split(":", 3)
    if len(parts) == 4 and parts[1].isdigit() and parts[2].isdigit():
        return Location(parts[0], int(parts[1]), int(parts[2]))
    return None
