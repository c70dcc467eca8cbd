"""Environment declarations: target (by ``type``), parameters and protection rules."""

from __future__ import annotations

from typing import Annotated, Literal, Self

from pydantic import Field, field_validator, model_validator

from sluice.config.base import ConfigModel, Loc, problems_error
from sluice.config.names import ParamName, ParamValue

# Names substituted by the loader besides an environment's own parameters.
RESERVED_PARAMETERS = ("env", "project")


class LocalTarget(ConfigModel):
    """The embedded target: DuckDB warehouse (default) or a PostgreSQL URL, local files."""

    type: Literal["local"]
    warehouse: str = "duckdb"

    @field_validator("warehouse")
    @classmethod
    def _check_warehouse(cls, value: str) -> str:
        if value != "duckdb" and not value.startswith(("postgresql://", "postgres://")):
            # Never echo the value: a database URL may carry a password.
            raise ValueError("expected 'duckdb' or a postgresql:// URL")
        return value


class RedshiftWarehouse(ConfigModel):
    """Redshift reached through the Data API: Serverless (``workgroup``) or provisioned
    (``cluster``), with a Secrets Manager secret or temporary credentials for ``db_user``."""

    database: str
    workgroup: str | None = None
    cluster: str | None = None
    secret_arn: str | None = None
    db_user: str | None = None

    @model_validator(mode="after")
    def _one_place(self) -> Self:
        if (self.workgroup is None) == (self.cluster is None):
            raise problems_error("RedshiftWarehouse", [
                ((), "name exactly one of workgroup (Redshift Serverless) or cluster "
                     "(provisioned)")])
        return self


class AwsTarget(ConfigModel):
    """An AWS account: releases and dataset versions in S3, the Glue Data Catalog, Step
    Functions, Lambda, CloudFormation and (optionally) Redshift."""

    type: Literal["aws"]
    region: Annotated[str, Field(pattern=r"^[a-z]{2}(-[a-z]+)+-\d$")]
    bucket: Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")]
    prefix: Annotated[str, Field(pattern=r"^[A-Za-z0-9!_.*'()/-]+$")] = "sluice"
    profile: str | None = None
    role_arn: Annotated[str, Field(pattern=r"^arn:aws[\w-]*:iam::\d{12}:role/.+$")] | None = None
    external_id: str | None = None
    kms_key_id: str | None = None
    #: a local endpoint (moto, LocalStack) instead of AWS's
    endpoint_url: Annotated[str, Field(pattern=r"^https?://")] | None = None
    #: Glue databases are named ``<prefix><schema>``; default ``<env>_`` so environments that
    #: share an account never share tables (set "" when each environment has its own account)
    glue_database_prefix: str | None = None
    redshift: RedshiftWarehouse | None = None
    #: where PySpark jobs run in a deploy: Glue job runs, or local-mode Spark on the deploying
    #: machine (small jobs, or a local endpoint such as moto whose Glue runs nothing)
    pyspark: Literal["glue", "local"] = "glue"
    #: the role Glue jobs, state machines and functions run as, unless one names its own
    execution_role: Annotated[str, Field(pattern=r"^arn:aws[\w-]*:iam::\d{12}:role/.+$")] | None \
        = None

    @model_validator(mode="after")
    def _external_id_needs_role(self) -> Self:
        if self.external_id and not self.role_arn:
            raise problems_error("AwsTarget", [
                (("external_id",), "external_id is only used when assuming role_arn; set "
                                   "role_arn or remove external_id")])
        return self


Target = Annotated[LocalTarget | AwsTarget, Field(discriminator="type")]


class Protection(ConfigModel):
    """Gates to enter an environment."""

    approval_required: bool = False
    approvers: list[str] = Field(default_factory=list)
    auto_promote: bool = True
    require_checks: bool = False
    #: refuse an approval by whoever authored the release's commit or built the release
    distinct_approver: bool = False

    @model_validator(mode="after")
    def _approvers_need_approval(self) -> Self:
        # Listing approvers without requiring approval looks protected but gates nothing.
        if self.approvers and not self.approval_required:
            raise problems_error(
                "Protection",
                [
                    (
                        ("approvers",),
                        "approvers are listed but approval_required is false, so nobody is "
                        "asked; set approval_required: true or remove approvers",
                    )
                ],
            )
        return self


class Environment(ConfigModel):
    """A place to deploy: where (target), with what (parameters), behind which gates."""

    target: Target = Field(default_factory=lambda: LocalTarget(type="local"))
    parameters: dict[ParamName, ParamValue] = Field(default_factory=dict)
    protection: Protection = Field(default_factory=Protection)

    @model_validator(mode="after")
    def _not_reserved(self) -> Self:
        problems: list[tuple[Loc, str]] = [
            (("parameters", name), f"parameter name {name!r} is reserved: ${{{name}}} is built in")
            for name in RESERVED_PARAMETERS
            if name in self.parameters
        ]
        if problems:
            raise problems_error("Environment", problems)
        return self
