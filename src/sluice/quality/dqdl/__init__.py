"""DQDL: the parser of AWS Glue Data Quality's rule language."""

from sluice.quality.dqdl.parser import parse_ruleset, parse_ruleset_file

__all__ = ["parse_ruleset", "parse_ruleset_file"]
