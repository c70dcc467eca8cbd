"""Step Functions workflows: Amazon States Language as AWS reads it.

:mod:`~sluice.workflows.validate` checks a definition the way ``ValidateStateMachineDefinition``
does (field names and types per state type and query language, comparators, paths, intrinsic
functions, JSONata syntax, Retry/Catch, ARNs, transitions, reachability), each diagnostic with
AWS's code and the JSON path it is at. :mod:`~sluice.workflows.paths` and
:mod:`~sluice.workflows.intrinsics` parse the two expression languages of JSONPath-mode states.
"""

from sluice.workflows.validate import Diagnostic, validate_definition

__all__ = ["Diagnostic", "validate_definition"]
