"""Libraries sluice uses never print on the terminal by themselves."""

from __future__ import annotations


def test_sqlglot_warnings_never_reach_the_terminal() -> None:
    import subprocess
    import sys

    code = ("import sluice, sqlglot\n"
            "sqlglot.parse('CREATE GROUP analysts', read='redshift')\n")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=True)
    assert proc.stderr == ""
