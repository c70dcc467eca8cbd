"""One gate decision for every command that changes an environment.

``deploy`` (with or without ``--release``), ``promote``, ``ship``, ``run``, ``rollback`` and
``migrate apply|undo|repair`` all ask :func:`decide_gates` before they change anything, and
the deployer asks again while it holds the environment's lock, so what was decided is what
happens (a decision that changed while a command waited for the lock is seen).

Where the rules come from (:func:`rules_in_force`): what the state store recorded for the
environment with its last deployment, else the release live there (verified against its
manifest, fetched from the artifact store when its folder is missing), else — an environment
never deployed — the work tree and the newest release. The gate applies the *strictest* of
those rules and the candidate release's own, so neither the candidate nor an edited work tree
can loosen them. A candidate that loosens the rules in force is itself a gated change: it
needs an approval, given under the rules in force, that acknowledges ``protection``.

What is checked, by action:

=========  ==============================================================================
all        the release verifies (manifest digest, every blob); no standing rejection of it
           for the environment; loosened rules need an approval acknowledging
           ``protection``
deploy,    the release succeeded in the environment before this one in the promotion order
promote    (its newest deployment there); ``promote`` names exactly that environment as
           source; passing checks when ``require_checks``; an approval by an allowed
           approver when ``approval_required`` (then, once planned, breaking contract changes
           and irreversible migrations need their own acknowledgements)
run        the release is the one live in the environment
migrate    the release succeeded upstream (or is live here); on a protected environment an
           approval that acknowledges ``migrations``
rollback   the release was live in the environment before (checked by the rollback)
=========  ==============================================================================

Every refusal is recorded as a ``gate_refused`` event with who, what and why.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import yaml

from sluice.config import ProjectConfig, load_project
from sluice.config.substitution import env_var_name
from sluice.errors import ApprovalNeeded, ConfigError, GateError, ReleaseError, SluiceError
from sluice.flow.authorship import own_work
from sluice.project.workspace import Workspace
from sluice.release import Manifest, installed_differences, list_releases, verify_release
from sluice.release.artifacts import hash_file
from sluice.release.builder import resolve_release_id
from sluice.release.manifest import MARKER_NAME
from sluice.secrecy import SECRET_NAME
from sluice.state import ApprovalDecision, ApprovalRecord

Action = Literal["deploy", "promote", "run", "rollback", "migrate"]

#: How an approval is known to come from its approver, where ``access:`` asks for that: the
#: control plane authenticated the caller, or CodePipeline's own record named the approver
#: (read by the server, or by a CLI from AWS's endpoint: :mod:`sluice.flow.codepipeline`).
VERIFIED_VIA = ("authenticated", "codepipeline")

#: What an approval can knowingly accept, and what each acknowledgement means.
ACKNOWLEDGEMENTS: Mapping[str, str] = {
    "breaking": "contract changes that break what the environment serves (acknowledged "
                "in sluice.yaml)",
    "irreversible": "schema migrations without an undo script",
    "protection": "a release that loosens the environment's protection",
    "migrations": "running the release's migrations by hand (sluice migrate … --release)",
}


@dataclass(frozen=True)
class EnvRules:
    """The protection rules of one environment, as the gates apply them.

    ``approvers`` is ``None`` when anyone may approve, a tuple of names otherwise (empty when
    nobody may: two lists with no name in common). ``upstream`` names the environments a
    release must have succeeded in before it may enter this one. ``authenticated`` (the
    configuration declares ``access:``): only approvals the control plane recorded for an
    authenticated caller count, and ``approvers`` name such callers. ``distinct_approver``:
    whoever authored the release's commit or built the release may not approve it.
    """

    approval_required: bool = False
    approvers: tuple[str, ...] | None = None
    require_checks: bool = False
    auto_promote: bool = True
    upstream: tuple[str, ...] = ()
    authenticated: bool = False
    distinct_approver: bool = False

    @classmethod
    def of(cls, cfg: ProjectConfig, env: str) -> EnvRules:
        """The rules ``cfg`` declares for ``env`` (KeyError-free: ``env`` must exist)."""
        protection = cfg.environment(env).protection
        order = cfg.promotion_order()
        upstream = (order[order.index(env) - 1],) if env in order[1:] else ()
        return cls(protection.approval_required,
                   tuple(sorted(set(protection.approvers))) or None,
                   protection.require_checks, protection.auto_promote, upstream,
                   cfg.access is not None, protection.distinct_approver)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> EnvRules:
        approvers = data.get("approvers")
        return cls(bool(data.get("approval_required", False)),
                   None if approvers is None else tuple(str(a) for a in approvers),
                   bool(data.get("require_checks", False)), bool(data.get("auto_promote", True)),
                   tuple(str(u) for u in data.get("upstream", ())),
                   bool(data.get("authenticated", False)),
                   bool(data.get("distinct_approver", False)))

    def to_dict(self) -> dict[str, Any]:
        return {"approval_required": self.approval_required,
                "approvers": None if self.approvers is None else list(self.approvers),
                "require_checks": self.require_checks, "auto_promote": self.auto_promote,
                "upstream": list(self.upstream), "authenticated": self.authenticated,
                "distinct_approver": self.distinct_approver}

    def strictest(self, other: EnvRules) -> EnvRules:
        """Each rule at the stricter of the two values."""
        if self.approvers is None or other.approvers is None:
            approvers = self.approvers if other.approvers is None else other.approvers
        else:
            approvers = tuple(sorted(set(self.approvers) & set(other.approvers)))
        return EnvRules(self.approval_required or other.approval_required, approvers,
                        self.require_checks or other.require_checks,
                        self.auto_promote and other.auto_promote,
                        tuple(dict.fromkeys((*self.upstream, *other.upstream))),
                        self.authenticated or other.authenticated,
                        self.distinct_approver or other.distinct_approver)

    def loosened_by(self, other: EnvRules) -> list[str]:
        """How ``other`` is weaker than these rules, in words (empty: it is not)."""
        found = []
        if self.approval_required and not other.approval_required:
            found.append("approval is no longer required")
        if self.approvers is not None:
            added = (["anyone"] if other.approvers is None
                     else sorted(set(other.approvers) - set(self.approvers)))
            if added:
                found.append(f"approvers widened to {', '.join(added)}")
        if self.require_checks and not other.require_checks:
            found.append("passing checks are no longer required")
        if not self.auto_promote and other.auto_promote:
            found.append("releases would be promoted automatically")
        dropped = [u for u in self.upstream if u not in other.upstream]
        if dropped:
            found.append(f"releases would no longer have to pass {', '.join(dropped)} first")
        # both only shape approvals: where none is required, dropping them loosens nothing
        if self.approval_required and self.authenticated and not other.authenticated:
            found.append("approvals would no longer need an authenticated approver "
                         "(access: dropped)")
        if self.approval_required and self.distinct_approver and not other.distinct_approver:
            found.append("authors could approve their own releases (distinct_approver "
                         "dropped)")
        return found

    def allows(self, actor: str) -> bool:
        """Whether ``actor`` may decide on releases for the environment."""
        return self.approvers is None or actor in self.approvers


@dataclass(frozen=True)
class GateRequest:
    """One command's wish to change an environment."""

    action: Action
    env: str
    release_id: str
    actor: str
    source: str | None = None  # promote: the environment the release comes from


