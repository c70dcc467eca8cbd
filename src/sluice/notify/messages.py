"""What a notification says: its kind, the facts stored in the outbox, and the text channels
render from them.

The library emits events under the names it has always used (``published``,
``deploy_failed``, ``approval_requested`` …); :data:`ALIASES` maps the old names to the kinds
channels filter on (``published`` → ``deploy_succeeded``). Kinds sluice does not know yet
(``workflow_failed``, a new engine event) are accepted and rendered generically: a channel
without an ``events:`` filter receives them, one with a filter does not.

The stored facts (:func:`facts`) are built once, when the notification is enqueued, in the
process that knows the release; delivery only renders them, so a server sending the row
later needs no workspace. They are redacted like every free-form record of the state store
(:func:`sluice.state.redact.redact`): no secret value, no token, no URL password.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sluice.state.redact import redact

if TYPE_CHECKING:
    from sluice.config import ProjectConfig
    from sluice.state import StateStore

__all__ = ["ALIASES", "KNOWN_KINDS", "Message", "canonical_kind", "facts", "render"]

#: library event names → the kinds of ``notifications[].events``
ALIASES = {"published": "deploy_succeeded"}
KNOWN_KINDS = ("approval_requested", "deploy_succeeded", "deploy_failed", "audit_failed",
               "rolled_back", "approved", "rejected", "execution_failed",
               "execution_succeeded")
#: how much of a free-text field (a failure reason, a commit message) a message carries
_TEXT_LIMIT = 1500
_MAX_RULES = 20


def canonical_kind(kind: str) -> str:
    return ALIASES.get(kind, kind)


def _subject(repo: Path, commit: str) -> str | None:
    """The commit's subject line, from the project's repository (when it has the commit)."""
    from sluice.release.git import Git

    try:
        out = Git(repo).run("log", "-1", "--no-show-signature", "--format=%s", commit, "--")
    except Exception:  # not a repository, or not this commit: the summary goes without it
        return None
    return out.strip()[:_TEXT_LIMIT] or None


def _release_info(state: StateStore, release_id: str,
                  repo: Path | None) -> dict[str, Any] | None:
    from sluice.errors import StateError

    try:
        rec = state.get_release(release_id)
    except StateError:  # an unknown release: the notification still goes, without it
        return None
    return {"id": rec.id, "commit": rec.commit, "author": rec.author,
            "message": rec.message.strip()[:_TEXT_LIMIT],
            "subject": _subject(repo, rec.commit) if repo is not None else None,
            "created_at": rec.created_at.isoformat(timespec="seconds")}


def _jobs(state: StateStore, release_id: str) -> dict[str, str]:
    try:
        manifest = json.loads(state.get_release(release_id).manifest_json)
    except Exception:  # a missing or odd manifest only costs the job list
        return {}
    jobs = manifest.get("jobs") if isinstance(manifest, dict) else None
    return {str(k): str(v) for k, v in jobs.items()} if isinstance(jobs, dict) else {}


def _changed_jobs(state: StateStore, env: str, release_id: str) -> list[str] | None:
    """Jobs whose fingerprint differs from the live release's (a cheap stand-in for the
    plan: the environment's parameters may make the deploy recompute more)."""
    try:
        live = state.live(env)
    except Exception:
        return None
    new = _jobs(state, release_id)
    if not new:
        return None
    old = _jobs(state, live.release_id) if live is not None else {}
    return sorted(name for name, fp in new.items() if old.get(name) != fp)


def facts(state: StateStore, cfg: ProjectConfig, env: str | None, kind: str,
          payload: Mapping[str, Any], *, repo: Path | None = None) -> dict[str, Any]:
    """The redacted record a channel renders: kind, env, release (with its commit, author,
    message and, from ``repo``, the commit's subject), a link to the server, and the
    caller's payload under ``details``."""
    kind = canonical_kind(kind)
    details = dict(payload)
    release = details.get("release")
    out: dict[str, Any] = {"kind": kind, "env": env,
                           "release": str(release) if release else None,
                           "actor": details.get("actor")}
    if release:
        out["release_info"] = _release_info(state, str(release), repo)
        if kind == "approval_requested" and env is not None:
            out["jobs_changed"] = _changed_jobs(state, env, str(release))
    base = cfg.server.url.rstrip("/") if cfg.server.url else None
    execution = details.get("execution")
    if base is not None:
        out["link"] = f"{base}/executions/{execution}" if execution is not None else base
    out["details"] = details
    return dict(redact(out))


