"""CloudFormation templates read with cfn-lint's own decoder (JSON, or YAML with the
short-form tags ``!Ref``, ``!Sub``, ``!GetAtt`` … read as their long forms), so each value
keeps its line, and written back in the format they came in."""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from sluice.errors import ReleaseError

Format = Literal["json", "yaml"]


@dataclass(frozen=True)
class Template:
    path: str  # project-relative
    data: Any  # cfn-lint's nodes: dicts and strings that know their line
    format: Format


def load_template(root: Path, rel: str) -> Template:
    """The template at ``rel`` (project-relative); a ReleaseError at its line if it does not
    parse."""
    from cfnlint.decode import decode_str

    try:
        text = (root / rel).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ReleaseError(f"cannot read template {rel}: {exc}",
                           tip="fix the path in sluice.yaml or the template that names it") \
            from exc
    data, problems = decode_str(text)
    if problems or not isinstance(data, dict):
        first = problems[0] if problems else None
        where = f"{rel}:{first.linenumber}" if first else rel
        said = first.message if first else "it is not a mapping of sections"
        raise ReleaseError(f"{where}: the template does not parse: {said}",
                           tip=f"run cfn-lint {rel}")
    return Template(rel, data, "json" if text.lstrip().startswith("{") else "yaml")


def line_of(node: Any) -> int | None:
    """The 1-based line of a decoded value, when the decoder recorded it."""
    mark = getattr(node, "start_mark", None)
    line = getattr(mark, "line", None)
    return line + 1 if isinstance(line, int) else None


def plain(node: Any) -> Any:
    """The decoded template as plain dicts, lists and scalars (YAML dates as their text)."""
    if isinstance(node, dict):
        return {str(k): plain(v) for k, v in node.items()}
    if isinstance(node, list):
        return [plain(v) for v in node]
    if isinstance(node, dt.date):
        return node.isoformat()
    if isinstance(node, str):
        return str(node)
    return node


def dump(data: Any, fmt: Format) -> str:
    """Deterministic text of a template: JSON stays JSON, YAML is written in long form."""
    if fmt == "json":
        return json.dumps(plain(data), indent=2, ensure_ascii=False) + "\n"
    import yaml

    return str(yaml.safe_dump(plain(data), sort_keys=False, allow_unicode=True, width=4096))
