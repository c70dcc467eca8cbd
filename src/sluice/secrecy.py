"""Secret values this process knows, and how sluice keeps them out of output, state and files.

**Which values are secret.** When ``sluice.yaml`` is loaded (:func:`sluice.config.load_project`)
two sources are registered here:

- the value of every ``SLUICE_ENV_*`` variable of the environment (every override, whatever
  the parameter's name: values supplied by the deploying environment are treated as secrets);
- the value of every parameter, of any environment, whose name looks secret
  (:data:`SECRET_NAME`: ``password``, ``passwd``, ``secret``, ``token``, ``key``).

Values shorter than :data:`MIN_LENGTH` (4) characters and the words ``true``, ``false``,
``null`` and ``none`` are not registered: masking ``0`` or ``dev`` or ``true`` would garble
every message and every ``--json`` output, and such a value protects nothing anyway.

**Masking.** :func:`mask` replaces every occurrence of a registered value, longest first,
with ``***`` (and the password of any ``scheme://user:password@`` URL). The state store
(:mod:`sluice.state.redact`), notifications, the check cache and the CLI's output streams
all go through it, so a job error that echoes a secret is stored and printed masked. Only
exact occurrences are found: a value the job transformed (encoded, split, upper-cased) is
not recognised.

**Keyed fingerprints.** A fingerprint is stored and compared, never reversed; a plain
SHA-256 of a weak password is recovered by a dictionary attack. :func:`keyed` is
HMAC-SHA256 under a random 32-byte key kept in the sluice home (``.sluice/secret.key``,
mode 0600, created on first use; :func:`use_key_file`). A changed secret still changes the
fingerprint; another home (a fresh CI runner) has another key, so jobs whose fingerprint
involves a secret recompute once there. Without a home (library use) the key lives in
memory for the process.

**Private files.** :func:`private_dir` and :func:`private_file` create folders 0700 and
files 0600 whatever the umask: the home, ``state.db``, warehouses, artifacts and the check
cache hold data and journals that only their owner should read.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import re
import secrets as _random
import stat
import threading
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

__all__ = [
    "MASK",
    "MIN_LENGTH",
    "SECRET_NAME",
    "contains_secret",
    "forget",
    "is_secret",
    "keyed",
    "keyed_params",
    "keyed_strings",
    "mask",
    "mask_json",
    "private_dir",
    "private_file",
    "register",
    "register_environ",
    "register_parameters",
    "registered",
    "use_key_file",
]

MASK = "***"
MIN_LENGTH = 4
SECRET_NAME = re.compile(r"password|passwd|secret|token|key", re.IGNORECASE)
ENV_VAR_PREFIX = "SLUICE_ENV_"  # the same as sluice.config.substitution (no import: layering)
KEY_FILE = "secret.key"
KEY_BYTES = 32
#: a scheme is at most 32 characters and starts after a non-scheme character, so a long run of
#: letters is not rescanned from each of its characters (linear, not quadratic)
_URL_CREDENTIALS = re.compile(
    r"(?<![a-zA-Z0-9+.\-])(?P<head>[a-zA-Z][a-zA-Z0-9+.\-]{0,31}://[^:/@\s]*):[^@/\s]+@")
#: a ``sluice serve`` token (sluice.serve.tokens): its public id stays readable
_SLUICE_TOKEN = re.compile(r"(?P<head>slc_[0-9a-f]{12}_)[A-Za-z0-9_-]{43}")
_HARMLESS = frozenset({"true", "false", "null", "none"})

_lock = threading.Lock()
_sources: dict[str, frozenset[str]] = {}
_pattern: re.Pattern[str] | None = None
_values: frozenset[str] = frozenset()
_key_file: Path | None = None
_key: bytes | None = None


# -- the registry ----------------------------------------------------------------------------


def _worth_masking(value: str) -> bool:
    return len(value) >= MIN_LENGTH and value.strip().lower() not in _HARMLESS


def register(source: str, values: Iterable[str]) -> None:
    """Set the secret values known from ``source`` (replacing what it registered before).

    Sources are names such as ``environ`` or ``config:/path/to/project``; loading the same
    config again replaces its values instead of accumulating stale ones.
    """
    global _pattern, _values
    kept = frozenset(v for v in values if isinstance(v, str) and _worth_masking(v))
    with _lock:
        if _sources.get(source) == kept:
            return
        _sources[source] = kept
        _values = frozenset().union(*_sources.values())
        _pattern = None


def forget(source: str) -> None:
    """Drop what ``source`` registered (tests; a long-lived process done with a project)."""
    global _pattern, _values
    with _lock:
        if _sources.pop(source, None) is not None:
            _values = frozenset().union(*_sources.values())
            _pattern = None


def register_environ(environ: Mapping[str, str]) -> None:
    """Register the value of every ``SLUICE_ENV_*`` variable of ``environ``."""
    register("environ", (v for k, v in environ.items() if k.startswith(ENV_VAR_PREFIX)))


def register_parameters(source: str, parameters: Mapping[str, Mapping[str, str]]) -> None:
    """Register every secret-looking parameter of one config (env → name → value)."""
    register(source, (value for params in parameters.values()
                      for name, value in params.items() if SECRET_NAME.search(name)))


def _ensure_environ() -> None:
    # A command that fails before any config is loaded still masks SLUICE_ENV_* values.
    if "environ" not in _sources:
        register_environ(os.environ)


def registered() -> frozenset[str]:
    """Every secret value known to this process."""
    _ensure_environ()
    return _values


def _compiled() -> re.Pattern[str] | None:
    global _pattern
    _ensure_environ()
    with _lock:
        if _pattern is None and _values:
            # longest first: a secret that contains another is masked whole
            ordered = sorted(_values, key=lambda v: (-len(v), v))
            _pattern = re.compile("|".join(re.escape(v) for v in ordered))
        return _pattern


def mask(text: str) -> str:
    """``text`` with the password of any ``scheme://user:password@`` URL, the secret part of
    any ``sluice serve`` token and every registered secret value replaced by ``***``."""
    if not text:
        return text
    if "://" in text:
        text = _URL_CREDENTIALS.sub(lambda m: f"{m.group('head')}:{MASK}@", text)
    if "slc_" in text:
        text = _SLUICE_TOKEN.sub(lambda m: f"{m.group('head')}{MASK}", text)
    pattern = _compiled()
    return text if pattern is None else pattern.sub(MASK, text)


def mask_json(value: Any) -> Any:
    """A copy of JSON-like ``value`` with :func:`mask` applied to every string, key or value."""
    if isinstance(value, Mapping):
        return {mask(k) if isinstance(k, str) else k: mask_json(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [mask_json(v) for v in value]
    if isinstance(value, str):
        return mask(value)
    return value


def contains_secret(text: str) -> bool:
    pattern = _compiled()
    return pattern is not None and pattern.search(text) is not None


def is_secret(name: str, value: str) -> bool:
    """A parameter whose name looks secret or whose value is a registered secret."""
    return bool(SECRET_NAME.search(name)) or (value in registered())


# -- keyed hashing ---------------------------------------------------------------------------


def use_key_file(path: Path) -> None:
    """Key fingerprints of secrets with the key in ``path`` (created on first use)."""
    global _key_file, _key
    with _lock:
        if _key_file != path:
            _key_file, _key = path, None


def _load_key() -> bytes:
    global _key
    with _lock:
        if _key is not None:
            return _key
        if _key_file is None:
            _key = _random.token_bytes(KEY_BYTES)
            return _key
        path = _key_file
        try:
            private_dir(path.parent)
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            data = path.read_bytes()
            if len(data) < KEY_BYTES:  # a truncated key file is useless; never hash with it
                raise ValueError(f"{path} is not a sluice key ({len(data)} bytes)") from None
            _key = data
            return _key
        key = _random.token_bytes(KEY_BYTES)
        with os.fdopen(fd, "wb") as fh:
            os.fchmod(fh.fileno(), 0o600)
            fh.write(key)
        _key = key
        return _key


def keyed(value: str) -> str:
    """HMAC-SHA256 of ``value`` under this home's key, tagged so it is never mistaken for
    a plain digest."""
    digest = hmac.new(_load_key(), value.encode("utf-8"), hashlib.sha256).hexdigest()
    return f"hmac-sha256:{digest}"


def keyed_params(params: Mapping[str, str]) -> dict[str, str]:
    """``params`` with each secret value (see :func:`is_secret`) replaced by its keyed hash."""
    return {k: keyed(v) if is_secret(k, v) else v for k, v in params.items()}


def keyed_strings(value: Any) -> Any:
    """A copy of JSON-like ``value`` where every string containing a registered secret is
    replaced by its keyed hash (for fingerprints of config with substituted parameters)."""
    if isinstance(value, str):
        return keyed(value) if contains_secret(value) else value
    if isinstance(value, Mapping):
        return {k: keyed_strings(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [keyed_strings(v) for v in value]
    return value


# -- private files ---------------------------------------------------------------------------


def private_dir(path: Path, *, tighten: bool = False) -> Path:
    """Create ``path`` and its missing parents as folders 0700 (whatever the umask).

    An existing folder is left alone unless ``tighten``: then group and others lose access
    (only for folders sluice owns, such as its home; never a shared parent like ``/tmp``).
    """
    path = Path(path)
    missing = []
    here = path
    while not here.exists() and here.parent != here:
        missing.append(here)
        here = here.parent
    path.mkdir(parents=True, exist_ok=True)
    for folder in missing:
        os.chmod(folder, 0o700)  # mkdir's mode is filtered by the umask; chmod is not
    if tighten and not missing:
        _tighten(path)
    return path


def private_file(path: Path) -> Path:
    """Create ``path`` empty with mode 0600 if it is missing (its folder 0700), or take
    group and other access away from an existing one. Returns ``path``."""
    path = Path(path)
    private_dir(path.parent)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        _tighten(path)
    else:
        os.fchmod(fd, 0o600)
        os.close(fd)
    return path


def _tighten(path: Path) -> None:
    try:
        st = path.stat()
        if st.st_uid == os.getuid() and st.st_mode & 0o077:
            os.chmod(path, stat.S_IMODE(st.st_mode) & ~0o077)
    except OSError:
        pass  # not ours or gone: nothing to tighten
