"""``python -m bench`` (``make bench``): checkout throughput and latency against a floor, as JSON.

For each database (PostgreSQL, SQLite) it builds a fresh data set through the domain services,
serves the floor (bench/floor.py) and then the app under the same gunicorn settings on
127.0.0.1, drives preview and confirm through the POS API with N concurrent keep-alive clients
for a fixed time after a warm-up, checks that every confirm recorded exactly one redemption, and
counts the SQL round trips of one preview and one confirm. Progress goes to stderr, the JSON
report to stdout. See docs/performance.md for the figures and how to read them.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import platform
import secrets
import sqlite3
import sys
import time
from importlib.metadata import version
from pathlib import Path
from typing import Any

from sqlalchemy.engine import make_url

from bench import dataset, floor, load, roundtrips
from bench.server import Gunicorn, ServerSettings

PREVIEW_PATH = "/api/v1/checkout/preview"
CONFIRM_PATH = "/api/v1/checkout/redemptions"
TARGET_RATIO = 0.7
TARGET_P99_MS = 50.0
DEFAULT_PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/rewards_bench"
DEFAULT_PG_FLOOR_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/rewards_bench_floor"
# Preview reuses this many phone tokens in turn (a preview does not spend one).
PREVIEW_TOKENS = 2000


def _say(message: str) -> None:
    print(f"[bench] {message}", file=sys.stderr, flush=True)


def _parse_args(argv: list[str] | None) -> argparse.Namespace:
    cores = os.cpu_count() or 1
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n")[0])
    parser.add_argument("--db", choices=("postgresql", "sqlite", "both"), default="both")
    parser.add_argument("--seconds", type=float, default=10.0, help="measured time per phase")
    parser.add_argument("--warmup", type=float, default=3.0, help="unmeasured time per phase")
    parser.add_argument("--clients", type=int, default=16, help="concurrent connections")
    parser.add_argument(
        "--rounds", type=int, default=1, help="alternate floor and app phases this many times"
    )
    parser.add_argument("--members", type=int, default=500, help="card holders in the data set")
    parser.add_argument("--worker-class", default="gthread", choices=("sync", "gthread"))
    parser.add_argument("--workers", type=int, default=2 * cores, help="default: 2 × cores")
    parser.add_argument("--threads", type=int, default=4, help="threads per gthread worker")
    parser.add_argument(
        "--pg-url", default=os.environ.get("BENCH_DATABASE_URL", DEFAULT_PG_URL), help="app's"
    )
    parser.add_argument(
        "--pg-floor-url",
        default=os.environ.get("BENCH_FLOOR_DATABASE_URL", DEFAULT_PG_FLOOR_URL),
        help="floor's PostgreSQL database (a different one from the app's)",
    )
    parser.add_argument(
        "--workdir",
        default=os.environ.get("BENCH_WORKDIR", "/tmp/rewards_bench-instance"),
        help="SQLite files, instance folder and gunicorn logs",
    )
    args = parser.parse_args(argv)
    if args.warmup + args.seconds > 500:
        parser.error("warm-up plus measured time must stay under the 600 s phone-token lifetime")
    return args


def _bodies(tokens: list[str], count: int, run_id: str | None) -> list[dict[str, Any]]:
    amounts = dataset.BILL_AMOUNTS
    bodies = []
    for n in range(count):
        body: dict[str, Any] = {"token": tokens[n % len(tokens)], "amount": amounts[n % 6]}
        if run_id is not None:
            body["idempotency_key"] = f"bench-{run_id}-{n:08d}"
        bodies.append(body)
    return bodies


def _single_use_count(args: argparse.Namespace, rps_bound: float) -> int:
    """How many single-use requests a confirm phase could possibly send, with room to spare."""
    return math.ceil((args.warmup + args.seconds) * max(rps_bound * 1.5, 200.0)) + args.clients


def _phase(
    server: Gunicorn,
    path: str,
    api_key: str,
    bodies: list[dict[str, Any]],
    args: argparse.Namespace,
    *,
    reuse: bool,
) -> load.PhaseResult:
    requests = load.build_requests("127.0.0.1", server.port, path, api_key, bodies)
    return load.run_phase(
        "127.0.0.1",
        server.port,
        requests,
        reuse=reuse,
        clients=args.clients,
        warmup=args.warmup,
        seconds=args.seconds,
        server_pids=server.pids,
    )


def _check(created: int, recorded: int) -> dict[str, Any]:
    return {"created_responses": created, "rows_in_database": recorded, "ok": created == recorded}


def _app_env(kind: str, app_url: str, workdir: Path) -> dict[str, str]:
    return {
        "REWARDS_ENV": "production",
        "SECRET_KEY": secrets.token_urlsafe(48),
        "DATABASE_URL": app_url,
        "REWARDS_INSTANCE_PATH": str(workdir / f"instance-{kind}"),
        "REWARDS_QR_TTL": "600",
    }


class _Rounds:
    """One database's phases, round after round: floor and app alternate so that other work on
    the machine weighs on both alike."""

    def __init__(self, kind: str, args: argparse.Namespace) -> None:
        self.kind = kind
        self.args = args
        self.results: dict[str, load.PhaseResult] = {}

    def add(self, name: str, result: load.PhaseResult) -> load.PhaseResult:
        if name in self.results:
            self.results[name].absorb(result)
        else:
            self.results[name] = result
        return result

    def floor_round(self, srv: Gunicorn, cards: list[str]) -> None:
        args = self.args
        _say(f"{self.kind}: floor preview")
        preview = self.add(
            "floor_preview",
            _phase(
                srv, PREVIEW_PATH, floor.FLOOR_API_KEY, _bodies(cards, 5000, None), args, reuse=True
            ),
        )
        bodies = _bodies(cards, _single_use_count(args, preview.rps()), secrets.token_hex(4))
        _say(f"{self.kind}: floor confirm")
        self.add(
            "floor_confirm",
            _phase(srv, CONFIRM_PATH, floor.FLOOR_API_KEY, bodies, args, reuse=False),
        )

    def app_round(self, srv: Gunicorn, app: Any, counter: dataset.Counter) -> None:
        args = self.args
        tokens = dataset.phone_tokens(app, counter.card_ids, PREVIEW_TOKENS)
        _say(f"{self.kind}: app preview")
        bodies = _bodies(tokens, PREVIEW_TOKENS, None)
        preview = self.add(
            "preview", _phase(srv, PREVIEW_PATH, counter.api_key, bodies, args, reuse=True)
        )
        count = _single_use_count(args, preview.rps())
        tokens = dataset.phone_tokens(app, counter.card_ids, count)
        _say(f"{self.kind}: app confirm ({count} single-use phone tokens)")
        bodies = _bodies(tokens, count, secrets.token_hex(4))
        self.add("confirm", _phase(srv, CONFIRM_PATH, counter.api_key, bodies, args, reuse=False))


def _bench_database(
    kind: str, args: argparse.Namespace, settings: ServerSettings, workdir: Path
) -> dict[str, Any]:
    """Both servers up side by side; floor and app phases alternate for ``--rounds`` rounds."""
    if kind == "postgresql":
        app_url, floor_url = args.pg_url, args.pg_floor_url
    else:
        app_url = f"sqlite:///{workdir / 'app.sqlite3'}"
        floor_url = f"sqlite:///{workdir / 'floor.sqlite3'}"
    log = workdir / f"gunicorn-{kind}.log"
    app_db, floor_db = (
        make_url(u).database if kind == "postgresql" else None for u in (app_url, floor_url)
    )
    env = _app_env(kind, app_url, workdir)
    os.environ.update(env)  # the in-process app signs phone tokens with the server's keys
    from rewards import create_app
    from rewards.extensions import db

    app = create_app()
    has_api = PREVIEW_PATH in {rule.rule for rule in app.url_map.iter_rules()}
    _say(f"{kind}: preparing the floor's tables and {args.members} members through the services")
    floor.prepare(floor_url, args.members)
    cards = [floor.card_number(n) for n in range(args.members)]
    counter = dataset.build(app, args.members) if has_api else None
    with app.app_context():
        db.engine.dispose()
    rounds = _Rounds(kind, args)
    with contextlib.ExitStack() as stack:
        floor_srv = stack.enter_context(
            Gunicorn(
                "bench.floor:create_app()",
                settings,
                {"FLOOR_DATABASE_URL": floor_url},
                log,
                floor_db,
            )
        )
        app_srv = None
        if counter is not None:
            app_srv = stack.enter_context(
                Gunicorn("rewards:create_app()", settings, env, log, app_db)
            )
        background = load.machine_busy()
        _say(f"{kind}: servers ready; other work keeps {background:.0%} of the machine busy")
        for number in range(1, args.rounds + 1):
            _say(f"{kind}: round {number} of {args.rounds}")
            rounds.floor_round(floor_srv, cards)
            if app_srv is not None and counter is not None:
                rounds.app_round(app_srv, app, counter)
    out: dict[str, Any] = {"background_busy_before": background}
    out.update({name: result.summary() for name, result in rounds.results.items()})
    floor_created = rounds.results["floor_confirm"].statuses.get(201, 0)
    out["floor_confirm"]["rows_check"] = _check(floor_created, floor.count_rows(floor_url))
    if counter is None:
        out["app"] = f"skipped: the app has no {PREVIEW_PATH} (merchant_portal/api.py) yet"
        return out
    created = rounds.results["confirm"].statuses.get(201, 0)
    recorded = dataset.redemptions_recorded(app, counter.merchant_id)
    out["confirm"]["rows_check"] = _check(created, recorded)
    for name in ("preview", "confirm"):
        app_figures, floor_figures = out[name], out[f"floor_{name}"]
        ratio = app_figures["rps"] / floor_figures["rps"] if floor_figures["rps"] else 0.0
        out[f"ratio_{name}"] = round(ratio, 2)
        app_cpu, floor_cpu = (f["server_cpu_ms_per_request"] for f in (app_figures, floor_figures))
        if app_cpu and floor_cpu:
            # What the throughput ratio would be on a machine that only served this benchmark.
            out[f"cpu_ratio_{name}"] = round(floor_cpu / app_cpu, 2)
        p99 = app_figures["p99_ms"]
        out[f"meets_target_{name}"] = bool(
            ratio >= TARGET_RATIO and p99 is not None and p99 < TARGET_P99_MS
        )
    out["round_trips"] = _census(kind, app, counter) | _floor_census(kind, floor_url)
    return out


def _census(kind: str, app: Any, counter: dataset.Counter) -> dict[str, Any]:
    """The SQL round trips (PostgreSQL) or statements (SQLite) of one preview and one confirm."""
    from rewards.extensions import db

    headers = {"Authorization": f"Bearer {counter.api_key}"}
    tokens = dataset.phone_tokens(app, counter.card_ids, 3)
    with app.app_context():
        db.engine.dispose()
    found: dict[str, Any] = {}
    with roundtrips.counting(kind) as take:
        client = app.test_client()
        client.post(PREVIEW_PATH, json={"token": tokens[0], "amount": "128.50"}, headers=headers)
        take()  # the first request pays one-off costs (connection, API-key use note)
        response = client.post(
            PREVIEW_PATH, json={"token": tokens[1], "amount": "128.50"}, headers=headers
        )
        found["preview"] = take() if response.status_code == 200 else f"HTTP {response.status_code}"
        response = client.post(
            CONFIRM_PATH,
            json={
                "token": tokens[2],
                "amount": "128.50",
                "idempotency_key": f"census-{tokens[2][-12:]}",
            },
            headers=headers,
        )
        found["confirm"] = take() if response.status_code == 201 else f"HTTP {response.status_code}"
        with app.app_context():
            db.engine.dispose()
    return {
        "unit": "round trips on the wire" if kind == "postgresql" else "statements executed",
        **{name: len(trips) if isinstance(trips, list) else trips for name, trips in found.items()},
        "detail": found,
    }


def _floor_census(kind: str, url: str) -> dict[str, Any]:
    """The floor's round trips, counted the same way as the app's."""
    os.environ["FLOOR_DATABASE_URL"] = url
    headers = {"Authorization": f"Bearer {floor.FLOOR_API_KEY}"}
    found: dict[str, Any] = {}
    with roundtrips.counting(kind) as take:
        app = floor.create_app()
        client = app.test_client()
        body = {"token": floor.card_number(1), "amount": "128.50"}
        client.post(PREVIEW_PATH, json=body, headers=headers)
        take()
        client.post(PREVIEW_PATH, json=body, headers=headers)
        found["floor_preview"] = take()
        client.post(
            CONFIRM_PATH, json={**body, "idempotency_key": secrets.token_hex(8)}, headers=headers
        )
        found["floor_confirm"] = take()
        app.extensions["floor.engine"].dispose()
    return {name: len(trips) for name, trips in found.items()} | {"floor_detail": found}


def _postgres_problem(*urls: str) -> str | None:
    """Why PostgreSQL cannot be used, or None; creates a missing benchmark database."""
    import psycopg

    for url in urls:
        parsed = make_url(url)
        dsn = parsed.set(drivername="postgresql").render_as_string(hide_password=False)
        try:
            psycopg.connect(dsn, connect_timeout=3).close()
            continue
        except psycopg.OperationalError as exc:
            if "does not exist" not in str(exc):
                return f"PostgreSQL is not reachable at {parsed!r}: {str(exc).strip()}"
        server = parsed.set(drivername="postgresql", database="postgres")
        try:
            with psycopg.connect(
                server.render_as_string(hide_password=False), autocommit=True, connect_timeout=3
            ) as conn:
                conn.execute(f'CREATE DATABASE "{parsed.database}"')
        except psycopg.Error as exc:
            return f"cannot create database {parsed.database!r}: {str(exc).strip()}"
        _say(f"created database {parsed.database}")
    return None


def _machine(args: argparse.Namespace, results: dict[str, Any]) -> dict[str, Any]:
    info: dict[str, Any] = {
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "sqlite": sqlite3.sqlite_version,
        "gunicorn": version("gunicorn"),
        "flask": version("flask"),
        "sqlalchemy": version("sqlalchemy"),
        "psycopg": version("psycopg"),
    }
    if "skipped" not in results.get("postgresql", {"skipped": True}):
        from sqlalchemy import create_engine, text

        engine = create_engine(args.pg_url)
        with engine.connect() as conn:
            info["postgresql"] = conn.execute(text("SHOW server_version")).scalar_one()
        engine.dispose()
    return info


def _valid(results: dict[str, Any], asked: str) -> bool:
    """No error response anywhere, no phase cut short, every confirm recorded exactly once, and
    no database skipped that was asked for by name."""
    for per_db in results.values():
        if "skipped" in per_db and asked != "both":
            return False
        for phase in ("preview", "confirm", "floor_preview", "floor_confirm"):
            figures = per_db.get(phase)
            if figures is None:
                continue
            if figures["errors"] or figures.get("exhausted"):
                return False
            if "rows_check" in figures and not figures["rows_check"]["ok"]:
                return False
    return True


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print the JSON report; exit 1 if the run is invalid."""
    args = _parse_args(argv)
    workdir = Path(args.workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    settings = ServerSettings(args.worker_class, args.workers, args.threads)
    kinds = ("postgresql", "sqlite") if args.db == "both" else (args.db,)
    started = time.time()
    results: dict[str, Any] = {}
    for kind in kinds:
        problem = (
            _postgres_problem(args.pg_url, args.pg_floor_url) if kind == "postgresql" else None
        )
        if problem:
            _say(f"!!! {problem}: the PostgreSQL benchmark was SKIPPED")
            results[kind] = {"skipped": problem}
            continue
        results[kind] = _bench_database(kind, args, settings, workdir)
    report = {
        "machine": _machine(args, results),
        "settings": {
            "clients": args.clients,
            "seconds": args.seconds,
            "rounds": args.rounds,
            "warmup_seconds": args.warmup,
            "members": args.members,
            "gunicorn": {
                "worker_class": settings.worker_class,
                "workers": settings.workers,
                "threads": settings.threads,
                "access_log": False,
            },
            "app_env": {"REWARDS_ENV": "production", "REWARDS_QR_TTL": 600},
            "credential": "a fresh single-use phone token per confirm; preview reuses 2000",
            "load_generator": "python asyncio, one process, one keep-alive connection per client",
            "target": {"ratio": TARGET_RATIO, "p99_ms": TARGET_P99_MS},
        },
        "results": results,
        "valid": _valid(results, args.db),
        "wall_seconds": round(time.time() - started, 1),
    }
    print(json.dumps(report, ensure_ascii=False, indent=2))
    return 0 if report["valid"] else 1


if __name__ == "__main__":
    sys.exit(main())
