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


# A discriminated union of one for now; `aws` joins it without changing the YAML shape.
Target = Annotated[LocalTarget, Field(discriminator="type")]


class Protection(ConfigModel):
    """Gates to enter an environment."""

    approval_required: bool = False
    approvers: list[str] = Field(default_factory=list)
    auto_promote: bool = True
    require_checks: bool = False

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
