"""Execution modes with several commits on the retail example (prod needs an approval, so
executions pile up in front of it): ``queued`` lets them through one at a time in order,
``superseded`` lets only the newest waiting one on, ``parallel`` does not hold anyone."""

from __future__ import annotations

import itertools

from tests.serve import exec_fixtures as fx
from tests.serve.exec_fixtures import Project, RunningEngine, wait_for

from sluice.flow.gates import decide
from sluice.serve.executions import Execution

_clean_env, exec_template, project = fx._clean_env, fx.exec_template, fx.project


def _decide(p: Project, ex: Execution, *, approve: bool) -> None:
    assert ex.release_id is not None
    ws = p.workspace()
    try:
        decide(ws, "prod", ex.release_id, approve=approve)
    finally:
        ws.close()


def _stage(ex: Execution, name: str) -> str:
    return next(s.status for s in ex.stages if s.name == name)


def _blocked_at_prod(p: Project, eid: int) -> Execution:
    """The execution once it went through staging and waits to enter prod."""
    def probe() -> Execution | None:
        ex = p.execution(eid)
        ready = ex.status == "queued" and _stage(ex, "promote:staging") == "succeeded"
        return ex if ready else None
    return wait_for(probe, 90, f"execution #{eid} to wait in front of prod")


def test_queued_one_at_a_time_in_order(project: Project) -> None:
    commits = [project.set_pipeline("queued")] + [project.commit(f"c{i}") for i in (2, 3)]
    ids = [project.start(c) for c in commits]
    engine = RunningEngine(project.root, "engine-q")
    try:
        first = project.wait(ids[0], "waiting")
        second = _blocked_at_prod(project, ids[1])
        third = _blocked_at_prod(project, ids[2])
        assert second.message == f"waiting for execution #{ids[0]} to leave prod"
        assert third.message == f"waiting for execution #{ids[0]} to leave prod"
        # each group held one execution at a time, entered in creation order
        for name in ("release", "deploy:dev", "promote:staging"):
            stages = [next(s for s in ex.stages if s.name == name)
                      for ex in (first, second, third)]
            for before, after in itertools.pairwise(stages):
                assert before.finished_at is not None and after.started_at is not None
                assert before.finished_at <= after.started_at, name
        _decide(project, first, approve=True)
        engine.engine.wake()
        assert project.wait(ids[0], "succeeded").stages[-1].status == "succeeded"
        second = project.wait(ids[1], "waiting")
        assert project.execution(ids[2]).status == "queued"
        _decide(project, second, approve=False)
        engine.engine.wake()
        project.wait(ids[1], "rejected")
        third = project.wait(ids[2], "waiting")
        assert _stage(third, "approval:prod") == "waiting"
    finally:
        engine.close()


def test_superseded_newest_waiting_goes_on(project: Project) -> None:
    # the template's mode; created before any engine runs, so each newer one supersedes
    # the older ones that have not started
    early = [project.start(project.commit(f"early{i}")) for i in range(3)]
    assert [project.execution(i).status for i in early] == ["superseded", "superseded",
                                                           "queued"]
    assert {s.status for s in project.execution(early[0]).stages} == {"superseded"}
    engine = RunningEngine(project.root, "engine-s")
    try:
        holder = project.wait(early[2], "waiting")  # inside prod, at its approval
        older = project.start(project.commit("older"))
        _blocked_at_prod(project, older)
        newer = project.start(project.commit("newer"))
        engine.engine.wake()
        gone = project.wait(older, "superseded")
        assert [s.status for s in gone.stages] == ["succeeded", "succeeded", "succeeded",
                                                   "superseded", "superseded"]
        assert f"#{newer}" in gone.message
        _blocked_at_prod(project, newer)
        # the one waiting at its approval inside prod is never superseded
        assert project.execution(early[2]).status == "waiting"
        _decide(project, holder, approve=True)
        engine.engine.wake()
        project.wait(early[2], "succeeded")
        assert _stage(project.wait(newer, "waiting"), "approval:prod") == "waiting"
    finally:
        engine.close()


def test_parallel_executions_do_not_wait_for_each_other(project: Project) -> None:
    commits = [project.set_pipeline("parallel")] + [project.commit(f"p{i}") for i in (2, 3)]
    ids = [project.start(c) for c in commits]
    engine = RunningEngine(project.root, "engine-p")
    try:
        waiting = [project.wait(i, "waiting") for i in ids]  # all three at once
        assert len({ex.release_id for ex in waiting}) == 3
        for ex in waiting:
            _decide(project, ex, approve=True)
        engine.engine.wake()
        done = [project.wait(i, "succeeded") for i in ids]
        ws = project.workspace()
        try:
            prod = [d for d in ws.state.deployments("prod") if d.kind.value == "promote"]
        finally:
            ws.close()
        # one deployment per execution, never two at a time (the environment lock)
        assert sorted(d.release_id for d in prod) == sorted(ex.release_id for ex in done)
        spans = sorted((d.started_at, d.finished_at) for d in prod)
        for (_, end), (start, _) in itertools.pairwise(spans):
            assert end is not None and end <= start
    finally:
        engine.close()
