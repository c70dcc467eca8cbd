"""Exploring what an environment serves: ``sluice datasets``, ``show``, ``query`` and
``quality check --env`` (docs/explore.md).

Everything goes through a target's read-only reader (:mod:`sluice.targets.reader`): the
warehouse is opened read-only, and a query is vetted first (one SELECT over the datasets the
environment serves and its sources, :func:`sluice.project.sqlguard.vet_read_query`), then
rewritten to the physical versions it reads. Versions an audit refused are kept in
quarantine and can be shown and queried by naming them (``--version DATASET=VERSION``).
"""

from sluice.explore.data import (
    DatasetInfo,
    Rows,
    evaluate_in_env,
    list_datasets,
    local_time,
    parse_pins,
    query,
    show,
)

__all__ = ["DatasetInfo", "Rows", "evaluate_in_env", "list_datasets", "local_time",
           "parse_pins", "query", "show"]
