"""CPU seconds spent by the server side of one phase: gunicorn's workers and their PostgreSQL
backends, read from /proc. Unlike throughput, CPU per request hardly moves when other work
shares the machine, so it is the steadier way to compare the app with the floor."""

from __future__ import annotations

import os
from pathlib import Path

_TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def _stat(pid: int) -> list[str] | None:
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # The command name sits in parentheses and may contain spaces: split after it.
    return text[text.rindex(")") + 2 :].split()


def _all_pids() -> list[int]:
    try:
        return [int(name) for name in os.listdir("/proc") if name.isdigit()]
    except OSError:
        return []


def children(parent: int) -> list[int]:
    """Processes whose parent is ``parent`` (gunicorn's workers)."""
    found = []
    for pid in _all_pids():
        fields = _stat(pid)
        if fields is not None and int(fields[1]) == parent:
            found.append(pid)
    return found


def postgres_backends(database: str) -> list[int]:
    """PostgreSQL backend processes connected to ``database`` on this machine."""
    marker = f" {database} ".encode()
    found = []
    for pid in _all_pids():
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        except OSError:
            continue
        if cmdline.startswith(b"postgres: ") and marker in cmdline:
            found.append(pid)
    return found


def cpu_seconds(pids: list[int]) -> float:
    """User plus system CPU seconds used so far by ``pids`` (ended processes count 0)."""
    total = 0
    for pid in pids:
        fields = _stat(pid)
        if fields is not None:
            total += int(fields[11]) + int(fields[12])
    return total / _TICKS
