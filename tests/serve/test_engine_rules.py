"""What an execution's stages decide by: the server's own project (its work tree and the
rules in force), never the sluice.yaml of the commit it carries; who built its release; and
the remote it fetches a missing commit from."""

from __future__ import annotations

from pathlib import Path

import pytest

from sluice.errors import ConfigError
from sluice.flow.authorship import builders
from sluice.release.git import Git
from sluice.serve.checkouts import ensure_commit
from sluice.serve.executions import start_execution
from tests.serve import exec_fixtures as fx
from tests.serve.exec_fixtures import Project, RunningEngine

_clean_env, exec_template, project, engine = (fx._clean_env, fx.exec_template, fx.project,
                                              fx.engine)

PROTECTED = "    protection:\n      approval_required: true\n      auto_promote: false\n"


def test_a_commit_that_drops_prod_protection_still_waits_for_prod_approval(
        project: Project, engine: RunningEngine) -> None:
    config = project.root / "sluice.yaml"
    protected = config.read_text(encoding="utf-8")
    assert PROTECTED in protected
    config.write_text(protected.replace(PROTECTED, ""), encoding="utf-8")
    commit = project.commit_all("prod needs no approval")
    config.write_text(protected, encoding="utf-8")  # the server's work tree keeps it
    eid = project.start(commit)
    engine.engine.wake()
    ex = project.wait(eid, "waiting")
    approval = next(s for s in ex.stages if s.name == "approval:prod")
    assert approval.status == "waiting", ex.to_dict()
    assert "loosens the protection of prod" in approval.message  # the commit drops it
    ws = project.workspace()
    try:
        assert ws.state.live("prod") is None
    finally:
        ws.close()


def test_the_release_is_recorded_as_built_by_the_executions_actor(
        project: Project, engine: RunningEngine) -> None:
    ws = project.workspace()
    try:
        eid = start_execution(ws, commit=project.commit("by carol"), ref="refs/heads/main",
                              trigger="api", detail={}, actor="carol")
    finally:
        ws.close()
    engine.engine.wake()
    ex = project.wait(eid, "waiting")
    assert ex.release_id is not None
    ws = project.workspace()
    try:
        assert builders(ws, ex.release_id) == ["carol"]
    finally:
        ws.close()


@pytest.mark.parametrize("remote", ["--upload-pack=touch {marker}", "-c", "--all"])
def test_a_remote_that_looks_like_an_option_is_refused(project: Project, tmp_path: Path,
                                                       remote: str) -> None:
    marker = tmp_path / "ran"
    with pytest.raises(ConfigError, match="looks like an option"):
        ensure_commit(project.root, project.home, "ab" * 20, remote.format(marker=marker))
    assert not marker.exists()
    with pytest.raises(ConfigError, match="looks like an option"):
        Git(project.root).resolve_remote(remote)


def test_a_relative_path_remote_is_made_absolute_and_a_missing_one_refused(
        project: Project) -> None:
    git = Git(project.root)
    assert git.resolve_remote(".") == str(project.root.resolve())
    assert git.resolve_remote("origin") == "origin"
    with pytest.raises(ConfigError, match="no repository at"):
        git.resolve_remote("./nowhere")
