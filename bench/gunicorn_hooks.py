"""gunicorn configuration shared by the app and the floor: a hook that reports ready workers."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

READY_DIR_ENV = "BENCH_READY_DIR"


def post_worker_init(worker: Any) -> None:
    """Leave a file named after the worker's pid once it has imported the app."""
    ready = os.environ.get(READY_DIR_ENV)
    if ready:
        Path(ready, str(worker.pid)).touch()
