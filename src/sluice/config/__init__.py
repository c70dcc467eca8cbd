"""Project configuration: the ``sluice.yaml`` models and their loader.

::

    from sluice.config import load_project, check_files
    config = load_project(".", environment="dev")   # ConfigError with file:line:col
    check_files(config, ".")                          # referenced files exist
"""

from __future__ import annotations

from sluice.config.loader import CONFIG_FILE, check_files, load_project, read_config_document
from sluice.config.models import (
    Acknowledgement,
    AwsTarget,
    Checks,
    Column,
    Contract,
    Dataset,
    Environment,
    Function,
    GlueJob,
    Job,
    LocalTarget,
    ProjectConfig,
    Protection,
    PySparkJob,
    PythonJob,
    Retention,
    Source,
    SqlJob,
    Stack,
    Target,
    Workflow,
)
from sluice.config.names import DEFAULT_SCHEMA, check_relative_path, qualify
from sluice.config.substitution import ENV_VAR_PREFIX, builtins, env_var_name, substitute

__all__ = [
    "CONFIG_FILE",
    "DEFAULT_SCHEMA",
    "ENV_VAR_PREFIX",
    "Acknowledgement",
    "AwsTarget",
    "Checks",
    "Column",
    "Contract",
    "Dataset",
    "Environment",
    "Function",
    "GlueJob",
    "Job",
    "LocalTarget",
    "ProjectConfig",
    "Protection",
    "PySparkJob",
    "PythonJob",
    "Retention",
    "Source",
    "SqlJob",
    "Stack",
    "Target",
    "Workflow",
    "builtins",
    "check_files",
    "check_relative_path",
    "env_var_name",
    "load_project",
    "qualify",
    "read_config_document",
    "substitute",
]
