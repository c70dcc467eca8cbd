"""The flow tests' projects (tests/flow/conftest.py): the retail example as a git project,
release 1 live in dev."""

from tests.flow.conftest import (  # noqa: F401 - fixtures
    Project,
    _clean_env,
    deployed,
    deployed_template,
    fresh,
)