@dataclass
class GateDecision:
    """What :func:`decide_gates` allowed, with the rules it applied."""

    request: GateRequest
    manifest: Manifest
    release_dir: Path
    config: ProjectConfig  # the candidate release's own configuration, for the environment
    in_force: EnvRules  # what governed the environment before this change
    candidate: EnvRules  # what the release declares
    rules: EnvRules  # the strictest of both: what was applied
    basis: str  # where ``in_force`` came from
    loosened: list[str] = field(default_factory=list)
    approval: ApprovalRecord | None = None
    #: the newest approval that did not count because its approver was only claimed
    #: (``$SLUICE_USER``) where the rules need an authenticated one
    unauthenticated: ApprovalRecord | None = None

    @property
    def release_id(self) -> str:
        return self.manifest.id

    def check_plan(self, ws: Workspace, contract_changes: Sequence[Any],
                   migrations: Mapping[str, Any]) -> None:
        """The gates that need the plan: on a protected environment, breaking contract
        changes must be acknowledged in sluice.yaml and by the approval, and so must
        migrations without an undo script."""
        if not self.rules.approval_required or self.request.action not in ("deploy", "promote"):
            return
        env, rid = self.request.env, self.release_id
        breaking = [c for c in contract_changes if c.breaking]
        unacknowledged = [c for c in breaking if c.acknowledged_by(self.config) is None]
        if unacknowledged:
            listed = "; ".join(f"{c.dataset}: {c.change} ({c.id})" for c in unacknowledged)
            self._refuse(ws, f"release {rid} breaks contracts {env} serves: {listed}",
                         "acknowledge each change under checks.acknowledge in sluice.yaml "
                         "(dataset, change, reason), then build a new release")
        if breaking and not self._acknowledges("breaking"):
            listed = "; ".join(f"{c.dataset}: {c.change}" for c in breaking)
            self._refuse(ws, f"release {rid} makes acknowledged breaking changes to {env} "
                             f"({listed}); its approval must accept them",
                         f"sluice approve {env} --release {rid} --acknowledge breaking "
                         "--comment '…'")
        irreversible = list(migrations.get("irreversible") or [])
        if irreversible and not self._acknowledges("irreversible"):
            self._refuse(ws, f"release {rid} applies migrations to {env} that cannot be undone "
                             f"({', '.join(irreversible)}); its approval must accept that",
                         f"sluice approve {env} --release {rid} --acknowledge irreversible "
                         "--comment '…'  (or add the U scripts)")

    def _acknowledges(self, what: str) -> bool:
        return self.approval is not None and what in self.approval.acknowledges

    def _refuse(self, ws: Workspace, message: str, tip: str) -> None:
        exc = GateError(message, tip=tip)
        record_refusal(ws, self.request, exc)
        raise exc


