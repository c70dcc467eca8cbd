"""``sluice init``: copy a project template into a folder.

``blank`` ships inside the package (``sluice/templates/blank``): a minimal valid project
(one source, one SQL job, its contract and rules) that runs on DuckDB alone. ``retail`` is
the bundled example (:mod:`sluice.examples`: ``examples/retail`` in a checkout, its copy in
the wheel): SQL, Python, PySpark and Glue jobs, three environments, an approval gate.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from sluice.errors import UsageError

#: Template names, the default first, with what each scaffolds (shown by ``--help``).
TEMPLATES = {
    "blank": "a minimal project: one CSV source, one SQL job, its contract and rules",
    "retail": "the retail example: SQL, Python, PySpark and Glue jobs, dev/staging/prod",
}
DEFAULT_TEMPLATE = "blank"

_PACKAGE = Path(__file__).resolve().parents[1] / "templates"
_IGNORE = shutil.ignore_patterns(".sluice", "__pycache__", "*.pyc", ".pytest_cache",
                                 ".ruff_cache")
GITIGNORE = ".sluice/\n__pycache__/\n"


def template_dir(name: str) -> Path:
    """The folder of template ``name``; unknown names are a UsageError listing the choices."""
    if name not in TEMPLATES:
        raise UsageError(f"--template {name}: unknown template",
                         tip="choose one of: " + ", ".join(
                             f"{n} ({what})" for n, what in TEMPLATES.items()))
    from sluice.examples import examples_root

    for base in (_PACKAGE, examples_root()):
        folder = base / name
        if (folder / "sluice.yaml").is_file():
            return folder
    raise UsageError(f"template {name} is missing from this installation of sluice "
                     f"(looked in {_PACKAGE / name} and {examples_root() / name})",
                     tip="reinstall sluice-cd:  pip install --force-reinstall sluice-cd")


def scaffold(directory: Path, template: str = DEFAULT_TEMPLATE) -> list[Path]:
    """Copy ``template`` into ``directory`` (created if needed) and add a ``.gitignore``.

    Refuses a folder that already holds a ``sluice.yaml``. Returns the files written,
    relative to ``directory``, sorted.
    """
    source = template_dir(template)
    config = directory / "sluice.yaml"
    if config.exists():
        raise UsageError(f"{config} already exists",
                         tip="pick an empty folder, or add CI only:  sluice init --ci github")
    written: list[Path] = []

    def copy(src: str, dst: str) -> str:
        written.append(Path(dst).relative_to(directory))
        return str(shutil.copy2(src, dst))

    shutil.copytree(source, directory, dirs_exist_ok=True, ignore=_IGNORE, copy_function=copy)
    gitignore = directory / ".gitignore"
    if not gitignore.exists():
        gitignore.write_text(GITIGNORE, encoding="utf-8")
        written.append(Path(".gitignore"))
    return sorted(written)
