"""Project templates of ``sluice init --template NAME`` (see :mod:`sluice.project.scaffold`).

``blank/`` lives here; ``retail`` is the repository's ``examples/retail``, which the wheel
carries as ``sluice/templates/retail`` (``force-include`` in pyproject.toml).
"""
