"""Every kind of check ``sluice check`` runs, in summary order."""

from __future__ import annotations

from sluice.check.base import Check
from sluice.check.kinds.asl import AslCheck
from sluice.check.kinds.cfn import CfnCheck
from sluice.check.kinds.contracts import ContractsCheck
from sluice.check.kinds.dqdl import DqdlCheck
from sluice.check.kinds.integration import IntegrationCheck
from sluice.check.kinds.migrations import MigrationsCheck
from sluice.check.kinds.project import ConfigCheck, GraphCheck
from sluice.check.kinds.sql import SqlCheck
from sluice.check.kinds.tools import LintCheck, UnitTestCheck


def all_checks() -> list[Check]:
    return [ConfigCheck(), GraphCheck(), SqlCheck(), DqdlCheck(), ContractsCheck(),
            MigrationsCheck(), LintCheck(), UnitTestCheck(), CfnCheck(), AslCheck(),
            IntegrationCheck()]
