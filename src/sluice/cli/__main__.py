"""``python -m sluice.cli``."""

from sluice.cli.app import main

main()
