"""CloudFormation stacks at release time: templates packaged as ``aws cloudformation package``
does (:mod:`.packaging`), CDK apps synthesised (:mod:`.cdk`), both written into the release
under :data:`BUILD_DIR` with placeholders the aws target fills in at deploy
(:mod:`sluice.targets.aws.assets`)."""

from __future__ import annotations

from sluice.release.manifest import BUILD_DIR

#: a stack's packaged template: ``_sluice_build/stacks/<stack>/template.json`` (or ``.yaml``)
STACKS_DIR = f"{BUILD_DIR}/stacks"
#: packaged artifacts, content-addressed: ``_sluice_build/assets/<sha256>.<ext>``
ASSETS_DIR = f"{BUILD_DIR}/assets"


def packaged_template_paths(stack: str) -> tuple[str, str]:
    """Where a stack's packaged template may be in a release (JSON, then YAML)."""
    return (f"{STACKS_DIR}/{stack}/template.json", f"{STACKS_DIR}/{stack}/template.yaml")
