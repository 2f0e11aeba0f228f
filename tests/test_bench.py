"""The benchmark's own parts: the floor does only its one statement, the load generator counts
what it claims to count, and the round-trip census reads libpq's trace correctly."""

from __future__ import annotations

import asyncio
import tempfile
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient

from bench import floor, load, roundtrips

FloorClient = tuple[FlaskClient, Callable[[], list[str]], str]


@pytest.fixture()
def floor_client(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[FloorClient]:
    """The floor app on a fresh SQLite file, with the statements it executes being counted."""
    url = f"sqlite:///{tmp_path / 'floor.sqlite3'}"
    floor.prepare(url, cards=10)
    monkeypatch.setenv("FLOOR_DATABASE_URL", url)
    with roundtrips.counting("sqlite") as take:
        app = floor.create_app()
        yield app.test_client(), take, url
        app.extensions["floor.engine"].dispose()


def test_floor_preview_is_one_select_and_confirm_one_insert(floor_client: FloorClient) -> None:
    client, take, url = floor_client
    headers = {"Authorization": f"Bearer {floor.FLOOR_API_KEY}"}
    body = {"token": floor.card_number(3), "amount": "128.50"}

    preview = client.post("/api/v1/checkout/preview", json=body, headers=headers)
    assert preview.status_code == 200
    assert preview.get_json()["amount_fen"] == 12850
    assert take() == ["SELECT floor_cards"]

    confirm = client.post(
        "/api/v1/checkout/redemptions",
        json={**body, "idempotency_key": "bench-test-0001"},
        headers=headers,
    )
    assert confirm.status_code == 201
    assert take() == ["INSERT floor_redemptions"]
    assert floor.count_rows(url) == 1


def test_floor_refuses_a_wrong_key_without_touching_the_database(
    floor_client: FloorClient,
) -> None:
    client, take, _ = floor_client
    response = client.post(
        "/api/v1/checkout/preview",
        json={"token": floor.card_number(1), "amount": "1.00"},
        headers={"Authorization": "Bearer wrong"},
    )
    assert response.status_code == 401
    assert take() == []


def test_wire_trace_counts_every_round_trip_including_begin_and_rollback() -> None:
    # A libpq trace as psycopg writes it: a statement's text may span lines.
    trace = (
        'F\t10\tQuery\t "BEGIN"\n'
        'B\t10\tCommandComplete\t "BEGIN"\n'
        'F\t120\tParse\t "" "SELECT cards.id, cards.card_no\n'
        "FROM cards\n"
        'WHERE cards.card_no = $1::VARCHAR" 1 0\n'
        'F\t22\tBind\t "" "" 1 0 1 1 \'x\' 1 0\n'
        'F\t9\tExecute\t "" 0\n'
        "F\t4\tSync\n"
        "B\t5\tReadyForQuery\t T\n"
        'F\t13\tQuery\t "ROLLBACK"\n'
    )
    with tempfile.TemporaryFile(mode="w+") as file:
        wire = roundtrips._WireLog(file)
        file.write(trace)
        assert wire.take() == ["BEGIN", "SELECT cards", "ROLLBACK"]
        assert wire.take() == []


def test_percentiles_are_nearest_rank_over_the_measured_requests() -> None:
    result = load.PhaseResult(seconds=2.0)
    result.latencies_ns = [ms * 1_000_000 for ms in range(100, 0, -1)]  # 1 … 100 ms
    result.completed_in_window = 100
    summary = result.summary()
    assert (summary["p50_ms"], summary["p99_ms"], summary["rps"]) == (50.0, 99.0, 50.0)


class _TinyServer:
    """A keep-alive HTTP server on its own thread that fails every third request with 500."""

    def __init__(self) -> None:
        self.port = 0
        self.served = 0
        self._ready = threading.Event()
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._run, daemon=True)

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = int(head.lower().split(b"content-length:")[1].split(b"\r\n")[0])
                await reader.readexactly(length)
                self.served += 1
                status = b"500 Internal Server Error" if self.served % 3 == 0 else b"200 OK"
                body = b'{"ok":true}'
                writer.write(
                    b"HTTP/1.1 " + status + b"\r\nContent-Length: %d\r\n\r\n" % len(body) + body
                )
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            writer.close()

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        server = self._loop.run_until_complete(asyncio.start_server(self._handle, "127.0.0.1", 0))
        self.port = server.sockets[0].getsockname()[1]
        self._ready.set()
        self._loop.run_forever()
        server.close()
        pending = asyncio.all_tasks(self._loop)
        for task in pending:
            task.cancel()
        self._loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
        self._loop.close()

    def __enter__(self) -> _TinyServer:
        self._thread.start()
        self._ready.wait(5)
        return self

    def __exit__(self, *exc: object) -> None:
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)


def _drive(port: int, requests: list[bytes], **options: Any) -> load.PhaseResult:
    """``load.run_phase`` on a fresh thread: the browser tests leave an event loop running on
    the main one, and asyncio allows one loop per thread."""
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(load.run_phase, "127.0.0.1", port, requests, **options).result()


def test_load_generator_counts_non_2xx_responses_as_errors() -> None:
    with _TinyServer() as server:
        requests = load.build_requests("127.0.0.1", server.port, "/x", "key", [{"n": 1}])
        result = _drive(server.port, requests, reuse=True, clients=2, warmup=0.1, seconds=0.3)
    answered = sum(result.statuses.values())
    assert answered == server.served > 10
    assert result.errors == result.statuses[500] > 0
    assert result.ok_total == result.statuses[200]
    assert "HTTP 500" in result.first_error


def test_single_use_requests_are_sent_once_and_running_out_is_reported() -> None:
    with _TinyServer() as server:
        bodies = [{"idempotency_key": f"k{n}"} for n in range(5)]
        requests = load.build_requests("127.0.0.1", server.port, "/x", "key", bodies)
        result = _drive(server.port, requests, reuse=False, clients=2, warmup=0.0, seconds=1.0)
    assert server.served == 5
    assert result.exhausted
