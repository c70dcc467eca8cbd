"""``sluice history`` details as sentences: one builder per event kind.

An event's payload is data for scripts (``--json`` keeps it whole); people read a sentence:
"deployed release 3f2a0c1d9e8b (commit abc1234567) to dev: 2 jobs run, 3 datasets
published (marts.a, marts.b, staging.c)". A kind without a builder (a newer sluice, a plug-in)
still reads as ``<kind> in <env>: key=value, …``. Builders never shorten ids.

What a payload does not hold (the commit of a release, the kind of a deployment, how many
jobs it ran) comes from a :class:`Facts` lookup; :class:`StateFacts` reads the state store,
and without one the sentences simply leave those parts out.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, Protocol

from sluice.errors import SluiceError

if TYPE_CHECKING:  # the state package pulls in SQLAlchemy: only where a store is read
    from sluice.state.records import EventRecord
    from sluice.state.store import StateStore


class Facts(Protocol):
    """What a sentence may add beyond the event itself; None when unknown."""

    def commit(self, release_id: str) -> str | None: ...

    def deployment_kind(self, deployment: int) -> str | None: ...

    def jobs_run(self, deployment: int) -> int | None: ...


class NoFacts:
    """Sentences from the events alone."""

    def commit(self, release_id: str) -> str | None:
        return None

    def deployment_kind(self, deployment: int) -> str | None:
        return None

    def jobs_run(self, deployment: int) -> int | None:
        return None


class StateFacts:
    """Facts from a state store, read once per release or deployment."""

    def __init__(self, state: StateStore) -> None:
        self.state = state
        self._commits: dict[str, str | None] = {}
        self._kinds: dict[int, str | None] = {}
        self._jobs: dict[int, int | None] = {}

    def commit(self, release_id: str) -> str | None:
        if release_id not in self._commits:
            try:
                self._commits[release_id] = self.state.get_release(release_id).commit
            except SluiceError:  # built elsewhere, or the store was reset: say less
                self._commits[release_id] = None
        return self._commits[release_id]

    def deployment_kind(self, deployment: int) -> str | None:
        if deployment not in self._kinds:
            try:
                self._kinds[deployment] = self.state.get_deployment(deployment).kind.value
            except SluiceError:
                self._kinds[deployment] = None
        return self._kinds[deployment]

    def jobs_run(self, deployment: int) -> int | None:
        if deployment not in self._jobs:
            try:
                runs = self.state.job_runs(deployment)
            except SluiceError:
                self._jobs[deployment] = None
            else:
                from sluice.state.records import JobRunStatus

                self._jobs[deployment] = len({r.job for r in runs
                                              if r.status == JobRunStatus.SUCCEEDED})
        return self._jobs[deployment]


Builder = Callable[["EventRecord", Mapping[str, Any], Facts], str]
_BUILDERS: dict[str, Builder] = {}


def _builds(*kinds: str) -> Callable[[Builder], Builder]:
    def register(fn: Builder) -> Builder:
        for kind in kinds:
            _BUILDERS[kind] = fn
        return fn

    return register


def describe(event: EventRecord, facts: Facts | None = None) -> str:
    """``event`` as one sentence (without who and when: the table has columns for those)."""
    facts = facts or NoFacts()
    payload: Mapping[str, Any] = event.payload if isinstance(event.payload, Mapping) else {}
    builder = _BUILDERS.get(event.kind)
    if builder is not None:
        try:
            return builder(event, payload, facts)
        except (KeyError, TypeError, ValueError, AttributeError):
            pass  # a payload of another shape (older sluice): fall back to its fields
    return fallback(event)


def fallback(event: EventRecord) -> str:
    """``<kind> in <env> for release <id>: key=value, …`` for kinds without a builder."""
    where = f" in {event.env}" if event.env else ""
    rel = f" for release {event.release_id}" if event.release_id else ""
    fields = ", ".join(f"{k}={_value(v)}" for k, v in (event.payload or {}).items())
    return f"{event.kind.replace('_', ' ')}{where}{rel}" + (f": {fields}" if fields else "")


def _value(v: Any) -> str:
    if isinstance(v, str):
        return v
    if isinstance(v, list | tuple) and all(isinstance(x, str | int) for x in v):
        return ", ".join(str(x) for x in v) or "none"
    return json.dumps(v, default=str, sort_keys=True)


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def _release(event: EventRecord, facts: Facts) -> str:
    rid = event.release_id or "?"
    commit = facts.commit(rid) if event.release_id else None
    return f"release {rid}" + (f" (commit {commit[:10]})" if commit else "")


def _names(items: Any) -> str:
    return ", ".join(str(x) for x in items)


@_builds("release_built")
def _built(event: EventRecord, p: Mapping[str, Any], facts: Facts) -> str:
    commit = p.get("commit")
    files = p.get("files")
    extra = ", ".join(part for part in (f"commit {str(commit)[:10]}" if commit else "",
                                        _plural(int(files), "file") if files is not None
                                        else "") if part)
    return f"built release {event.release_id}" + (f" ({extra})" if extra else "")


_VERBS = {"deploy": "deployed", "promote": "promoted", "run": "ran"}


@_builds("published")
def _published(event: EventRecord, p: Mapping[str, Any], facts: Facts) -> str:
    dep = p.get("deployment")
    versions: Mapping[str, Any] = p.get("versions") or {}
    kind = facts.deployment_kind(int(dep)) if dep is not None else None
    jobs = facts.jobs_run(int(dep)) if dep is not None else None
    if kind == "run":
        head = f"ran {_release(event, facts)} again in {event.env}"
    else:
        head = f"{_VERBS.get(kind or '', 'published')} {_release(event, facts)} to {event.env}"
    parts = [] if jobs is None else [f"{_plural(jobs, 'job')} run"]
    published = f"{_plural(len(versions), 'dataset')} published"
    if versions:
        published += f" ({_names(sorted(versions))})"
    parts.append(published)
    return f"{head}: {', '.join(parts)}" + (f" (deployment {dep})" if dep is not None else "")


@_builds("deploy_failed")
def _failed(event: EventRecord, p: Mapping[str, Any], facts: Facts) -> str:
    dep = p.get("deployment")
    what = f"deployment {dep}" if dep is not None else "a deployment"
    return (f"{what} of {_release(event, facts)} to {event.env} failed and published "
            f"nothing: {p.get('reason') or 'no reason recorded'}")


@_builds("promotion_started")
def _promotion(event: EventRecord, p: Mapping[str, Any], facts: Facts) -> str:
    return f"started promoting {_release(event, facts)} from {p['from']} to {event.env}"


@_builds("recovered")
def _recovered(event: EventRecord, p: Mapping[str, Any], facts: Facts) -> str:
    dep = p["deployment"]
    if p.get("outcome") == "completed":
        return (f"finished interrupted deployment {dep} of {_release(event, facts)} in "
                f"{event.env}: it had already published")
    return (f"rolled back interrupted deployment {dep} of {_release(event, facts)} in "
            f"{event.env}: {event.env} serves what it served before")


@_builds("rolled_back")
def _rolled_back(event: EventRecord, p: Mapping[str, Any], facts: Facts) -> str:
    text = (f"rolled {event.env} back from release {p['from']} to "
            f"{_release(event, facts)}")
    undone = p.get("undone") or []
    return text + (f"; migrations undone: {_names(undone)}" if undone else "")


@_builds("approved", "rejected")
def _decision(event: EventRecord, p: Mapping[str, Any], facts: Facts) -> str:
    text = f"{event.kind} {_release(event, facts)} for {event.env}"
    acks = p.get("acknowledges") or []
    if acks:
        text += f", acknowledging {_names(acks)}"
    if p.get("aws_principal"):  # the CodePipeline bridge: who approved there
        text += f" in CodePipeline by {p['aws_principal']}"
    comment = p.get("comment")
    return text + (f": “{comment}”" if comment else "")


_ACTIONS = {"deploy": "deploy", "promote": "promote", "ship": "ship", "run": "run",
            "rollback": "roll back to", "migrate": "migrate with"}


@_builds("gate_refused")
def _refused(event: EventRecord, p: Mapping[str, Any], facts: Facts) -> str:
    action = str(p.get("action") or "change")
    verb = _ACTIONS.get(action, action)
    rel = _release(event, facts) if event.release_id else "a release"
    preposition = ("in" if action in {"run", "rollback", "migrate"}
                   else "for" if action in {"approve", "reject"} else "to")
    where = (f"from {p['source']} to {event.env}" if p.get("source")
             else f"{preposition} {event.env}")
    return f"refused to {verb} {rel} {where}: {p.get('reason') or 'no reason recorded'}"


@_builds("auth_refused")
def _auth_refused(event: EventRecord, p: Mapping[str, Any], facts: Facts) -> str:
    what = p.get("path") or (f"{p['action']}" if p.get("action") else "a call")
    return f"refused {what}: {p.get('reason') or 'no reason recorded'}"


@_builds("principal_added")
def _principal_added(event: EventRecord, p: Mapping[str, Any], facts: Facts) -> str:
    roles = _names(p.get("roles") or []) or "its declared roles"
    return f"issued token {p['id']} to {p.get('kind', 'user')} {p['principal']} ({roles})"


@_builds("tokens_revoked")
def _tokens_revoked(event: EventRecord, p: Mapping[str, Any], facts: Facts) -> str:
    return f"revoked {_plural(int(p['count']), 'token')} of {p['what']}"


@_builds("protection_changed")
def _protection(event: EventRecord, p: Mapping[str, Any], facts: Facts) -> str:
    before: Mapping[str, Any] = p.get("from") or {}
    after: Mapping[str, Any] = p.get("to") or {}
    keys = sorted(set(before) | set(after))
    if before:
        changes = [f"{k} {_value(before.get(k))} → {_value(after.get(k))}" for k in keys
                   if before.get(k) != after.get(k)]
    else:  # the first rules recorded: say what they are
        changes = [f"{k}={_value(after[k])}" for k in keys if after.get(k) is not None]
    text = f"the rules of {event.env} now come from {_release(event, facts)}"
    if changes:
        text += " (" + ("; " if before else ", ").join(changes) + ")"
    if p.get("loosened"):
        text += f"; loosened, approved by {p.get('approved_by') or 'nobody recorded'}"
    return text


@_builds("release_repaired")
def _repaired(event: EventRecord, p: Mapping[str, Any], facts: Facts) -> str:
    altered = list(p.get("altered") or [])
    count = int(p.get("count", len(altered)))
    shown = f": {_names(altered)}" + (" …" if count > len(altered) else "") if altered else ""
    return (f"reinstalled {_release(event, facts)} in {event.env}: "
            f"{_plural(count, 'file')} differed from the release{shown}")


@_builds("gc")
def _gc(event: EventRecord, p: Mapping[str, Any], facts: Facts) -> str:
    versions: Mapping[str, Any] = p.get("dropped_versions") or {}
    releases = list(p.get("dropped_releases") or [])
    n = sum(len(v) for v in versions.values())
    text = (f"garbage-collected {_plural(n, 'dataset version')} and "
            f"{_plural(len(releases), 'release')} in {event.env}")
    if versions:
        text += f" (versions of {_names(sorted(versions))})"
    quarantined: Mapping[str, Any] = p.get("dropped_quarantined") or {}
    if quarantined:
        q = sum(len(v) for v in quarantined.values())
        text += (f"; dropped {_plural(q, 'quarantined version')} past the quarantine "
                 f"period ({_names(sorted(quarantined))})")
    return text


@_builds("lock.taken_over")
def _takeover(event: EventRecord, p: Mapping[str, Any], facts: Facts) -> str:
    return (f"took over the lock of {event.env} from {p['previous_owner']}: "
            f"{p.get('reason') or 'no reason recorded'}")


@_builds("notify_failed")
def _notify(event: EventRecord, p: Mapping[str, Any], facts: Facts) -> str:
    if p.get("channel"):  # the outbox gave up on a row (sluice.notify)
        tries = p.get("attempts")
        after = f" after {tries} attempt{'s' if tries != 1 else ''}" if tries else ""
        return (f"gave up sending the {p['kind']} notification of {event.env} to "
                f"{p['channel']}{after}: {p.get('error')}")
    return f"could not send the {p['kind']} notification of {event.env}: {p.get('error')}"


@_builds("workflow_run")
def _workflow(event: EventRecord, p: Mapping[str, Any], facts: Facts) -> str:
    return (f"workflow {p['workflow']} of {_release(event, facts)} ran in {event.env}: "
            f"{p.get('status')} (execution {p.get('execution')})")


@_builds("migrated")
def _migrated(event: EventRecord, p: Mapping[str, Any], facts: Facts) -> str:
    applied = list(p.get("applied") or [])
    if not applied:
        return f"no migrations to apply in {event.env}"
    return f"applied {_plural(len(applied), 'migration')} in {event.env}: {_names(applied)}"


@_builds("migrations_undone")
def _undone(event: EventRecord, p: Mapping[str, Any], facts: Facts) -> str:
    undone = list(p.get("undone") or [])
    text = (f"undid migration version(s) {_names(undone)} in {event.env}" if undone
            else f"no migrations to undo in {event.env}")
    return text + (f", then stopped: {p['failed']}" if p.get("failed") else "")


@_builds("migrations_repaired")
def _migrations_repaired(event: EventRecord, p: Mapping[str, Any], facts: Facts) -> str:
    return (f"repaired the migration history of {event.env}: removed "
            f"{_plural(int(p['removed_failed']), 'failed row')}, realigned "
            f"{_plural(int(p['realigned']), 'checksum')}")


def known_kinds() -> list[str]:
    """The event kinds with a sentence of their own."""
    return sorted(_BUILDERS)


__all__ = ["Facts", "NoFacts", "StateFacts", "describe", "fallback", "known_kinds"]
