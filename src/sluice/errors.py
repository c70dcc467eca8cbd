"""The exception tree of sluice.

Every error that reaches a user is a :class:`SluiceError`. Each carries a message that says
what failed and where, and an optional ``tip`` with the next thing to do. The CLI prints
``Error: <message>`` and ``Tip: <tip>`` and maps the class to an exit code; it never shows a
traceback unless ``--debug`` is given.

::

    SluiceError
    ├── UsageError               bad command-line input (exit 2)
    ├── ConfigError              invalid configuration (exit 2)
    ├── QualityError             data-quality layer
    │   ├── DQDLSyntaxError      a ruleset that does not parse (line:column, quoted text)
    │   ├── RuleDefinitionError  a ruleset that parses but cannot be evaluated as written
    │   ├── DataSourceError      a dataset that cannot be read (missing file, unknown table)
    │   └── HistoryError         the metric history store cannot be read or written
    ├── EngineError              an execution engine failed
    │   └── EngineUnavailableError  an engine's driver, server or runtime is missing
    ├── ReleaseError             a release cannot be built, found, verified or materialised (exit 2)
    ├── GateError                a gate of an environment does not hold (exit 1; recorded)
    │   └── ApprovalNeeded       every other gate holds; an (acknowledging) approval is missing
    ├── StateError               the state store cannot be opened, migrated, read or written
    │   └── LockError            an environment is locked by another deployment
    │       └── WarehouseBusyError  a DuckDB file is held open by another process
    ├── AuthError                no, a bad, an expired or a revoked credential (HTTP 401, exit 2)
    │   └── ForbiddenError       a known caller without the role for the action (HTTP 403, exit 1)
    ├── ServerError              the control plane cannot be reached or answered badly (exit 2)
    └── NotifyError              a notification channel refused or could not take a message
                                 (never reaches a user: the outbox retries it, sluice.notify)

Third-party exceptions are caught at the seam where they happen and re-raised as the most
specific of these with ``raise ... from exc``.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Location:
    """Where in a source file something is (1-based line and column)."""

    source: str
    line: int
    column: int

    def __str__(self) -> str:
        return f"{self.source}:{self.line}:{self.column}"


class SluiceError(Exception):
    """Base of every error sluice reports to a user."""

    exit_code = 1

    def __init__(self, message: str, *, tip: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.tip = tip

    def __str__(self) -> str:
        return self.message


class UsageError(SluiceError):
    """The command line asks for something that cannot be done."""

    exit_code = 2


class ConfigError(SluiceError):
    """Configuration is invalid."""

    exit_code = 2


class QualityError(SluiceError):
    """Base of the data-quality layer's errors."""

    exit_code = 2


class DQDLSyntaxError(QualityError):
    """A DQDL document that does not parse."""

    def __init__(
        self, message: str, *, location: Location, snippet: str = "", tip: str | None = None
    ) -> None:
        full = f"{location}: {message}"
        if snippet:
            full = f"{full}\n{snippet}"
        super().__init__(full, tip=tip)
        self.location = location
        self.reason = message


class RuleDefinitionError(QualityError):
    """A rule that parses but cannot be evaluated as written (bad arity, unknown type)."""

    def __init__(
        self, message: str, *, location: Location | None = None, tip: str | None = None
    ) -> None:
        super().__init__(f"{location}: {message}" if location else message, tip=tip)
        self.location = location
        self.reason = message


class DataSourceError(QualityError):
    """A dataset that cannot be read."""


class HistoryError(QualityError):
    """The metric history store cannot be read or written."""


class EngineError(SluiceError):
    """An execution engine failed to run a statement."""

    exit_code = 2


class EngineUnavailableError(EngineError):
    """An engine's driver, server or runtime is not installed or not reachable."""


class ReleaseError(SluiceError):
    """A release cannot be built, found, verified or materialised."""

    exit_code = 2


class GateError(SluiceError):
    """A gate of an environment does not hold: nothing was changed, and the refusal is
    recorded in the history (``gate_refused``)."""


class ApprovalNeeded(GateError):
    """The one gate left is an approval (or one that acknowledges a risk, or one by an
    allowed approver): what a pipeline execution waits for instead of failing."""


class StateError(SluiceError):
    """The state store cannot be opened, migrated, read or written, or a record is missing."""


class LockError(StateError):
    """An environment's deployment lock is held by someone else."""


class WarehouseBusyError(LockError):
    """A DuckDB database file is held open by another process (a DuckDB CLI, a notebook, a
    BI tool), so sluice cannot open it for writing. ``holder`` is that process as DuckDB
    names it (``/usr/bin/duckdb (PID 4242)``), or ``""`` when DuckDB does not say."""

    def __init__(self, message: str, *, path: str, holder: str = "", pid: int | None = None,
                 tip: str | None = None) -> None:
        super().__init__(message, tip=tip)
        self.path = path
        self.holder = holder
        self.pid = pid


class AuthError(SluiceError):
    """The caller could not be authenticated: no credential, or a bad, expired or revoked one
    (the server answers 401)."""

    exit_code = 2
    status = 401


class ForbiddenError(AuthError):
    """An authenticated caller without the role the action needs (the server answers 403)."""

    exit_code = 1
    status = 403


class ServerError(SluiceError):
    """The control plane (``SLUICE_SERVER``) cannot be reached, or answered with nonsense."""

    exit_code = 2


class NotifyError(SluiceError):
    """A notification channel could not take a message. ``permanent`` errors (a 404 from a
    webhook, a refused SMTP login) are not retried; the others are, with backoff. The outbox
    (:mod:`sluice.notify`) records it and never lets it fail what caused the notification."""

    def __init__(self, message: str, *, permanent: bool = False, tip: str | None = None) -> None:
        super().__init__(message, tip=tip)
        self.permanent = permanent
