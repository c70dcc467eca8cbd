"""CI scaffolding (``sluice init --ci``): a GitHub Actions workflow or an AWS CodeBuild
buildspec that runs ``sluice check`` on pull requests and ``sluice ship`` on the main branch,
or the CloudFormation template of an AWS CodePipeline around sluice
(:mod:`sluice.project.codepipeline`), rendered from the project's promotion order.

Both install the distribution ``sluice-cd`` (``sluice`` on PyPI is an unrelated project) with
the ``spark`` and ``check`` extras, pinned to the version of sluice that wrote them."""

from __future__ import annotations

from pathlib import Path

from sluice import __version__
from sluice.config import ProjectConfig
from sluice.errors import UsageError

# replaced by `requirement()` when written; GitHub's ${{ }} makes str.format unusable
_PIN = "@SLUICE_REQUIREMENT@"

GITHUB = """\
# sluice: check every pull request, ship every commit to main (written by `sluice init --ci`)
name: sluice
on:
  pull_request:
  push:
    branches: [main]

env:
  CI: "true"
  # a shared state store, so that CI and laptops see the same releases and approvals
  SLUICE_STATE_URL: ${{ secrets.SLUICE_STATE_URL }}

jobs:
  check:
    if: github.event_name == 'pull_request'
    runs-on: ubuntu-latest
    steps:
      - uses: actions/checkout@v4
        with: {fetch-depth: 0}  # --changed-since needs the base branch
      - uses: actions/setup-python@v5
        with: {python-version: "3.11"}
      - uses: actions/setup-java@v4  # PySpark jobs run on local-mode Spark
        with: {distribution: temurin, java-version: "17"}
      - run: pip install "@SLUICE_REQUIREMENT@"
      - run: >
          sluice check --changed-since "origin/${{ github.base_ref }}"
          --junit reports/check.xml --markdown reports/check.md
      - if: always()
        run: cat reports/check.md >> "$GITHUB_STEP_SUMMARY"

  ship:
    if: github.event_name == 'push'
    runs-on: ubuntu-latest
    concurrency: sluice-ship  # one ship at a time; environments are locked anyway
    steps:
      - uses: actions/checkout@v4
      - uses: actions/setup-python@v5
        with: {python-version: "3.11"}
      - uses: actions/setup-java@v4
        with: {distribution: temurin, java-version: "17"}
      - run: pip install "@SLUICE_REQUIREMENT@"
      - run: sluice check --junit reports/check.xml
      - run: sluice ship  # release, deploy, promote while gates hold; stops at approvals
"""

CODEBUILD = """\
# sluice: check pull requests, ship the main branch (written by `sluice init --ci`).
# Webhook filters: PULL_REQUEST_CREATED, PULL_REQUEST_UPDATED and PUSH to main.
version: 0.2

env:
  variables:
    CI: "true"
  # SLUICE_STATE_URL: put the shared state store's URL in Secrets Manager and map it here
  #   secrets-manager:
  #     SLUICE_STATE_URL: sluice/state-url

phases:
  install:
    runtime-versions:
      python: 3.11
      java: corretto17
    commands:
      - pip install "@SLUICE_REQUIREMENT@"
  build:
    commands:
      - |
        case "$CODEBUILD_WEBHOOK_EVENT" in
          PULL_REQUEST_*)
            git fetch --quiet origin "${CODEBUILD_WEBHOOK_BASE_REF#refs/heads/}"
            sluice check --changed-since FETCH_HEAD \\
              --junit reports/check.xml --markdown reports/check.md ;;
          *)
            sluice check --junit reports/check.xml && sluice ship ;;
        esac

reports:
  sluice-check:
    base-directory: reports
    files: [check.xml]
    file-format: JUNITXML
"""

TEMPLATES = {"github": (".github/workflows/sluice.yml", GITHUB),
             "codebuild": ("buildspec.yml", CODEBUILD)}
#: CI definitions rendered from the project's configuration (none: the default environments)
RENDERED = ("codepipeline",)
KINDS = (*TEMPLATES, *RENDERED)


def requirement(version: str = __version__) -> str:
    """The pip requirement the CI definitions install: this very version of sluice."""
    return f"sluice-cd[spark,check]=={version}"


def codepipeline_requirement(version: str = __version__) -> str:
    """:func:`requirement` plus boto3 (the ``aws`` extra): CodePipeline's builds deploy to
    AWS targets and read approvals from CodePipeline."""
    return requirement(version).replace("[spark,check]", "[spark,check,aws]")


def check_ci_kind(kind: str) -> None:
    """Refuse an unknown CI system, naming the known ones."""
    if kind not in KINDS:
        raise UsageError(f"--ci {kind}: unknown CI system",
                         tip=f"choose one of: {', '.join(KINDS)}")


def render(kind: str, config: ProjectConfig | None = None) -> tuple[str, str]:
    """The path (relative to the project) and text of the CI definition of ``kind``
    (``config``: the project's, for the definitions rendered from it)."""
    check_ci_kind(kind)
    if kind == "codepipeline":
        from sluice.project import codepipeline

        return codepipeline.PATH, codepipeline.render(config)
    rel, text = TEMPLATES[kind]
    return rel, text.replace(_PIN, requirement())


def write_ci(directory: Path, kind: str) -> Path:
    """Write the CI definition of ``kind`` (for the project in ``directory``, if any);
    refuses to overwrite an existing one."""
    config = None
    if kind in RENDERED and (directory / "sluice.yaml").is_file():
        from sluice.config import load_project

        config = load_project(directory)
    rel, text = render(kind, config)
    path = directory / rel
    if path.exists():
        raise UsageError(f"{path} already exists", tip="remove it first to regenerate it")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path
