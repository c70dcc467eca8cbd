"""A child process running one Engine on a project until SIGTERM (or a test's SIGKILL):
``python engine_child.py ROOT OWNER``. Prints ``ready`` once the engine ticks."""

from __future__ import annotations

import signal
import sys
import threading
from pathlib import Path
from types import FrameType

from sluice.serve.pipeline import Engine


def main() -> None:
    root, owner = Path(sys.argv[1]), sys.argv[2]
    stop = threading.Event()

    def on_term(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, on_term)
    engine = Engine(root, owner, tick_seconds=0.1)
    print("ready", flush=True)
    engine.run_forever(stop)


if __name__ == "__main__":
    main()
