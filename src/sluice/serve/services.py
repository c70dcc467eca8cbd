"""What one ``sluice serve`` process holds: the project, one state store for every request,
the authenticator, and the background threads (the execution engine, the notification
dispatcher, the triggers) with their start and stop.

A request gets its own :class:`~sluice.project.workspace.Workspace` that borrows the shared
:class:`~sluice.state.StateStore` (SQLAlchemy's pool is thread-safe), because a workspace
caches targets (a DuckDB connection) that must not be used from two threads; anything that
opens a target does it under the environment's lock, through the library.
"""

from __future__ import annotations

import os
import socket
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sluice.config import ProjectConfig
from sluice.errors import ReleaseError, SluiceError, UsageError
from sluice.project.workspace import Workspace

from .identity import Authenticator


class NotFound(Exception):  # an HTTP answer, not an error of the library
    """Answer 404 with ``error`` (an unknown environment, release or execution)."""

    def __init__(self, error: SluiceError) -> None:
        super().__init__(error.message)
        self.error = error


class ConfigCache:
    """The work tree's ``sluice.yaml``, parsed once per version of the file (its size,
    mtime and inode) instead of once per request: parsing is most of what a status costs."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._cache: dict[tuple[str | None, tuple[int, int, int]], ProjectConfig] = {}

    def get(self, root: Path, environment: str | None,
            load: Callable[[], ProjectConfig]) -> ProjectConfig:
        try:
            st = (root / "sluice.yaml").stat()
        except OSError:
            return load()  # the loader says what is wrong
        key = (environment, (st.st_size, st.st_mtime_ns, st.st_ino))
        with self._lock:
            found = self._cache.get(key)
        if found is None:
            found = load()
            with self._lock:
                self._cache = {k: v for k, v in self._cache.items() if k[1] == key[1]}
                self._cache[key] = found
        return found


@dataclass
class ServedWorkspace(Workspace):
    """A workspace whose work-tree config comes from the server's :class:`ConfigCache`."""

    configs: ConfigCache | None = field(default=None, repr=False)

    def config(self, environment: str | None = None) -> ProjectConfig:
        if self.configs is None:
            return super().config(environment)
        return self.configs.get(self.root, environment,
                                lambda: Workspace.config(self, environment))


def _owner() -> str:
    return f"serve@{socket.gethostname()}:{os.getpid()}"


class Services:
    """The long-lived parts of the server (see the module doc)."""

    def __init__(self, root: Path, *, background: bool) -> None:
        opened = Workspace.open(root)
        self.configs = ConfigCache()
        self.base = ServedWorkspace(opened.root, opened.home, configs=self.configs)
        self.root = self.base.root
        self.home = self.base.home
        self.state = self.base.state
        self.owner = _owner()
        self.background = background
        self.stopping = threading.Event()
        self.engine: Any = None
        self._threads: list[threading.Thread] = []
        self._authenticator: Authenticator | None = None
        self._auth_lock = threading.Lock()
        self._codepipeline: Any = None

    # ------------------------------------------------------------------ requests

    @contextmanager
    def workspace(self) -> Iterator[Workspace]:
        """A workspace for one request, over the shared state store."""
        ws = ServedWorkspace(self.root, self.home, _state=self.state, configs=self.configs)
        try:
            yield ws
        finally:
            ws._state = None  # borrowed: closed with the server, not with the request
            ws.close()

    @property
    def authenticator(self) -> Authenticator:
        """Who is calling, from the ``Authorization`` header (built on first use)."""
        with self._auth_lock:
            if self._authenticator is None:
                self._authenticator = Authenticator(self.base)
            return self._authenticator

    def codepipeline(self) -> Any:
        """The server's own CodePipeline client (its credentials; region
        ``SLUICE_CODEPIPELINE_REGION``, else ``AWS_REGION``), made on first use."""
        with self._auth_lock:
            if self._codepipeline is None:
                from sluice.flow.codepipeline import codepipeline_client

                self._codepipeline = codepipeline_client(
                    os.environ.get("SLUICE_CODEPIPELINE_REGION"))
            return self._codepipeline

    def wake(self) -> None:
        """Tell the engine to look at the executions now (an approval, a new execution)."""
        if self.engine is not None:
            self.engine.wake()

    def start_execution(self, **kwargs: Any) -> int:
        """Record an execution (:func:`~sluice.serve.executions.start_execution`) and wake
        the engine: what the API, the webhook and the triggers call."""
        from .executions import start_execution

        with self.workspace() as ws:
            eid = start_execution(ws, **kwargs)
        self.wake()
        return eid

    def resolve_commit(self, ref: str) -> str:
        """The full sha of ``ref`` in the project's repository; UsageError when unknown."""
        from sluice.release.git import Git

        try:
            return Git(self.root).verify_ref(ref)
        except ReleaseError as exc:
            raise UsageError(f"{ref!r} is not a commit of the repository at {self.root}",
                             tip="push it first, or name a branch, a tag or a full sha") from exc

    # ------------------------------------------------------------------ lifecycle

    def _thread(self, name: str, run: Callable[[threading.Event], None]) -> None:
        thread = threading.Thread(target=run, args=(self.stopping,), name=name, daemon=True)
        thread.start()
        self._threads.append(thread)

    def start(self) -> None:
        """Start the background threads (with ``background``)."""
        if not self.background:
            return
        from .notify import Dispatcher
        from .pipeline import Engine
        from .triggers import Triggers

        self.engine = Engine(self.root, "serve", home=self.home)
        self._thread("sluice-engine", self.engine.run_forever)
        def served() -> ServedWorkspace:  # one per thread (its targets are its own)
            return ServedWorkspace(self.root, self.home, _state=self.state, configs=self.configs)

        self._thread("sluice-notify", Dispatcher(self.root, self.owner,
                                                 workspace=served()).run_forever)
        self._thread("sluice-triggers", Triggers(self.root, self.owner, self.start_execution,
                                                 home=self.home, workspace=served()).run_forever)

    def shutdown(self, timeout: float = 30.0) -> None:
        """Stop the threads (a running stage finishes first) and close the store."""
        self.stopping.set()
        self.wake()
        for thread in self._threads:
            thread.join(timeout)
        self._threads.clear()
        with suppress(SluiceError):
            self.base.close()


__all__ = ["NotFound", "Services"]
