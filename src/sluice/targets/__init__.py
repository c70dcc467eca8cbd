"""Deploy targets: where an environment lives. One folder per target, one contract."""

from sluice.targets.base import Capabilities, Target, create_target

__all__ = ["Capabilities", "Target", "create_target"]
