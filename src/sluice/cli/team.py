"""The flow commands in team mode: the server executes them (docs/serve.md, "The CLI in
team mode").

With a server (:func:`sluice.serve.client.remote`), ``promote``, ``approve``, ``reject``,
``rollback``, ``deploy`` to a protected environment and ``ship`` are requests to it: the
server authenticates the caller, takes the environment's lock and decides the gates;
``status`` and ``history`` read from it. Output and ``--json`` are those of local mode (the
same tables from the same records); a refusal exits with the code the same error has
locally (the server sends its class and exit code).
"""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.text import Text

from sluice.cli import outcomes
from sluice.errors import SluiceError, UsageError
from sluice.serve.client import Client, remote

out = Console()
err = Console(stderr=True)

_MARK = {"succeeded": "✓", "failed": "✗", "rejected": "✗", "skipped": "↷",
         "superseded": "↷", "interrupted": "✗", "waiting": "…", "running": "…"}


def client() -> Client | None:
    """A client of the server in use, or None in local mode."""
    target = remote()
    return None if target is None else Client(target)


_emit = outcomes.emit


def deploy_line(outcome: dict[str, Any]) -> None:
    plan = outcome["plan"]
    outcomes.deployed(outcome["env"], outcome["release"], len(outcome["new_versions"]),
                      len(plan["jobs"]) - len(plan["recompute"]))


def status(api: Client, as_json: bool) -> int:
    from sluice.cli.tables import status_view

    view = status_view(api.get("/api/status"))
    if as_json:
        _emit(view.records)
    else:
        view.print(out)
    return 0


def history(api: Client, env: str | None, limit: int, as_json: bool) -> int:
    from sluice.cli.tables import history_view

    view = history_view(api.get("/api/history", env=env, limit=limit))
    if as_json:
        _emit(view.records)
    else:
        view.print(out, detail="detail")
    return 0


def _deployment(api: Client, path: str, body: dict[str, Any], as_json: bool) -> int:
    """POST a deployment-like request; print what went live (or its JSON)."""
    outcome = api.post(path, body)
    if as_json:
        _emit(outcome)
    else:
        deploy_line(outcome)
    return 0


def promote(api: Client, source: str, dest: str, as_json: bool) -> int:
    return _deployment(api, f"/api/environments/{dest}/promotions", {"from": source}, as_json)


def protected(api: Client, env: str) -> bool:
    """Whether the server's rules in force protect ``env`` (unknown: not protected here)."""
    return any(e["env"] == env and e["protected"] for e in api.get("/api/environments"))


def deploy(api: Client, env: str, release: str | None, as_json: bool) -> int:
    return _deployment(api, f"/api/environments/{env}/deployments", {"release": release},
                       as_json)


def decide(api: Client, env: str, release: str | None, comment: str, approve: bool,
           as_json: bool, acknowledge: tuple[str, ...] = ()) -> int:
    rec = api.post(f"/api/environments/{env}/approvals",
                   {"release": release, "decision": "approve" if approve else "reject",
                    "comment": comment, "acknowledge": list(acknowledge)})
    outcomes.decided(env, rec, as_json)
    return 0


def relay_codepipeline(api: Client, env: str, pipeline: str, execution_id: str,
                       action: str | None, release: str | None, as_json: bool) -> int:
    """Ask the server to read a CodePipeline approval itself and record it: only the
    pipeline and execution are sent, never an approver."""
    rec = api.post(f"/api/environments/{env}/approvals/codepipeline",
                   {"pipeline": pipeline, "execution_id": execution_id,
                    "approval_action": action, "release": release})
    outcomes.decided(env, rec, as_json)
    return 0


def rollback(api: Client, env: str, to: str | None, keep_schema: bool, as_json: bool) -> int:
    res = api.post(f"/api/environments/{env}/rollbacks", {"to": to, "keep_schema": keep_schema})
    if as_json:
        _emit(res)
        return 0
    outcomes.rolled_back(env, res["from_release"], res["to_release"], res["undone"])
    return 0


