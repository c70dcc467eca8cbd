"""Release, plan, deploy, run, promote, approve/reject, rollback, status, history, load."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.text import Text

from sluice.cli import outcomes
from sluice.cli.errors import guarded
from sluice.errors import SluiceError, UsageError
from sluice.flow.decision import ACKNOWLEDGEMENTS
from sluice.project.workspace import Workspace, current_actor
from sluice.release import changed_since_release, list_releases, verify_release

if TYPE_CHECKING:  # the deployer (DuckDB, sqlglot, the quality layer) loads in the commands
    from sluice.deploy.deployer import AuditFailed, DeployOutcome
    from sluice.serve.client import Client
    from sluice.state import ApprovalRecord

JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")]
WaitOpt = Annotated[float, typer.Option(
    "--wait", min=0, metavar="SECONDS",
    help="Seconds to wait for another deployment's lock.")]
out = Console()
err = Console(stderr=True)


def _emit(data: Any) -> None:
    outcomes.emit(data)


def _team() -> Client | None:
    """The server's client in team mode (SLUICE_SERVER or `sluice login`), else None."""
    from sluice.cli.team import client

    return client()


@contextmanager
def _workspace() -> Iterator[Workspace]:
    ws = Workspace.open()
    try:
        yield ws
    finally:
        try:
            _flush_notifications(ws)
        finally:
            ws.close()


def _flush_notifications(ws: Workspace) -> None:
    """Send what this command queued, briefly (local mode has no server to do it); what
    cannot go now stays pending in the state store for a later command or a server."""
    if not ws.notified:
        return
    from sluice.notify import Dispatcher, flush_seconds

    Dispatcher(ws.root, ws.owner(), workspace=ws).flush(flush_seconds())


@contextmanager
def _progress(label: str, quiet: bool) -> Iterator[Callable[[str, str], None]]:
    from sluice.cli.progress import step_progress  # each step with its elapsed time

    with step_progress(err, label, quiet) as on_step:
        yield on_step


def _latest_release(ws: Workspace) -> str:
    releases = list_releases(ws.artifacts)
    if not releases:
        raise SluiceError("no release has been built yet", tip="sluice release")
    newest = releases[0]
    behind = changed_since_release(ws.root, ws.artifacts, newest)
    if behind:
        err.print(Text(f"warning: the newest release {newest.id[:12]} was built from commit "
                       f"{newest.commit[:12]}; HEAD has changed {behind} project file(s) since, "
                       "which this deploy does not carry (run `sluice release` first to "
                       "include them)", style="yellow"))
    return newest.id


def _show_audit_failure(exc: AuditFailed) -> None:
    from sluice.cli.auditview import show_audit_failure

    show_audit_failure(exc.audits, err)


def _audited(fn: Callable[[], DeployOutcome], as_json: bool) -> DeployOutcome:
    """Run a deploy; on a failed audit show the failing rules and samples, then re-raise."""
    from sluice.deploy.deployer import AuditFailed

    try:
        return fn()
    except AuditFailed as exc:
        if not as_json:
            _show_audit_failure(exc)
        raise


def _deploy_result(outcome: DeployOutcome, as_json: bool) -> None:
    if as_json:
        _emit(outcome.to_dict())
        return
    plan = outcome.plan
    outcomes.deployed(outcome.env, outcome.release_id, len(outcome.versions),
                      len(plan.jobs) - len(plan.recompute))


def _record(rec: ApprovalRecord) -> dict[str, Any]:
    return {"release": rec.release_id, "decision": rec.decision.value, "actor": rec.actor,
            "via": rec.via, "comment": rec.comment, "acknowledges": list(rec.acknowledges)}


