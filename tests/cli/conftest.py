"""The flow tests' projects (tests/flow/conftest.py) for the CLI tests: the retail example as a
git project, release 1 live in dev."""

from tests.flow.conftest import (  # noqa: F401 - fixtures
    _clean_env,
    deployed,
    deployed_template,
    fresh,
)