def decide_gates(ws: Workspace, request: GateRequest) -> GateDecision:
    """Allow ``request`` or raise :class:`GateError` (or :class:`ReleaseError` for a release
    that does not verify), recording every refusal in the history."""
    try:
        return _decide(ws, request)
    except (GateError, ReleaseError) as exc:
        record_refusal(ws, request, exc)
        raise


def counting_decisions(decisions: Sequence[ApprovalRecord],
                       rules: EnvRules) -> list[ApprovalRecord]:
    """The decisions (newest first) the gate weighs under ``rules``: with ``authenticated``
    a claimed approval opens nothing, while a rejection, however made, still stands."""
    if not rules.authenticated:
        return list(decisions)
    return [d for d in decisions
            if d.via in VERIFIED_VIA or d.decision is ApprovalDecision.REJECTED]


def standing_approval(ws: Workspace, env: str, release_id: str,
                      rules: EnvRules) -> ApprovalRecord | None:
    """The approval that lets ``release_id`` into ``env`` under ``rules`` as far as who
    approved goes (authenticated when required, an allowed approver, not the author or
    builder under ``distinct_approver``); None while one is still missing. What ``status``
    shows as pending; the gate itself checks the same (and the acknowledgements)."""
    decisions = counting_decisions(ws.state.approvals(env, release_id), rules)
    latest = decisions[0] if decisions else None
    if latest is None or latest.decision is not ApprovalDecision.APPROVED \
            or not rules.allows(latest.actor):
        return None
    if rules.distinct_approver and own_work(ws, release_id, latest.actor, ws.config()):
        return None
    return latest


