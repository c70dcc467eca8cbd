"""Holds the ``awsglue`` package: put this folder on ``sys.path`` (see sluice.glue)."""
