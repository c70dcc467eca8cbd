"""A workspace: one project checkout plus its ``.sluice`` home (state, artifacts, envs)."""

from __future__ import annotations

import contextlib
import getpass
import os
import socket
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sluice.config import ProjectConfig, load_project
from sluice.errors import ConfigError
from sluice.release import ArtifactStore
from sluice.secrecy import KEY_FILE, private_dir, use_key_file
from sluice.targets.base import Target, create_target

if TYPE_CHECKING:
    from sluice.state import StateStore


def find_root(start: Path | None = None) -> Path:
    """The nearest folder at or above ``start`` holding a sluice.yaml."""
    here = (start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        if (folder / "sluice.yaml").is_file():
            return folder
    raise ConfigError(f"no sluice.yaml in {here} or any parent folder",
                      tip="run sluice in a project, or create one with  sluice init DIR")


def current_actor() -> str:
    """Who is acting: $SLUICE_USER, else git's user.name, else the login name."""
    if os.environ.get("SLUICE_USER"):
        return os.environ["SLUICE_USER"]
    try:
        name = subprocess.run(["git", "config", "user.name"], capture_output=True, text=True,
                              timeout=5, check=False).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        name = ""
    return name or getpass.getuser()


def _sns_takes_over(cfg: ProjectConfig, env: str) -> bool:
    """An ``sns`` channel covering ``env`` sends to its topic instead of the direct call."""
    from sluice.notify.channels import covers

    return any(c.type == "sns" and covers(cfg, c, env) for c in cfg.notifications)


@dataclass
class Workspace:
    root: Path
    home: Path
    _state: StateStore | None = field(default=None, repr=False)
    _targets: dict[str, Target] = field(default_factory=dict, repr=False)
    #: outbox rows this workspace queued (the CLI flushes them at the end of a command)
    notified: int = field(default=0, repr=False)
    #: a throwaway workspace (the integration check's deploy of the samples) tells nobody
    silent: bool = False

    @classmethod
    def open(cls, root: Path | str | None = None, *, home: Path | None = None) -> Workspace:
        """The workspace of the project at or above ``root``; its home is ``home`` when
        given (the server opens each execution's checkout with the server's own home: an
        argument, because threads share ``os.environ``), else $SLUICE_HOME, else
        ``<root>/.sluice``."""
        r = find_root(Path(root) if root else None)
        if home is None:
            home = Path(os.environ["SLUICE_HOME"]) if os.environ.get("SLUICE_HOME") \
                else r / ".sluice"
        # 0700: state, warehouses and caches under it are for their owner only
        private_dir(home, tighten=True)
        use_key_file(home / KEY_FILE)  # keyed fingerprints of secrets (sluice.secrecy)
        return cls(r, home)

    def config(self, environment: str | None = None) -> ProjectConfig:
        return load_project(self.root, environment=environment)

    @property
    def state_url(self) -> str:
        return os.environ.get("SLUICE_STATE_URL") or f"sqlite:///{self.home / 'state.db'}"

    @property
    def state(self) -> StateStore:
        if self._state is None:
            from sluice.state import StateStore  # SQLAlchemy: only for commands that need it

            self._state = StateStore(self.state_url)
        return self._state

    @property
    def artifacts(self) -> ArtifactStore:
        return ArtifactStore(self.home / "artifacts")

    def target(self, env: str, config: ProjectConfig | None = None) -> Target:
        if env not in self._targets:
            cfg = config or self.config()
            spec = cfg.environment(env).target
            options = spec.model_dump(exclude={"type"})
            if spec.type == "aws":
                options["actor"] = current_actor()  # names the assumed-role session
                options["project"] = cfg.project  # names the SNS topic and resources
            self._targets[env] = create_target(spec.type, env, self.home, **options)
        return self._targets[env]

    def notify(self, env: str, kind: str, **payload: Any) -> None:
        """Tell ``env``'s subscribers: the target's own channel (on AWS its SNS topic, unless
        an ``sns`` channel of ``notifications:`` takes it over, with its filters and
        retries) and one outbox row per matching channel (:mod:`sluice.notify`), sent by a
        dispatcher. Never fails the caller: a failure is recorded as a ``notify_failed``
        event, and a failure to record even that is dropped."""
        from sluice.state.redact import redact

        if self.silent:
            return
        cfg: ProjectConfig | None = None
        try:
            cfg = self.config()
        except Exception as exc:  # a broken sluice.yaml must not break a deploy's end
            self._notify_failed(env, kind, exc)
        try:
            if cfg is None or not _sns_takes_over(cfg, env):
                self.target(env, cfg).notify(kind, redact(payload))
        except Exception as exc:
            self._notify_failed(env, kind, exc)
        if cfg is None or not cfg.notifications:
            return
        try:
            from sluice.notify import enqueue

            self.notified += len(enqueue(self.state, cfg, env, kind, payload, repo=self.root))
        except Exception as exc:
            self._notify_failed(env, kind, exc)

    def _notify_failed(self, env: str, kind: str, exc: Exception) -> None:
        from sluice.state.redact import redact_text

        with contextlib.suppress(Exception):  # nowhere left to record it; the caller goes on
            self.state.event("notify_failed", env=env,
                             payload={"kind": kind, "error": redact_text(str(exc))[:500]})

    def owner(self) -> str:
        return f"{current_actor()}@{socket.gethostname()}:{os.getpid()}"

    def close(self) -> None:
        for t in self._targets.values():
            t.close()
        self._targets.clear()
        if self._state is not None:
            self._state.close()
            self._state = None
