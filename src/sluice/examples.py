"""Where the bundled example projects are: inside an installed wheel (``sluice/_examples``,
see ``[tool.hatch.build.targets.wheel.force-include]`` in pyproject.toml) or, for a checkout
and an editable install, the repository's ``examples/`` folder."""

from __future__ import annotations

from pathlib import Path

from sluice.errors import SluiceError

_PACKAGED = Path(__file__).resolve().parent / "_examples"
_CHECKOUT = Path(__file__).resolve().parents[2] / "examples"


def examples_root() -> Path:
    """The folder holding ``retail/`` and ``quality/``: the wheel's copy first."""
    return _PACKAGED if _PACKAGED.is_dir() else _CHECKOUT


def example(name: str) -> Path:
    """The folder of the bundled example ``name`` (``retail``, ``quality``)."""
    path = examples_root() / name
    if not path.is_dir():
        raise SluiceError(f"the bundled example {name!r} is missing: looked in {path}",
                          tip="reinstall sluice: pip install --force-reinstall sluice-cd")
    return path