@dataclass(frozen=True)
class Message:
    """A notification rendered once for every channel: a title, a one-line summary, a few
    labelled fields, longer lines (failing rules, a reason) and an optional link."""

    kind: str
    env: str | None
    title: str
    summary: str
    fields: list[tuple[str, str]] = field(default_factory=list)
    lines: list[str] = field(default_factory=list)
    link: str | None = None

    def text(self) -> str:
        """Plain text: the summary, the fields, the lines, the link."""
        parts = [self.summary, ""]
        parts += [f"{label}: {value}" for label, value in self.fields]
        if self.lines:
            parts += ["", *self.lines]
        if self.link:
            parts += ["", self.link]
        return "\n".join(parts).strip() + "\n"


def _short(text: Any, limit: int = _TEXT_LIMIT) -> str:
    s = str(text).strip()
    return s if len(s) <= limit else s[: limit - 1] + "…"


def _audit_lines(details: Mapping[str, Any]) -> list[str]:
    lines: list[str] = []
    for failed in details.get("failed", []) or []:
        if not isinstance(failed, Mapping):
            continue
        head = f"{failed.get('dataset')} (version {failed.get('version')})"
        for problem in failed.get("contract_problems", []) or []:
            lines.append(f"{head}: contract: {_short(problem, 300)}")
        for rule in failed.get("rules", []) or []:
            if isinstance(rule, Mapping):
                where = f" at {rule['location']}" if rule.get("location") else ""
                lines.append(f"{head}: {rule.get('rule')}{where}: "
                             f"{_short(rule.get('message', ''), 300)}")
    if len(lines) > _MAX_RULES:
        lines = [*lines[:_MAX_RULES], f"… and {len(lines) - _MAX_RULES} more"]
    return lines


def render(record: Mapping[str, Any]) -> Message:
    """The message of one outbox record (:func:`facts`)."""
    kind = str(record.get("kind"))
    env = record.get("env")
    rid = record.get("release")
    details: Mapping[str, Any] = record.get("details") or {}
    actor = record.get("actor")
    where = f" in {env}" if env else ""
    execution = f"Execution {details['execution']}" if details.get("execution") else "Execution"
    titles = {
        "approval_requested": f"Approval needed: release {rid} for {env}",
        "deploy_succeeded": f"Release {rid} is live in {env}",
        "deploy_failed": f"Deployment of release {rid} to {env} failed",
        "audit_failed": f"Audit failed{where}: release {rid} was not published",
        "rolled_back": f"{env} rolled back to release {rid}",
        "approved": f"{actor} approved release {rid} for {env}",
        "rejected": f"{actor} rejected release {rid} for {env}",
        "execution_failed": f"{execution} failed{where}",
        "execution_succeeded": f"{execution} succeeded{where}",
    }
    title = titles.get(kind, f"sluice: {kind}{where}" + (f" (release {rid})" if rid else ""))
    fields: list[tuple[str, str]] = []
    if env:
        fields.append(("Environment", str(env)))
    info = record.get("release_info")
    if isinstance(info, Mapping):
        fields.append(("Release", str(info.get("id"))))
        fields.append(("Commit", f"{str(info.get('commit'))[:12]} by {info.get('author')}"))
        text = info.get("message") or info.get("subject")  # the release's, else the commit's
        if text:
            fields.append(("Message", _short(str(text).splitlines()[0], 200)))
    elif rid:
        fields.append(("Release", str(rid)))
    if actor and kind not in ("approved", "rejected"):
        fields.append(("By", str(actor)))
    lines: list[str] = []
    if kind == "approval_requested":
        jobs = record.get("jobs_changed")
        if jobs:
            fields.append(("Jobs changed", ", ".join(jobs)))
        elif jobs == []:
            fields.append(("Jobs changed", "none (same code as live)"))
        if details.get("approve"):
            lines.append(f"Approve: {details['approve']}")
    if kind == "rolled_back" and details.get("previous"):
        fields.append(("Previously live", str(details["previous"])))
    if kind in ("approved", "rejected") and details.get("comment"):
        lines.append(f"Comment: {_short(details['comment'], 500)}")
    if kind == "audit_failed":
        lines += _audit_lines(details)
    if details.get("reason"):
        lines.append(f"Reason: {_short(details['reason'])}")
    if details.get("message") and kind.startswith("execution_"):
        lines.append(_short(details["message"]))
    link = record.get("link")
    return Message(kind=kind, env=str(env) if env else None, title=_short(title, 140),
                   summary=_short(title, 140), fields=fields, lines=lines,
                   link=str(link) if link else None)
