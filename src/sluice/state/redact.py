"""Keep secrets out of the state store.

Free-form JSON written to the store (step ``detail``, event ``payload``, audit ``summary``)
passes through :func:`redact` first:

- the value of every key whose name contains ``password``, ``passwd``, ``secret``, ``token``
  or ``key`` (case-insensitive, anywhere in the name: ``api_key``, ``AwsSecretAccessKey``,
  ``db_password``) is replaced by ``"***"``, whatever its type, at any depth;
- credentials inside URL-like strings (``scheme://user:password@host``) become
  ``scheme://user:***@host``.

The match is deliberately broad: a harmless key such as ``primary_key`` is masked too. Losing
a value in a journal is cheap; a leaked credential in a long-lived state file is not. Rename
such keys (``primary_columns``) if their value matters in the journal.

Free-text messages only get URL credential masking (:func:`redact_text`).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

__all__ = ["MASK", "SECRET_KEY_PATTERN", "redact", "redact_text"]

MASK = "***"
SECRET_KEY_PATTERN = re.compile(r"password|passwd|secret|token|key", re.IGNORECASE)
_URL_CREDENTIALS = re.compile(r"(?P<head>[a-zA-Z][a-zA-Z0-9+.\-]*://[^:/@\s]*):[^@/\s]+@")


def redact_text(text: str) -> str:
    """Mask the password of any ``scheme://user:password@`` URL inside ``text``."""
    return _URL_CREDENTIALS.sub(lambda m: f"{m.group('head')}:{MASK}@", text)


def redact(value: Any) -> Any:
    """A copy of ``value`` (JSON-like) with secret-looking keys and URL passwords masked."""
    if isinstance(value, Mapping):
        return {
            k: MASK if SECRET_KEY_PATTERN.search(str(k)) else redact(v) for k, v in value.items()
        }
    if isinstance(value, list | tuple):
        return [redact(v) for v in value]
    if isinstance(value, str):
        return redact_text(value)
    return value