def register(app: typer.Typer) -> None:
    """Add the flow commands to the root app."""

    @app.command("release")
    @guarded
    def release_cmd(
        allow_dirty: Annotated[bool, typer.Option(help="Bundle uncommitted changes too.")] = False,
        message: Annotated[str, typer.Option(
            "--message", "-m", help="A note stored in the release's manifest.")] = "",
        as_json: JsonOpt = False,
    ) -> int:
        """Build an immutable release of the current git tree."""
        from sluice.flow.releases import make_release

        with _workspace() as ws:
            manifest, created = make_release(ws, allow_dirty=allow_dirty, message=message)
            if as_json:
                _emit({"id": manifest.id, "digest": manifest.digest, "created": created,
                       "commit": manifest.commit, "files": len(manifest.files),
                       "jobs": manifest.jobs})
            else:
                verb = "built" if created else "already exists:"
                out.print(f"release {verb} [bold]{manifest.id}[/] (commit "
                          f"{manifest.commit[:10]}, {len(manifest.files)} files, "
                          f"{len(manifest.jobs)} jobs)")
        return 0

    @app.command("releases")
    @guarded
    def releases_cmd(as_json: JsonOpt = False) -> int:
        """List releases, newest first."""
        from sluice.cli.tables import releases_view
        from sluice.flow.listings import release_records

        with _workspace() as ws:
            view = releases_view(release_records(list_releases(ws.artifacts)))
        if as_json:
            _emit(view.records)
        else:
            view.print(out)
        return 0

    @app.command("plan")
    @guarded
    def plan_cmd(
        env: Annotated[str, typer.Argument(help="Environment.")],
        release: Annotated[str | None, typer.Option(help="Release id (default: newest).")] = None,
        as_json: JsonOpt = False,
    ) -> int:
        """Show what deploying a release to ENV would change."""
        from sluice.cli.tables import plan_components_view, plan_jobs_view
        from sluice.deploy.deployer import plan_deploy

        with _workspace() as ws:
            with _progress(f"planning {env}", as_json) as step:
                manifest = verify_release(ws.artifacts,
                                          _latest_release(ws) if release is None else release)
                step("verify", "done")
                plan, graph, _ = plan_deploy(ws, env, manifest, components=True,
                                             read_only=True)
                step("plan", "done")
            if as_json:
                _emit(plan.to_dict())
                return 0
            out.print(f"plan: release [bold]{plan.release_id}[/] → {env} "
                      f"(live: {plan.live_release or 'nothing'})")
            plan_jobs_view(plan).print(out)
            cfg = graph.config  # the release's own acknowledgements
            for c in plan.contract_changes:
                note = ""
                if c.breaking:
                    reason = c.acknowledged_by(cfg)
                    note = (f" (BREAKING, acknowledged: {reason})" if reason else
                            f" (BREAKING: acknowledge it under checks.acknowledge with "
                            f"dataset: {c.dataset}, change: {c.id})")
                out.print(Text(f"  contract {c.dataset}: {c.change}{note}",
                               style="red" if c.breaking else "yellow"))
            mig = plan.migrations
            if mig.get("pending") or mig.get("problems"):
                out.print(f"migrations to apply first: {', '.join(mig['pending']) or 'none'}")
                for item in mig.get("irreversible", []):
                    out.print(Text(f"  IRREVERSIBLE (no undo script): {item}", style="yellow"))
                for item in mig.get("problems", []):
                    out.print(Text(f"  problem: {item}", style="red"))
            if plan.components:
                plan_components_view(plan).print(out, title="components")
            for r in plan.reaudit:
                out.print(Text(f"  re-audit {r.dataset} (live version {r.version}): {r.reason}",
                               style="yellow"))
            out.print(f"{len(plan.recompute)} jobs to run, datasets to recompute: "
                      f"{', '.join(plan.datasets) or 'none'}")
        return 0

    @app.command("deploy")
    @guarded
    def deploy_cmd(
        env: Annotated[str, typer.Argument(help="Environment.")],
        release: Annotated[str | None, typer.Option(help="Release id (default: newest).")] = None,
        wait: WaitOpt = 0.0,
        as_json: JsonOpt = False,
    ) -> int:
        """Deploy a release to ENV with write-audit-publish."""
        api = _team()
        if api is not None:
            from sluice.cli import team

            with api:
                if team.protected(api, env):  # the server decides protected environments
                    return team.deploy(api, env, release, as_json)
        from sluice.deploy.deployer import deploy

        with _workspace() as ws, _progress(f"deploying to {env}", as_json) as step:
            release_id = _latest_release(ws) if release is None else release
            outcome = _audited(lambda: deploy(ws, env, release_id, actor=current_actor(),
                                              wait=wait, on_step=step), as_json)
            _deploy_result(outcome, as_json)
        return 0

    @app.command("run")
    @guarded
    def run_cmd(env: Annotated[str, typer.Argument(help="Environment.")], wait: WaitOpt = 0.0,
                workflow: Annotated[str | None, typer.Option(
                    help="Run this workflow instead: on the local target its definition is "
                         "executed here; on AWS the deployed one is started and followed, "
                         "then what the environment serves is audited.")] = None,
                execution_input: Annotated[str | None, typer.Option(
                    "--input", metavar="JSON|@FILE",
                    help="The workflow's execution input: JSON, or @file.json.")] = None,
                fast_waits: Annotated[bool, typer.Option(
                    "--fast-waits", help="Local workflows: Wait states and retry delays take "
                                         "no time.")] = False,
                as_json: JsonOpt = False) -> int:
        """Run the live release's pipeline on ENV's current inputs (write-audit-publish)."""
        if workflow is not None:
            from sluice.cli.workflows import run_workflow_cmd

            return run_workflow_cmd(env, workflow, execution_input, fast_waits, as_json)
        if execution_input is not None or fast_waits:
            raise UsageError("--input and --fast-waits are options of a workflow's run",
                             tip=f"sluice run {env} --workflow NAME --input …")
        from sluice.deploy.deployer import deploy

        with _workspace() as ws, _progress(f"running {env}", as_json) as step:
            live = ws.state.live(env)
            if live is None:
                raise SluiceError(f"nothing is live in {env}", tip=f"sluice deploy {env}")
            release_id = live.release_id
            outcome = _audited(lambda: deploy(ws, env, release_id, kind="run",
                                              actor=current_actor(), wait=wait, force_all=True,
                                              on_step=step), as_json)
            _deploy_result(outcome, as_json)
        return 0

    @app.command("promote")
    @guarded
    def promote_cmd(source: Annotated[str, typer.Argument(help="From environment.")],
                    dest: Annotated[str, typer.Argument(help="To environment.")],
                    wait: WaitOpt = 0.0, as_json: JsonOpt = False) -> int:
        """Deploy to DEST the release live in SOURCE, when its gates hold."""
        api = _team()
        if api is not None:
            from sluice.cli import team

            with api:
                return team.promote(api, source, dest, as_json)
        from sluice.flow.gates import promote

        with _workspace() as ws, _progress(f"promoting {source} → {dest}", as_json) as step:
            outcome = _audited(lambda: promote(ws, source, dest, wait=wait, on_step=step),
                               as_json)
            _deploy_result(outcome, as_json)
        return 0

    def _decide(env: str, release: str | None, comment: str, approve: bool,
                as_json: bool, acknowledge: tuple[str, ...] = ()) -> int:
        api = _team()
        if api is not None:
            from sluice.cli import team

            with api:
                return team.decide(api, env, release, comment, approve, as_json, acknowledge)
        from sluice.flow.gates import decide

        with _workspace() as ws:
            rec = decide(ws, env, release, approve=approve, comment=comment,
                         acknowledge=acknowledge)
            outcomes.decided(env, _record(rec), as_json)
        return 0

    def _relay(env: str, reference: str, action: str | None, release: str | None,
               region: str | None, as_json: bool) -> int:
        from sluice.flow import codepipeline as cp

        pipeline, execution = cp.parse_reference(reference)
        api = _team()
        if api is not None:
            from sluice.cli import team

            with api:
                return team.relay_codepipeline(api, env, pipeline, execution, action,
                                               release, as_json)
        client = cp.codepipeline_client(region)
        approval = cp.read_approval(client, pipeline, execution, action)
        with _workspace() as ws:
            rec = cp.record_approval(ws, env, approval, release,
                                     verified=cp.is_aws_endpoint(client))
        outcomes.decided(env, {**_record(rec), "aws_principal": approval.approver}, as_json)
        return 0

    @app.command("approve")
    @guarded
    def approve_cmd(env: Annotated[str, typer.Argument(help="Protected environment.")],
                    release: Annotated[str | None, typer.Option(
                        help="Release id or prefix (default: the one live in the "
                             "environment before ENV).")] = None,
                    comment: Annotated[str, typer.Option(
                        help="Why: recorded with the decision and shown in history.")] = "",
                    acknowledge: Annotated[list[str] | None, typer.Option(
                        help="Accept a known risk of the release: " + "; ".join(
                            f"'{k}' ({v})" for k, v in ACKNOWLEDGEMENTS.items()) + ".")]
                    = None,
                    codepipeline: Annotated[str | None, typer.Option(
                        "--codepipeline", metavar="PIPELINE:EXECUTION_ID",
                        help="Record the manual approval CodePipeline recorded for this "
                             "execution: its approver, comment and release come from "
                             "CodePipeline (the server reads them in team mode).")] = None,
                    approval_action: Annotated[str | None, typer.Option(
                        "--approval-action", metavar="STAGE/ACTION",
                        help="With --codepipeline: the manual approval action (default: "
                             "the execution's only one).")] = None,
                    region: Annotated[str | None, typer.Option(
                        help="With --codepipeline: the pipeline's region (default: "
                             "AWS_REGION).")] = None,
                    as_json: JsonOpt = False) -> int:
        """Approve a release (default: the one live upstream) for ENV."""
        if codepipeline is not None:
            if comment or acknowledge:
                raise UsageError("--codepipeline takes the comment from the approval in "
                                 "CodePipeline, and nothing can be acknowledged for its "
                                 "approver", tip="drop --comment and --acknowledge")
            return _relay(env, codepipeline, approval_action, release, region, as_json)
        if approval_action is not None or region is not None:
            raise UsageError("--approval-action and --region go with --codepipeline")
        items = [part.strip() for item in acknowledge or [] for part in item.split(",")
                 if part.strip()]  # `--acknowledge a,b` means `--acknowledge a --acknowledge b`
        for item in items:
            if item not in ACKNOWLEDGEMENTS:
                raise UsageError(f"--acknowledge {item}: unknown; known: "
                                 f"{', '.join(ACKNOWLEDGEMENTS)}")
        return _decide(env, release, comment, True, as_json, tuple(sorted(set(items))))

    @app.command("reject")
    @guarded
    def reject_cmd(env: Annotated[str, typer.Argument(help="Environment.")],
                   release: Annotated[str | None, typer.Option(
                       help="Release id or prefix (default: the one live in the environment "
                            "before ENV).")] = None,
                   comment: Annotated[str, typer.Option(
                       help="Why: recorded with the decision and shown in history.")] = "",
                   as_json: JsonOpt = False) -> int:
        """Reject a release for ENV: no command puts it there until a later approval."""
        return _decide(env, release, comment, False, as_json)

    @app.command("rollback")
    @guarded
    def rollback_cmd(env: Annotated[str, typer.Argument(help="Environment.")],
                     to: Annotated[str | None, typer.Option(
                         help="Release to return to (default: the previous one).")] = None,
                     keep_schema: Annotated[bool, typer.Option(
                         help="Leave schema migrations applied (no undo scripts run).")]
                     = False,
                     as_json: JsonOpt = False) -> int:
        """Re-point ENV to an earlier release and its data versions, without recomputing;
        migrations the earlier release lacks are undone first."""
        api = _team()
        if api is not None:
            from sluice.cli import team

            with api:
                return team.rollback(api, env, to, keep_schema, as_json)
        from sluice.flow.gates import rollback

        with _workspace() as ws:
            res = rollback(ws, env, to, keep_schema=keep_schema)
            if as_json:
                _emit(res.__dict__)
            else:
                outcomes.rolled_back(env, res.from_release, res.to_release, res.undone)
        return 0

    @app.command("status")
    @guarded
    def status_cmd(as_json: JsonOpt = False) -> int:
        """Which release and data versions are live where; pending approvals."""
        api = _team()
        if api is not None:
            from sluice.cli import team

            with api:
                return team.status(api, as_json)
        from sluice.cli.tables import status_view
        from sluice.flow.listings import status_records

        with _workspace() as ws:
            view = status_view(status_records(ws))
        if as_json:
            _emit(view.records)
        else:
            view.print(out)
        return 0

    @app.command("history")
    @guarded
    def history_cmd(env: Annotated[str | None, typer.Argument(help="Environment.")] = None,
                    limit: Annotated[int, typer.Option(
                        min=1, metavar="N", help="Show the N newest entries.")] = 30,
                    as_json: JsonOpt = False) -> int:
        """Deployments, runs, approvals and rollbacks: who, when, why."""
        api = _team()
        if api is not None:
            from sluice.cli import team

            with api:
                return team.history(api, env, limit, as_json)
        from sluice.cli.tables import history_view
        from sluice.flow.listings import history_records

        with _workspace() as ws:
            view = history_view(history_records(ws, env, limit))
        if as_json:
            _emit(view.records)
        else:
            view.print(out, detail="detail")
        return 0

    @app.command("load")
    @guarded
    def load_cmd(env: Annotated[str, typer.Argument(help="Environment.")],
                 folder: Annotated[Path, typer.Argument(help="Folder to copy.")]) -> int:
        """Copy FOLDER into ENV's object storage (the local stand-in for `aws s3 sync`)."""
        with _workspace() as ws:
            if not folder.is_dir():
                raise SluiceError(f"{folder} is not a folder")
            target = ws.target(env)
            count = target.load_objects(folder)
            out.print(f"copied {count} files from {folder} into {target.objects_url()}")
        return 0

    @app.command("gc")
    @guarded
    def gc_cmd(env: Annotated[str | None, typer.Argument(
                   help="Environment (default: every deployed one).")] = None,
               dry_run: Annotated[bool, typer.Option(
                   "--dry-run", help="Show what would be dropped; change nothing.")] = False,
               as_json: JsonOpt = False) -> int:
        """Drop dataset versions and releases that no retained live state refers to."""
        from sluice.deploy.gc import collect_garbage

        with _workspace() as ws:
            reports = collect_garbage(ws, env, dry_run=dry_run)
            if as_json:
                _emit([r.to_dict() for r in reports])
                return 0
            verb = "would drop" if dry_run else "dropped"
            for r in reports:
                for dep in r.recovered:
                    out.print(f"{r.env}: finished interrupted deployment {dep}")
                for dep in r.unfinished:
                    out.print(f"{r.env}: deployment {dep} is unfinished; gc recovers it first")
                dropped = sum(len(v) for v in r.dropped_versions.values())
                kept = sum(len(v) for v in r.kept_versions.values())
                out.print(f"{r.env}: {verb} {dropped} dataset versions and "
                          f"{len(r.dropped_releases)} releases (kept {kept} versions and "
                          f"{len(r.kept_releases)} releases of the last {r.retention} "
                          "live states)")
                for d, versions in sorted(r.dropped_versions.items()):
                    out.print(Text(f"  {d}: {', '.join(versions)}", style="dim"))
                _print_quarantine(r, verb)
                for rid in r.dropped_releases:
                    out.print(Text(f"  release {rid}", style="dim"))
        return 0