def record_refusal(ws: Workspace, request: GateRequest, exc: SluiceError) -> None:
    """Log a refusal: who wanted what, and why not."""
    ws.state.event("gate_refused", env=request.env, actor=request.actor,
                   release_id=request.release_id or None,
                   payload={"action": request.action, "source": request.source,
                            "reason": exc.message})


def _decide(ws: Workspace, req: GateRequest) -> GateDecision:
    worktree = ws.config()
    worktree.environment(req.env)  # unknown names fail here, with a suggestion
    if req.source is not None:
        worktree.environment(req.source)
    manifest = verified_manifest(ws, req.env, req.release_id)
    rid = manifest.id
    cfg, release_dir = release_config(ws, req.env, manifest)
    try:
        candidate = EnvRules.of(cfg, req.env)
    except ConfigError as exc:
        raise GateError(f"release {rid} does not define environment {req.env}",
                        tip="deploy a release whose sluice.yaml declares it") from exc
    in_force, basis = rules_in_force(ws, req.env, worktree, exclude=rid)
    rules = in_force.strictest(candidate)
    decision = GateDecision(req, manifest, release_dir, cfg, in_force, candidate, rules, basis,
                            in_force.loosened_by(candidate))
    decisions = ws.state.approvals(req.env, rid)
    if rules.authenticated:
        decision.unauthenticated = next(
            (d for d in decisions if d.via not in VERIFIED_VIA
             and d.decision is ApprovalDecision.APPROVED), None)
    decisions = counting_decisions(decisions, rules)
    latest = decisions[0] if decisions else None
    if latest is not None and latest.decision is ApprovalDecision.REJECTED:
        raise GateError(
            f"release {rid} was rejected for {req.env} by {latest.actor} "
            f"({latest.at:%Y-%m-%d %H:%M} UTC{': ' + latest.comment if latest.comment else ''})",
            tip=f"a later approval lifts it:  sluice approve {req.env} --release {rid}"
                + (" --acknowledge protection" if decision.loosened else "")
                + " --comment '…'; or deploy another release")
    if latest is not None and latest.decision is ApprovalDecision.APPROVED:
        decision.approval = latest

    if req.action == "promote":
        check_order(req, rules)
    if req.action == "run":
        live = ws.state.live(req.env)
        if live is None or live.release_id != rid:
            raise GateError(f"release {rid} is not live in {req.env}: run re-runs the live "
                            "release", tip=f"deploy it:  sluice deploy {req.env} --release {rid}")
    if req.action in ("deploy", "promote", "migrate"):
        live = ws.state.live(req.env)
        if not (req.action == "migrate" and live is not None and live.release_id == rid):
            _check_upstream(ws, req, rid, rules)
    if req.action in ("deploy", "promote") and rules.require_checks:
        record = ws.state.get_release(rid)
        if not record.checks_passed:
            state = "failed" if record.checks_passed is False else "were not recorded"
            raise GateError(f"{req.env} requires passing checks: the checks of release {rid} "
                            f"{state}",
                            tip="run  sluice check  on its commit, then build the release "
                                "again:  sluice release")
    if rules.approval_required and req.action in ("deploy", "promote", "run", "migrate"):
        _check_overrides(req, cfg)
    needs = []  # the loosening first: an approval that accepts it satisfies the others
    if decision.loosened:
        needs.append("protection")
    if req.action in ("deploy", "promote") and rules.approval_required:
        needs.append("")
    if req.action == "migrate" and rules.approval_required:
        needs.append("migrations")
    for what in needs:
        _check_approval(ws, decision, what)
    return decision


def _check_overrides(req: GateRequest, cfg: ProjectConfig) -> None:
    """On a protected environment the parameters are part of what was approved: only
    credentials (secret-looking names) may come from ``SLUICE_ENV_*`` variables."""
    overridden = [env_var_name(req.env, name) for name in cfg.environment(req.env).parameters
                  if env_var_name(req.env, name) in os.environ and not SECRET_NAME.search(name)]
    if overridden:
        raise GateError(
            f"{req.env} is protected: {', '.join(sorted(overridden))} would change what the "
            "approved release runs there",
            tip=f"unset it; change the parameter in sluice.yaml and promote that release "
                f"(only secret parameters — names with password, secret, token or key — may "
                f"be set from the environment on {req.env})")


