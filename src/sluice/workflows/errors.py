"""The errors of an execution, as Step Functions names them (``States.TaskFailed``, a Lambda
function's own ``errorType`` …): what Retry and Catch match and a failed execution reports."""

from __future__ import annotations


class StatesError(Exception):
    """An error raised inside an execution: ``error`` is its name, ``cause`` its detail."""

    def __init__(self, error: str, cause: str = "") -> None:
        super().__init__(f"{error}: {cause}" if cause else error)
        self.error = error
        self.cause = cause

    @property
    def output(self) -> dict[str, str]:
        """The error output a Catch passes on: ``{"Error": …, "Cause": …}``."""
        return {"Error": self.error, "Cause": self.cause}


def runtime(cause: str) -> StatesError:
    """``States.Runtime``: what no Retry or Catch handles (a path that selects nothing, a
    value of the wrong type)."""
    return StatesError("States.Runtime", cause)


#: a task whose resource is neither the project's nor mocked: a setup problem, not a failure
#: of the workflow, so no Retry or Catch of the definition hides it
UNMOCKED = "Sluice.UnmockedResource"
#: what no Retry or Catch handles
UNCATCHABLE = frozenset({"States.Runtime", "States.DataLimitExceeded", UNMOCKED})
