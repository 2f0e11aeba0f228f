"""The load generator: N keep-alive HTTP/1.1 clients on one asyncio loop, for a fixed time.

Lean on purpose, because it shares the machine's cores with the server and the database: every
request is serialised to bytes before the clock starts, a response is read as a header block
plus ``Content-Length`` bytes, and the only work per request is two clock reads and a list append.
"""

from __future__ import annotations

import asyncio
import gc
import json
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from bench import cputime


@dataclass
class PhaseResult:
    """Latencies and statuses of one phase, measured after the warm-up."""

    seconds: float
    latencies_ns: list[int] = field(default_factory=list)  # requests sent and answered inside
    errors: int = 0  # non-2xx responses or broken connections, warm-up included
    ok_total: int = 0  # 2xx responses, warm-up included
    statuses: dict[int, int] = field(default_factory=dict)
    first_error: str = ""
    exhausted: bool = False  # ran out of single-use request bodies before the end
    client_cpu_seconds: float = 0.0
    machine_busy: float = 0.0  # share of all cores busy during the measured window (0..1)
    completed_in_window: int = 0  # 2xx responses that arrived inside the measured window
    server_cpu_seconds: float = 0.0  # gunicorn workers and database backends, same window

    def absorb(self, other: PhaseResult) -> None:
        """Add another round of the same phase to this one."""
        busy = self.machine_busy * self.seconds + other.machine_busy * other.seconds
        self.seconds += other.seconds
        self.machine_busy = busy / self.seconds if self.seconds else 0.0
        self.latencies_ns.extend(other.latencies_ns)
        self.errors += other.errors
        self.ok_total += other.ok_total
        for status, count in other.statuses.items():
            self.statuses[status] = self.statuses.get(status, 0) + count
        self.first_error = self.first_error or other.first_error
        self.exhausted = self.exhausted or other.exhausted
        self.client_cpu_seconds += other.client_cpu_seconds
        self.completed_in_window += other.completed_in_window
        self.server_cpu_seconds += other.server_cpu_seconds

    def rps(self) -> float:
        """2xx responses per second that arrived inside the measured window."""
        return self.completed_in_window / self.seconds

    def summary(self) -> dict[str, Any]:
        """rps, p50 / p99 in milliseconds, errors, and what the client cost."""
        ordered = sorted(self.latencies_ns)
        count = len(ordered)

        def pct(q: float) -> float | None:
            # Nearest rank: the smallest latency that at least q of the requests did not exceed.
            if not ordered:
                return None
            return round(ordered[max(0, math.ceil(q * count) - 1)] / 1e6, 2)

        return {
            "rps": round(self.rps(), 1),
            "p50_ms": pct(0.50),
            "p99_ms": pct(0.99),
            "requests": self.completed_in_window,
            "errors": self.errors,
            **({"first_error": self.first_error} if self.first_error else {}),
            **({"exhausted": True} if self.exhausted else {}),
            "server_cpu_ms_per_request": (
                round(self.server_cpu_seconds * 1000 / self.completed_in_window, 2)
                if self.completed_in_window
                else None
            ),
            "client_cpu_share": round(self.client_cpu_seconds / self.seconds, 2),
            "machine_busy": round(self.machine_busy, 2),
        }


def build_requests(
    host: str, port: int, path: str, api_key: str, bodies: list[dict[str, Any]]
) -> list[bytes]:
    """Each JSON body as the complete bytes of a keep-alive POST."""
    head = (
        f"POST {path} HTTP/1.1\r\nHost: {host}:{port}\r\nAuthorization: Bearer {api_key}\r\n"
        "Content-Type: application/json\r\nAccept: application/json\r\n"
    ).encode()
    out = []
    for body in bodies:
        payload = json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()
        out.append(head + b"Content-Length: %d\r\n\r\n" % len(payload) + payload)
    return out


def machine_busy(seconds: float = 1.0) -> float:
    """Share of all cores busy over the next ``seconds`` (other work on the machine)."""
    busy0, total0 = _cpu_ticks()
    time.sleep(seconds)
    busy1, total1 = _cpu_ticks()
    return round((busy1 - busy0) / (total1 - total0), 2) if total1 > total0 else 0.0


