"""gunicorn as a subprocess on 127.0.0.1: the app and the floor run under the same settings."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

from bench import cputime
from bench.gunicorn_hooks import READY_DIR_ENV


@dataclass(frozen=True)
class ServerSettings:
    """The gunicorn options shared by the app and the floor."""

    worker_class: str
    workers: int
    threads: int

    def argv(self) -> list[str]:
        """gunicorn's command-line options for these settings (access log off)."""
        return [
            "--worker-class",
            self.worker_class,
            "--workers",
            str(self.workers),
            "--threads",
            str(self.threads),
            "--keep-alive",
            "30",
            "--backlog",
            "256",
            "--log-level",
            "warning",
            "--config",
            str(Path(__file__).with_name("gunicorn_hooks.py")),
        ]


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class Gunicorn:
    """``with Gunicorn(...) as server:`` serves ``target`` until the block ends."""

    def __init__(
        self,
        target: str,
        settings: ServerSettings,
        env: dict[str, str],
        log_path: Path,
        database: str | None = None,
    ) -> None:
        self.target = target
        self.database = database
        self.settings = settings
        self.env = env
        self.log_path = log_path
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None
        self._ready = tempfile.TemporaryDirectory(prefix="bench-ready-")

    def __enter__(self) -> Gunicorn:
        gunicorn = str(Path(sys.executable).with_name("gunicorn"))
        argv = [gunicorn, "--bind", f"127.0.0.1:{self.port}", *self.settings.argv(), self.target]
        log = self.log_path.open("ab")
        self.process = subprocess.Popen(
            argv,
            env={**os.environ, **self.env, READY_DIR_ENV: self._ready.name},
            stdout=log,
            stderr=log,
            cwd=os.getcwd(),
        )
        log.close()
        self._wait_until_listening()
        return self

    def pids(self) -> list[int]:
        """The workers, and the PostgreSQL backends of ``database`` (the workers' pools)."""
        assert self.process is not None
        found = cputime.children(self.process.pid)
        if self.database:
            found += cputime.postgres_backends(self.database)
        return found

    def _wait_until_listening(self, timeout: float = 120.0) -> None:
        """Wait until every worker has imported the app (the hook leaves one file per worker)."""
        assert self.process is not None
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"gunicorn for {self.target} exited; see {self.log_path}")
            if len(os.listdir(self._ready.name)) >= self.settings.workers:
                return
            time.sleep(0.1)
        raise RuntimeError(f"gunicorn for {self.target} was not ready within {timeout:.0f} s")

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        try:
            if self.process is None or self.process.poll() is not None:
                return
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        finally:
            self._ready.cleanup()
