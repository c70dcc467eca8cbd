"""The files a release gains from its stacks: each template with local artifacts packaged
(:mod:`.packaging`), each CDK stack synthesised (:mod:`.cdk`)."""

from __future__ import annotations

from collections.abc import Collection
from pathlib import Path

from sluice.config import ProjectConfig
from sluice.stacks import STACKS_DIR
from sluice.stacks.cdk import synthesised_template
from sluice.stacks.packaging import Build, package_template


def build_stacks(root: Path, cfg: ProjectConfig, files: Collection[str]) -> dict[str, bytes]:
    """``path in the release → bytes`` for every stack that needs building (none for a
    template without local artifacts: it deploys as written)."""
    build = Build()
    for name, stack in sorted(cfg.stacks.items()):
        if stack.template is not None:
            packaged = package_template(root, stack.template, files, build)
            if packaged is None:
                continue
            text, fmt = packaged
        else:
            assert stack.cdk is not None  # the model holds exactly one of the two
            text, fmt = synthesised_template(root, name, stack.cdk, cfg.checks.timeout,
                                             build), "json"
        build.files[f"{STACKS_DIR}/{name}/template.{fmt}"] = text.encode("utf-8")
    return build.files