def check_order(req: GateRequest, rules: EnvRules) -> None:
    """``promote SOURCE ENV`` only from the environment right before ``ENV``."""
    if req.source == req.env:
        raise GateError(f"cannot promote {req.env} to itself",
                        tip=f"to re-run it:  sluice run {req.env}")
    if not rules.upstream:
        raise GateError(f"nothing is promoted into {req.env}: it is first in the promotion "
                        "order (or outside it)",
                        tip=f"deploy to it:  sluice deploy {req.env}")
    if req.source not in rules.upstream:
        raise GateError(
            f"{req.env} is promoted from {' and '.join(rules.upstream)}, not from {req.source}",
            tip=f"promote in order:  sluice promote {rules.upstream[-1]} {req.env}")


def _check_upstream(ws: Workspace, req: GateRequest, rid: str, rules: EnvRules) -> None:
    for upstream in rules.upstream:
        last = ws.state.last_deployment(upstream, rid)
        if last is None:
            raise GateError(
                f"release {rid} has not been deployed to {upstream}, which comes before "
                f"{req.env} in the promotion order",
                tip=f"deploy it there first:  sluice deploy {upstream} --release {rid}")
        if last.status.value != "succeeded":
            raise GateError(
                f"the last deployment of release {rid} to {upstream} (#{last.id}, "
                f"{last.kind.value}) {last.status.value}: it may not enter {req.env}",
                tip=f"see why:  sluice history {upstream}")


def approve_tip(rules: EnvRules, command: str) -> str:
    """How to give an approval the rules count: through the server where they need an
    authenticated approver."""
    if not rules.authenticated:
        return command
    return (f"approve through the server:  SLUICE_SERVER=https://… SLUICE_TOKEN=… {command}"
            "  (or  sluice login URL  first)")


def _check_approval(ws: Workspace, decision: GateDecision, acknowledging: str) -> None:
    req, rules, rid = decision.request, decision.rules, decision.release_id
    ack = f" --acknowledge {acknowledging}" if acknowledging else ""
    approve = approve_tip(rules, f"sluice approve {req.env} --release {rid}{ack} "
                                 "--comment '…'")
    why = {"": f"{req.env} is protected: release {rid} needs an approval",
           "migrations": f"{req.env} is protected: running the migrations of release {rid} "
                         "by hand needs an approval that acknowledges them",
           "protection": f"release {rid} loosens the protection of {req.env} "
                         f"({'; '.join(decision.loosened)}): its approval must accept that"}
    approval = decision.approval
    if approval is None:
        if not acknowledging:
            ws.notify(req.env, "approval_requested", release=rid, source=req.source,
                      actor=req.actor, approve=approve)
        claimed = decision.unauthenticated
        if claimed is not None:
            raise ApprovalNeeded(
                f"{why[acknowledging]}: the approval by {claimed.actor} does not count, it was "
                "given on the command line (a claimed identity) and approvals for "
                f"{req.env} need an authenticated approver (access: in sluice.yaml)",
                tip=approve)
        raise ApprovalNeeded(why[acknowledging], tip=approve)
    if not rules.allows(approval.actor):
        allowed = ", ".join(rules.approvers or ()) or "nobody (the approver lists of the "
        allowed += "" if rules.approvers else "release and the environment share no name)"
        raise ApprovalNeeded(f"the approval of release {rid} by {approval.actor} does not "
                             f"count for {req.env}: approvers are {allowed}", tip=approve)
    if rules.distinct_approver:
        conflict = own_work(ws, rid, approval.actor, decision.config, ws.config())
        if conflict:
            raise ApprovalNeeded(f"the approval of release {rid} by {approval.actor} does not "
                                 f"count for {req.env}: {conflict}, and {req.env} requires a "
                                 "distinct approver", tip=f"someone else approves it: {approve}")
    if acknowledging and acknowledging not in approval.acknowledges:
        raise ApprovalNeeded(why[acknowledging], tip=approve)


