"""Crash consistency: a server killed with ``kill -9`` in the middle of a write leaves nothing
partial behind, and submitting the same write again completes it exactly once.

The server is a separate process (the app behind Werkzeug's threaded server, on a scratch
PostgreSQL database migrated with the project's migrations). To stop it at a known point inside
its transaction, the test itself holds ``LOCK TABLE audit_events IN SHARE MODE``: the audit
event is the last row a write adds, so the server blocks there after inserting everything else.
The test waits until PostgreSQL shows the server waiting on that lock while holding row locks
on the tables it has written, then kills the server and lets go of the lock.
"""

from __future__ import annotations

import os
import re
import select
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
import pytest
import requests
from flask import Flask
from flask_migrate import upgrade
from sqlalchemy import text
from sqlalchemy.engine import make_url

from rewards import create_app
from rewards.clock import utcnow
from rewards.extensions import db
from rewards.models import Member, MemberStatus, Role
from rewards.services import activities, api_tokens
from rewards.services.audit import Actor
from tests import factories
from tests.clock import today
from tests.conftest import TEST_DATABASE_URL, empty_all_tables
from tests.live_http import csrf_token, sign_in

# Needs PostgreSQL: the test stops the server inside its transaction with a table lock, and
# reads PostgreSQL's own view of sessions and locks (pg_stat_activity, pg_locks).
pytestmark = pytest.mark.postgres_only

ROOT = Path(__file__).resolve().parents[1]
SECRET_KEY = "crash-test-secret-key"
BATCH = 500
# Only an upper bound for polling: generous, for a loaded machine.
DEADLINE_SECONDS = 60

# The server: the app as `rewards run` builds it from the environment, on the tests' fixed clock.
SERVER = """
import sys
from rewards.clock import use_clock
from tests.clock import fixed_instant

instant = fixed_instant()
use_clock(lambda: instant)

from werkzeug.serving import make_server
from rewards import create_app

server = make_server("127.0.0.1", 0, create_app(), threaded=True)
print(server.server_port, flush=True)
server.serve_forever()
"""


def libpq_url(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


@pytest.fixture(scope="module")
def scratch_url() -> str:
    """A database of this module's own (made once and kept), at the newest migration."""
    base = make_url(TEST_DATABASE_URL)
    name = f"{base.database}_crash"
    with psycopg.connect(libpq_url(TEST_DATABASE_URL), autocommit=True) as admin:
        if not admin.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone():
            admin.execute(f'CREATE DATABASE "{name}"')
    url = base.set(database=name).render_as_string(hide_password=False)
    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "SECRET_KEY": SECRET_KEY})
    with app.app_context():
        upgrade()
        db.engine.dispose()
    return url


def server_env(url: str, instance: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST", "REWARDS_TEST_D"))}
    env.update(
        DATABASE_URL=url,
        SECRET_KEY=SECRET_KEY,
        REWARDS_ENV="development",
        REWARDS_INSTANCE_PATH=str(instance),
        PYTHONPATH=str(ROOT),
    )
    return env


@pytest.fixture()
def seeding_app(scratch_url: str, tmp_path: Path) -> Iterator[Flask]:
    """An app in this process on the scratch database, to seed it and read it back."""
    app = create_app({"SQLALCHEMY_DATABASE_URI": scratch_url, "SECRET_KEY": SECRET_KEY})
    with app.app_context():
        empty_all_tables()
    yield app
    with app.app_context():
        db.session.remove()
        empty_all_tables()
        db.engine.dispose()


@dataclass
class Server:
    """The app in its own process, started (and restarted) on a free port."""

    url_of_db: str
    instance: Path
    process: subprocess.Popen[str] | None = None
    url: str = ""

    def start(self) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-c", SERVER],
            cwd=ROOT,
            env=server_env(self.url_of_db, self.instance),
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        assert self.process.stdout is not None
        ready, _, _ = select.select([self.process.stdout], [], [], DEADLINE_SECONDS)
        assert ready, "the server did not start"
        port = self.process.stdout.readline().strip()
        assert port.isdigit(), f"the server did not start: {port!r}"
        self.url = f"http://127.0.0.1:{port}"

    def kill_9(self) -> None:
        assert self.process is not None
        os.kill(self.process.pid, signal.SIGKILL)
        assert self.process.wait(timeout=DEADLINE_SECONDS) == -signal.SIGKILL

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=DEADLINE_SECONDS)


@pytest.fixture()
def server(scratch_url: str, tmp_path: Path) -> Iterator[Server]:
    running = Server(scratch_url, tmp_path / "instance")
    yield running
    running.stop()