def _git(root: Path, *args: str) -> str:
    try:
        proc = subprocess.run(["git", *args], cwd=root, capture_output=True, text=True,
                              timeout=30, check=False)
    except (OSError, subprocess.SubprocessError) as exc:
        raise UsageError(f"cannot run git in {root}: {exc}") from exc
    return proc.stdout.strip() if proc.returncode == 0 else ""


def ship(api: Client, allow_dirty: bool, as_json: bool) -> int:
    """Start an execution of HEAD on the server and follow it until it ends or waits."""
    from sluice.project.workspace import Workspace, find_root
    from sluice.release.builder import uncommitted_paths

    if allow_dirty:
        raise UsageError("--allow-dirty cannot ship through a server: it builds commits",
                         tip="commit and push your changes, or unset SLUICE_SERVER to ship "
                             "locally")
    root = find_root()
    commit = _git(root, "rev-parse", "HEAD")
    if not commit:
        raise UsageError(f"{root} has no commit to ship", tip="git commit first")
    ws = Workspace.open(root)
    try:  # what a local release would call uncommitted
        dirty = uncommitted_paths(root, ws.artifacts)
    finally:
        ws.close()
    if dirty:
        shown = ", ".join(dirty[:5]) + (f" and {len(dirty) - 5} more" if len(dirty) > 5 else "")
        err.print(Text(f"Warning: uncommitted changes are not shipped ({shown}): the server "
                       f"builds commit {commit[:12]}", style="yellow"))
    branch = _git(root, "rev-parse", "--abbrev-ref", "HEAD")
    started = api.post("/api/executions",
                       {"commit": commit, "ref": None if branch in ("", "HEAD") else branch})
    eid = int(started["execution"])
    if not as_json:
        err.print(f"execution #{eid} of commit {commit[:12]} on {api.remote.url}",
                  highlight=False)
    final = follow(api, eid, quiet=as_json)
    if as_json:
        _emit(final)
        return 0 if final["status"] in ("succeeded", "waiting") else 1
    summary(final)
    if final["status"] not in ("succeeded", "waiting"):
        raise SluiceError(f"execution #{eid} {final['status']}: {final['message']}",
                          tip=f"its log:  GET /api/executions/{eid}")
    return 0


def follow(api: Client, eid: int, *, quiet: bool = False) -> dict[str, Any]:
    """Print each stage as it changes until the execution ends or waits; its last state."""
    seen: dict[int, str] = {}
    last: dict[str, Any] | None = None
    for event, data in api.events(eid):
        if event not in ("execution", "end"):
            continue
        last = data
        for stage in data["stages"]:
            if seen.get(stage["position"]) != stage["status"] and stage["status"] != "pending":
                seen[stage["position"]] = stage["status"]
                if not quiet:
                    note = f"  {stage['message']}" if stage["message"] else ""
                    err.print(Text(f"  {_MARK.get(stage['status'], '·')} {stage['name']} "
                                   f"{stage['status']}{note}"))
        if event == "end" or data["status"] == "waiting":
            break
    if last is None:
        raise SluiceError(f"the server sent nothing about execution #{eid}",
                          tip=f"look at it:  GET /api/executions/{eid}")
    return last


def summary(ex: dict[str, Any]) -> None:
    """The lines local ``ship`` prints, from an execution."""
    release = ex["release_id"] or "(none)"
    deployed = [s["env"] for s in ex["stages"]
                if s["kind"] in ("deploy", "promote") and s["status"] == "succeeded"]
    stop = next((s for s in ex["stages"] if s["status"] not in ("succeeded", "skipped")), None)
    if stop is not None:
        outcomes.shipped(release, deployed, stop["env"] or stop["name"],
                         stop["message"] or ex["message"],
                         style="yellow" if ex["status"] == "waiting" else "red")
    elif ex["status"] == "succeeded":
        outcomes.shipped(release, deployed, None, "")
    else:  # ended between stages (cancelled, superseded): say how
        outcomes.went(release, deployed)
        if ex["message"]:
            out.print(Text(ex["message"], style="yellow"))