def rules_in_force(ws: Workspace, env: str, worktree: ProjectConfig | None = None, *,
                   exclude: str | None = None) -> tuple[EnvRules, str]:
    """The rules governing ``env`` now, and where they come from (see the module doc)."""
    recorded = ws.state.protection(env)
    if recorded is not None:
        return EnvRules.from_dict(recorded), "recorded"
    live = ws.state.live(env)
    if live is not None:
        try:
            cfg, _ = release_config(ws, env, verified_manifest(ws, env, live.release_id))
            return EnvRules.of(cfg, env), f"release {live.release_id} (live)"
        except SluiceError as exc:  # ConfigError included
            # something is live there, so its rules existed: never guess them from the
            # work tree or from releases that may never have governed it
            lines = [ln.strip(" -") for ln in exc.message.splitlines()]
            raise GateError(
                f"cannot establish the rules in force for {env}: release {live.release_id}, "
                f"live there, does not verify ({lines[-1]})",
                tip=f"restore the artifact store, or redeploy a release to {env} under an "
                    "approval") from exc
    # never deployed: the strictest of the work tree and every release ever built here, so
    # neither an edited work tree nor two quick releases can take a protection away
    rules, sources = EnvRules(), []
    if worktree is not None:
        try:
            rules = rules.strictest(EnvRules.of(worktree, env))
            sources.append("the work tree")
        except ConfigError:
            pass
    declared = _declared_rules(ws, env, exclude)
    for found in declared:
        rules = rules.strictest(found)
    if declared:
        sources.append(f"{len(declared)} earlier release(s)")
    return rules, " and ".join(sources) or "defaults"


_SAFE_LOADER: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


@functools.lru_cache(maxsize=1024)
def _parsed_blob(digest: str, path: Path) -> Any:
    """A sluice.yaml blob parsed (libyaml's loader when built with it). Blobs are content
    addressed and verified before every use, so one parse per digest serves every later
    gate decision and ``status`` of the process (the server answers many)."""
    return yaml.load(path.read_text(encoding="utf-8"), Loader=_SAFE_LOADER)


def _declared_rules(ws: Workspace, env: str, exclude: str | None) -> list[EnvRules]:
    """The rules each intact release in the artifact store declares for ``env`` (read from
    its verified sluice.yaml blob alone: cheap enough for every release)."""
    found = []
    for manifest in list_releases(ws.artifacts):
        digest = manifest.files.get("sluice.yaml")
        if manifest.id == exclude or digest is None or \
                manifest.compute_digest() != manifest.digest:
            continue
        path = ws.artifacts.path_of(digest)
        try:
            if hash_file(path) != digest:
                continue
            found.append(_rules_of_raw(_parsed_blob(digest, path), env))
        except (OSError, UnicodeDecodeError, yaml.YAMLError, TypeError, AttributeError,
                ValueError):
            continue  # a release whose config cannot be read declares nothing we can use
    return found


def _rules_of_raw(data: Any, env: str) -> EnvRules:
    """:meth:`EnvRules.of` on raw YAML (no validation): what a release declares for ``env``."""
    envs = data.get("environments") or {}
    spec = (envs.get(env) or {}).get("protection") or {}
    order = list(data.get("promotion") or envs)
    upstream = (str(order[order.index(env) - 1]),) if env in order[1:] else ()
    approvers = tuple(sorted({str(a) for a in spec.get("approvers") or ()})) or None
    return EnvRules(bool(spec.get("approval_required", False)), approvers,
                    bool(spec.get("require_checks", False)),
                    bool(spec.get("auto_promote", True)), upstream,
                    data.get("access") is not None, bool(spec.get("distinct_approver", False)))