def wait_for(condition: Any, what: str) -> Any:
    """Poll ``condition`` until it returns something true, within the deadline."""
    deadline = time.monotonic() + DEADLINE_SECONDS
    while True:
        found = condition()
        if found:
            return found
        assert time.monotonic() < deadline, f"gave up waiting: {what}"
        time.sleep(0.02)


class Blocker:
    """The test's own PostgreSQL session, holding back inserts into ``audit_events``."""

    def __init__(self, url: str) -> None:
        self.conn = psycopg.connect(libpq_url(url))
        self.conn.execute("LOCK TABLE audit_events IN SHARE MODE")
        self.watch = psycopg.connect(libpq_url(url), autocommit=True)

    def server_stuck_mid_transaction(self, written: tuple[str, ...]) -> int:
        """The backend of the server once it waits on our lock while holding row locks on
        every table in ``written`` (so it has written them, uncommitted); its pid."""

        def stuck() -> int | None:
            row = self.watch.execute(
                """
                SELECT a.pid FROM pg_stat_activity a
                WHERE a.datname = current_database() AND a.wait_event_type = 'Lock'
                  AND a.query ILIKE 'INSERT INTO audit_events%%'
                  AND (SELECT count(DISTINCT c.relname) FROM pg_locks l
                       JOIN pg_class c ON c.oid = l.relation
                       WHERE l.pid = a.pid AND l.granted AND l.mode = 'RowExclusiveLock'
                         AND c.relname = ANY(%s)) = %s
                """,
                (list(written), len(written)),
            ).fetchone()
            return row[0] if row else None

        return wait_for(stuck, f"the server to block inserting its audit event after {written}")

    def release(self) -> None:
        self.conn.rollback()
        self.conn.close()

    def backend_alive(self, pid: int) -> bool:
        row = self.watch.execute("SELECT 1 FROM pg_stat_activity WHERE pid = %s", (pid,))
        return row.fetchone() is not None

    def leftovers(self) -> list[tuple[int, str]]:
        """Sessions on the database, other than the test's own, inside a transaction."""
        return self.watch.execute(
            "SELECT pid, state FROM pg_stat_activity WHERE datname = current_database() "
            "AND pid <> pg_backend_pid() AND xact_start IS NOT NULL"
        ).fetchall()

    def close(self) -> None:
        self.conn.close()  # lets go of the lock if the test failed before releasing it
        self.watch.close()


def in_background(send: Any) -> tuple[threading.Thread, dict[str, Any]]:
    """Send a request from a thread; the outcome (response or exception) lands in the dict."""
    outcome: dict[str, Any] = {}

    def run() -> None:
        try:
            outcome["response"] = send()
        except requests.RequestException as error:
            outcome["error"] = error

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread, outcome


def crash_mid_write(server: Server, url: str, send: Any, written: tuple[str, ...]) -> None:
    """Start ``send``, kill -9 the server while its transaction has written ``written``, then
    check that PostgreSQL rolled it back: the session is gone and nobody is left in a
    transaction."""
    blocker = Blocker(url)
    try:
        thread, outcome = in_background(send)
        pid = blocker.server_stuck_mid_transaction(written)
        server.kill_9()
        thread.join(timeout=DEADLINE_SECONDS)
        assert "error" in outcome, "the killed server still answered"
        assert blocker.backend_alive(pid)  # still waiting on the lock, its transaction open
        blocker.release()
        # Granted the lock, the orphaned backend finds its client gone and rolls back.
        wait_for(lambda: not blocker.backend_alive(pid), "the killed server's session to end")
        assert blocker.leftovers() == []
    finally:
        blocker.close()


def count(app: Flask, sql: str, **params: Any) -> int:
    with app.app_context():
        value = db.session.scalar(text(sql), params)
        db.session.remove()
        return int(value or 0)


# -- attendance ---------------------------------------------------------------------------------