def _cpu_ticks() -> tuple[int, int]:
    """(busy, total) jiffies of all cores from /proc/stat; (0, 0) where there is none."""
    try:
        with open("/proc/stat") as stat:
            fields = [int(x) for x in stat.readline().split()[1:]]
    except OSError:
        return 0, 0
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)
    return sum(fields) - idle, sum(fields)


async def _client(
    host: str,
    port: int,
    requests: list[bytes],
    cursor: list[int],
    reuse: bool,
    measure_from: int,
    stop_at: int,
    result: PhaseResult,
) -> None:
    reader, writer = await asyncio.open_connection(host, port)
    latencies = result.latencies_ns
    clock = time.perf_counter_ns
    total = len(requests)
    try:
        while True:
            started = clock()
            if started >= stop_at:
                return
            index = cursor[0]
            cursor[0] = index + 1
            if index >= total:
                if not reuse:
                    result.exhausted = True
                    return
                index %= total
            writer.write(requests[index])
            try:
                head = await reader.readuntil(b"\r\n\r\n")
                status = int(head[9:12])
                lower = head.lower()
                at = lower.find(b"content-length:")
                length = int(lower[at + 15 : lower.find(b"\r\n", at)]) if at >= 0 else 0
                body = await reader.readexactly(length) if length else b""
            except (asyncio.IncompleteReadError, ConnectionError, ValueError) as exc:
                result.errors += 1
                result.first_error = result.first_error or f"connection: {exc!r}"
                writer.close()
                reader, writer = await asyncio.open_connection(host, port)
                continue
            finished = clock()
            result.statuses[status] = result.statuses.get(status, 0) + 1
            if 200 <= status < 300:
                result.ok_total += 1
                if measure_from <= finished <= stop_at:
                    result.completed_in_window += 1
                    if started >= measure_from:
                        latencies.append(finished - started)
            else:
                result.errors += 1
                if not result.first_error:
                    result.first_error = f"HTTP {status}: {body[:300].decode(errors='replace')}"
            if b"connection: close" in lower:
                writer.close()
                reader, writer = await asyncio.open_connection(host, port)
    finally:
        writer.close()


async def _run(
    host: str,
    port: int,
    requests: list[bytes],
    reuse: bool,
    clients: int,
    warmup: float,
    seconds: float,
    server_pids: Callable[[], list[int]] | None,
) -> PhaseResult:
    result = PhaseResult(seconds=seconds)
    cursor = [0]
    now = time.perf_counter_ns()
    measure_from = now + int(warmup * 1e9)
    stop_at = measure_from + int(seconds * 1e9)
    loop = asyncio.get_running_loop()
    # Sample CPU at the edges of the measured window, not of the warm-up.
    marks: dict[str, tuple[tuple[int, int], float, float]] = {}
    pids: list[int] = []

    def mark(name: str) -> None:
        if name == "from" and server_pids is not None:
            pids.extend(server_pids())
        marks[name] = (_cpu_ticks(), time.process_time(), cputime.cpu_seconds(pids))

    loop.call_later(warmup, mark, "from")
    loop.call_later(warmup + seconds, mark, "to")
    await asyncio.gather(
        *(
            _client(host, port, requests, cursor, reuse, measure_from, stop_at, result)
            for _ in range(clients)
        )
    )
    if "from" in marks and "to" in marks:
        (busy0, total0), cpu0, server0 = marks["from"]
        (busy1, total1), cpu1, server1 = marks["to"]
        result.client_cpu_seconds = cpu1 - cpu0
        result.server_cpu_seconds = server1 - server0
        result.machine_busy = (busy1 - busy0) / (total1 - total0) if total1 > total0 else 0.0
    return result


def run_phase(
    host: str,
    port: int,
    requests: list[bytes],
    *,
    reuse: bool,
    clients: int,
    warmup: float,
    seconds: float,
    server_pids: Callable[[], list[int]] | None = None,
) -> PhaseResult:
    """Drive ``requests`` with ``clients`` concurrent connections: warm-up, then ``seconds``.

    With ``reuse`` the requests are replayed in a cycle; without, each is sent at most once
    (single-use tokens, unique idempotency keys) and running out ends the phase early.
    ``server_pids`` lists the processes whose CPU time the measured window is charged with.
    """
    gc.collect()
    gc.disable()  # no collector pauses inside the measured window
    try:
        return asyncio.run(_run(host, port, requests, reuse, clients, warmup, seconds, server_pids))
    finally:
        gc.enable()
