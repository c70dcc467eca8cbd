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

Value-based masking applies to every string, keys or not: each secret value this process
knows (every ``SLUICE_ENV_*`` override and every secret-looking parameter, see
:mod:`sluice.secrecy`) becomes ``"***"`` wherever it occurs, so a job error that echoes a
password is stored masked. Free-text messages (:func:`redact_text`) get URL credential
masking and value masking.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sluice import secrecy

__all__ = ["MASK", "SECRET_KEY_PATTERN", "mask_values", "redact", "redact_text"]

MASK = secrecy.MASK
SECRET_KEY_PATTERN = secrecy.SECRET_NAME


def redact_text(text: str) -> str:
    """Mask the password of any ``scheme://user:password@`` URL inside ``text`` and every
    known secret value (:func:`sluice.secrecy.mask`)."""
    return secrecy.mask(text)


def mask_values(value: Any) -> Any:
    """A copy of ``value`` (JSON-like) with :func:`redact_text` applied to every string
    value and key, but no key-based masking (for records whose keys carry meaning)."""
    return secrecy.mask_json(value)


def redact(value: Any) -> Any:
    """A copy of ``value`` (JSON-like) with secret-looking keys and URL passwords masked."""
    if isinstance(value, Mapping):
        return {
            redact_text(k) if isinstance(k, str) else k:
            MASK if SECRET_KEY_PATTERN.search(str(k)) else redact(v) for k, v in value.items()
        }
    if isinstance(value, list | tuple):
        return [redact(v) for v in value]
    if isinstance(value, str):
        return redact_text(value)
    return value