def verified_manifest(ws: Workspace, env: str, release_id: str) -> Manifest:
    """The release's manifest, verified (digest and every blob) at the moment of use."""
    if not release_id.strip():
        raise ReleaseError("no release named (an empty release id)",
                           tip="list them with  sluice releases")
    rid = resolve_release_id(ws.artifacts, release_id)
    ws.target(env).release_dir(rid)  # a remote target fetches a release it holds
    manifest = verify_release(ws.artifacts, rid)
    wanted = release_id.strip().lower()
    if not manifest.digest.startswith(wanted):  # more than the id was given: all of it counts
        raise ReleaseError(f"no release matches {release_id!r}: release {rid} has digest "
                           f"{manifest.digest}", tip="list them with  sluice releases")
    try:
        recorded = ws.state.get_release(rid).digest
    except SluiceError:
        recorded = manifest.digest  # built elsewhere and fetched: its own digest verified
    if recorded != manifest.digest:
        # ids are digest prefixes: a manifest swapped for another with the same prefix
        # verifies on its own, but not against what was recorded when it was built
        raise ReleaseError(
            f"release {rid}: its manifest has digest {manifest.digest}, but the state store "
            f"recorded {recorded} when it was built: the artifact store was altered",
            tip="restore the artifact store, or rebuild the release from its commit")
    return manifest


def release_config(ws: Workspace, env: str, manifest: Manifest) -> tuple[ProjectConfig, Path]:
    """The configuration of a verified release and its folder in ``env``, which is rehashed
    and rebuilt from the artifact store when anything in it was altered (logged as a
    ``release_repaired`` event)."""
    target = ws.target(env)
    folder = target.release_dir(manifest.id)
    if (folder / MARKER_NAME).is_file():
        altered = installed_differences(folder, manifest)
        if altered:
            ws.state.event("release_repaired", env=env, release_id=manifest.id,
                           payload={"altered": altered[:20], "count": len(altered)})
    folder = target.stage_release(ws.artifacts, manifest)
    return load_project(folder, environment=env), folder


def record_protection(ws: Workspace, decision: GateDecision,
                      deployment_id: int | None) -> None:
    """Once ``decision``'s release is live, its rules are the ones in force: record them
    (only when they differ from what was recorded) and log a change with who let it in."""
    env, rules = decision.request.env, decision.candidate.to_dict()
    recorded = ws.state.protection(env)
    if recorded == rules:
        return
    approval = decision.approval
    reason = (f"{decision.request.action} of release {decision.release_id}"
              + (f", loosening approved by {approval.actor}" if decision.loosened and approval
                 else ""))
    ws.state.record_protection(env, decision.release_id, rules, actor=decision.request.actor,
                               reason=reason, deployment_id=deployment_id)
    ws.state.event("protection_changed", env=env, actor=decision.request.actor,
                   release_id=decision.release_id,
                   payload={"from": recorded, "from_basis": decision.basis, "to": rules,
                            "loosened": decision.loosened,
                            "approved_by": approval.actor if approval else None,
                            "reason": reason})


def approvable(ws: Workspace, env: str, release_id: str) -> tuple[EnvRules, list[str]]:
    """The rules an approval of ``release_id`` for ``env`` is judged by, and how the release
    loosens them; refuses an environment where no approval can matter."""
    worktree = ws.config()
    manifest = verified_manifest(ws, env, release_id)
    cfg, _ = release_config(ws, env, manifest)
    try:
        candidate = EnvRules.of(cfg, env)
    except ConfigError:
        candidate = EnvRules()
    in_force, _ = rules_in_force(ws, env, worktree, exclude=manifest.id)
    return in_force.strictest(candidate), in_force.loosened_by(candidate)


__all__ = ["ACKNOWLEDGEMENTS", "VERIFIED_VIA", "EnvRules", "GateDecision", "GateRequest",
           "approvable", "approve_tip", "check_order", "decide_gates", "record_protection",
           "record_refusal", "release_config", "rules_in_force", "verified_manifest"]