def _print_quarantine(report: Any, verb: str) -> None:
    """gc's lines about versions an audit refused (kept for retention.quarantine_days)."""
    gone = sum(len(v) for v in report.dropped_quarantined.values())
    kept = sum(len(v) for v in report.kept_quarantined.values())
    if gone or kept:
        out.print(f"{report.env}: {verb} {gone} quarantined versions older than "
                  f"{report.quarantine_days} days (kept {kept})")
    for d, versions in sorted(report.dropped_quarantined.items()):
        out.print(Text(f"  {d}: {', '.join(versions)} (quarantined)", style="dim"))


def register_extra(app: typer.Typer) -> None:
    """ship, demo, init."""

    @app.command("ship")
    @guarded
    def ship_cmd(allow_dirty: Annotated[bool, typer.Option(
                     help="Release uncommitted changes too.")] = False,
                 as_json: JsonOpt = False) -> int:
        """Release the current commit and move it along the promotion order while gates hold."""
        api = _team()
        if api is not None:
            from sluice.cli import team

            with api:
                return team.ship(api, allow_dirty, as_json)
        from sluice.flow.ship import ship

        with _workspace() as ws, _progress("shipping", as_json) as step:
            res = ship(ws, allow_dirty=allow_dirty, on_step=step)
            if as_json:
                _emit(res.__dict__)
            else:
                outcomes.shipped(res.release_id, res.deployed, res.stopped_at, res.reason)
        return 0

    @app.command("demo")
    @guarded
    def demo_cmd(directory: Annotated[Path, typer.Option(
            "--dir", help="Workspace to create.")] = Path("sluice-demo")) -> int:
        """Walk the whole story on the retail example in a fresh workspace."""
        from sluice.demo import run_demo

        return run_demo(directory.resolve())

    @app.command("init")
    @guarded
    def init_cmd(directory: Annotated[Path, typer.Argument(
                     help="Project folder (created if missing).")] = Path("."),
                 template: Annotated[str, typer.Option(
                     metavar="NAME",
                     help="What to scaffold: 'blank' (one CSV source, one SQL job, its "
                          "contract and rules; DuckDB only) or 'retail' (the full example: "
                          "SQL, Python, PySpark and Glue jobs, dev/staging/prod).")] = "blank",
                 ci: Annotated[str | None, typer.Option(
                     metavar="SYSTEM",
                     help="Also write CI: 'github' (Actions workflow), 'codebuild' "
                          "(buildspec.yml) or 'codepipeline' (a CloudFormation template of "
                          "a CodePipeline, ci/codepipeline.yml); in an existing project, "
                          "only that.")] = None,
                 ) -> int:
        """Scaffold a working project in DIRECTORY from a template (default: blank)."""
        from sluice.project.ci import check_ci_kind, write_ci
        from sluice.project.scaffold import scaffold, template_dir

        template_dir(template)  # unknown names are refused before anything is written
        if ci is not None:
            check_ci_kind(ci)
        if ci is not None and (directory / "sluice.yaml").exists():
            path = write_ci(directory, ci)
            out.print(f"wrote {path}: " + ("a CodePipeline to deploy with  aws cloudformation "
                                           "deploy  (docs/codepipeline.md)" if ci == "codepipeline"
                                           else "sluice check on pull requests, sluice ship "
                                                "on main"))
            return 0
        scaffold(directory, template)
        if ci is not None:
            out.print(f"wrote {write_ci(directory, ci)}")
        out.print(f"created a sluice project ({template} template) in {directory}. Next:",
                  soft_wrap=True)
        for step in (f"cd {directory}", "git init && git add -A && git commit -m init",
                     "sluice check", "sluice release && sluice load dev data && "
                     "sluice deploy dev"):
            out.print(Text(f"  {step}"), soft_wrap=True)
        return 0
