"""What every part of the runtime shares: the error for an unsupported API."""

from __future__ import annotations

DOCS = "docs/glue.md"


class GlueUnsupportedError(NotImplementedError):
    """An ``awsglue`` API (or an option of one) that sluice's runtime does not implement."""


GlueUnsupportedError.__module__ = "awsglue"  # as tracebacks name it (awsglue exports it)


def unsupported(api: str, detail: str = "") -> GlueUnsupportedError:
    """The error to raise for ``api`` (``"GlueContext.create_dynamic_frame.from_rdd"``,
    ``"format 'avro'"``): it names the API and points at the list of what is supported."""
    extra = f" ({detail})" if detail else ""
    return GlueUnsupportedError(
        f"{api} is not supported by sluice's local Glue runtime{extra}; see {DOCS} for what "
        "is supported and where it differs from AWS Glue")