def test_a_server_killed_mid_attendance_batch_leaves_nothing_partial_and_a_resubmit_credits_once(
    seeding_app: Flask, scratch_url: str, server: Server
) -> None:
    with seeding_app.app_context():
        home = factories.community(db.session)
        category = factories.category(db.session, default_points=5, max_points=20)
        secretary = factories.account(db.session, Role.SECRETARY, community=home)
        db.session.add_all(
            Member(
                member_no=f"CR{n:07d}",
                name=f"党员{n}",
                phone="13800000000",
                community_id=home.id,
                status=MemberStatus.ACTIVE,
                joined_on=today(),
                created_at=utcnow(),
            )
            for n in range(BATCH)
        )
        activity = activities.create_activity(
            db.session,
            Actor.for_account(secretary),
            home.id,
            category.id,
            "社区清洁日",
            today(),
            5,
        )
        token = api_tokens.issue_token(db.session, secretary).token
        activity_id = activity.id
        db.session.commit()
        db.session.remove()
    member_nos = [f"CR{n:07d}" for n in range(BATCH)]

    def submit() -> requests.Response:
        return requests.post(
            f"{server.url}/api/v1/activities/{activity_id}/attendance",
            json={"member_nos": member_nos},
            headers={"Authorization": f"Bearer {token}"},
            timeout=DEADLINE_SECONDS,
        )

    def batch_rows() -> tuple[int, int, int]:
        return (
            count(
                seeding_app,
                "SELECT count(*) FROM attendances WHERE activity_id = :a",
                a=activity_id,
            ),
            count(
                seeding_app,
                "SELECT count(*) FROM ledger_entries WHERE source_type = 'activity' "
                "AND source_id = :a",
                a=activity_id,
            ),
            count(
                seeding_app,
                "SELECT count(*) FROM audit_events WHERE action = 'activity.attendance'",
            ),
        )

    server.start()
    crash_mid_write(server, scratch_url, submit, ("attendances", "ledger_entries"))
    assert batch_rows() == (0, 0, 0), "a part of the killed batch is visible"

    server.start()
    first = submit()
    assert first.status_code == 200, first.text
    assert first.json() == {"recorded": BATCH, "already": 0}
    assert batch_rows() == (BATCH, BATCH, 1)
    credited_members = count(
        seeding_app,
        "SELECT count(DISTINCT member_id) FROM ledger_entries WHERE source_type = 'activity' "
        "AND source_id = :a",
        a=activity_id,
    )
    assert credited_members == BATCH

    again = submit()
    assert again.status_code == 200, again.text
    assert again.json() == {"recorded": 0, "already": BATCH}
    assert batch_rows()[:2] == (BATCH, BATCH), "somebody was credited twice"


# -- roster import ------------------------------------------------------------------------------


def hidden(html: str, name: str) -> str:
    found = re.search(rf'name="{name}"[^>]*value="([^"]*)"', html) or re.search(
        rf'value="([^"]*)"[^>]*name="{name}"', html
    )
    assert found, f"the page has no {name} field"
    return found.group(1)


def test_a_server_killed_mid_roster_import_leaves_nothing_partial_and_a_resubmit_imports_once(
    seeding_app: Flask, scratch_url: str, server: Server
) -> None:
    with seeding_app.app_context():
        home = factories.community(db.session)
        username = factories.account(db.session, Role.SECRETARY, community=home).username
        community_id = home.id
        db.session.commit()
        db.session.remove()
    lines = ["党员编号,姓名,手机号,报到日期,工作单位"]
    lines += [f"RI{n:07d},党员{n},138{n:08d},2019-07-01,红星街道" for n in range(BATCH)]
    roster_csv = ("\n".join(lines) + "\n").encode("utf-8")

    def imported() -> tuple[int, int]:
        return (
            count(
                seeding_app,
                "SELECT count(*) FROM members WHERE community_id = :c AND member_no LIKE 'RI%%'",
                c=community_id,
            ),
            count(seeding_app, "SELECT count(*) FROM audit_events WHERE action = 'roster.import'"),
        )

    server.start()
    secretary = sign_in(server.url, username, DEADLINE_SECONDS)
    upload_page = secretary.get(f"{server.url}/community/members/import", timeout=DEADLINE_SECONDS)
    uploaded = secretary.post(
        f"{server.url}/community/members/import",
        data={"csrf_token": csrf_token(upload_page.text)},
        files={"file": ("roster.csv", roster_csv, "text/csv")},
        timeout=DEADLINE_SECONDS,
    )
    assert uploaded.status_code == 200 and "/members/import/preview" in uploaded.url, uploaded.text
    confirm = {
        "csrf_token": csrf_token(uploaded.text),
        "token": hidden(uploaded.text, "token"),
        "community": "",
    }
    assert imported() == (0, 0)  # the preview writes nothing

    def submit(browser: requests.Session) -> requests.Response:
        return browser.post(
            f"{server.url}/community/members/import/confirm",
            data=confirm,
            allow_redirects=False,
            timeout=DEADLINE_SECONDS,
        )

    crash_mid_write(server, scratch_url, lambda: submit(secretary), ("members",))
    assert imported() == (0, 0), "a part of the killed import is visible"

    # The same confirmation again (the browser's resubmit), on the restarted server.
    server.start()
    secretary = sign_in(server.url, username, DEADLINE_SECONDS)
    confirm["csrf_token"] = csrf_token(
        secretary.get(f"{server.url}/community/members", timeout=DEADLINE_SECONDS).text
    )
    done = submit(secretary)
    assert done.status_code == 302 and "/community/members" in done.headers["Location"]
    assert imported() == (BATCH, 1)

    again = submit(secretary)  # the staged file is used up: nothing is imported twice
    assert again.status_code == 302 and "/members/import" in again.headers["Location"]
    assert imported() == (BATCH, 1)
