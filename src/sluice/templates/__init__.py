"""Project templates of ``sluice init --template NAME`` (see :mod:`sluice.project.scaffold`).

``blank/`` lives here; ``retail`` is the bundled example (:mod:`sluice.examples`), which the wheel
carries as ``sluice/_examples/retail`` (``force-include`` in pyproject.toml).
"""
