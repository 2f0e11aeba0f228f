"""Flask extensions: created once here, bound to an app in ``create_app``."""

import select
from typing import Any

from flask_babel import Babel
from flask_login import LoginManager
from flask_migrate import Migrate
from flask_smorest import Api
from flask_sqlalchemy import SQLAlchemy
from flask_wtf import CSRFProtect
from sqlalchemy import Engine, MetaData, event
from sqlalchemy.exc import DBAPIError, DisconnectionError
from sqlalchemy.orm import DeclarativeBase

# Deterministic constraint names, so Alembic can alter them on every backend.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    """Declarative base of every model."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)


db = SQLAlchemy(model_class=Base)
migrate = Migrate()
login_manager = LoginManager()
csrf = CSRFProtect()
babel = Babel()
api = Api()


def closed_by_the_server(dbapi_connection: Any) -> bool:
    """Whether PostgreSQL has ended this idle psycopg connection (restart, shutdown,
    ``pg_terminate_backend``, ``idle_session_timeout``), asked without a round trip.

    An idle connection gets nothing from the server until it sends a query; when the server
    ends the session it sends a FATAL error and closes the socket. So a socket with anything to
    read (or a hang-up) while idle means the session is over. The check is one ``poll`` with no
    wait; at worst (an unexpected message) a healthy connection is replaced by a new one.
    """
    if dbapi_connection.closed:
        return True
    try:
        waiter = select.poll()
        waiter.register(dbapi_connection.pgconn.socket, select.POLLIN | select.POLLPRI)
        return bool(waiter.poll(0))
    except Exception:  # no socket any more: the connection is broken
        return True


def _refuse_closed_connections(
    dbapi_connection: Any, connection_record: Any, connection_proxy: Any
) -> None:
    # Raised at checkout, DisconnectionError makes the pool drop this connection and hand out
    # another (a new one if need be), so the request never sees the dead session.
    if closed_by_the_server(dbapi_connection):
        raise DisconnectionError("PostgreSQL closed this pooled connection")


def configure_engine(engine: Engine) -> None:
    """Make SQLite behave like a real transactional database; on PostgreSQL, never hand a
    request a pooled connection that the server has closed."""
    if engine.dialect.name == "postgresql" and engine.dialect.driver == "psycopg":
        event.listen(engine, "checkout", _refuse_closed_connections)
        return
    if engine.dialect.name != "sqlite":
        return

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, connection_record: Any) -> None:
        # pysqlite's own transaction handling commits when a SAVEPOINT that opened the
        # transaction is released; take BEGIN over from it (SQLAlchemy's documented recipe).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys = ON")
        # Readers never block the writer (and the reverse): a page open in one request does
        # not lock a checkout in another.
        cursor.execute("PRAGMA journal_mode = WAL")
        cursor.execute("PRAGMA busy_timeout = 5000")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        # IMMEDIATE: take the write lock up front, so concurrent requests queue on busy_timeout
        # instead of failing at once when a read-then-write transaction finds a newer snapshot.
        connection.exec_driver_sql("BEGIN IMMEDIATE")


def end_session(exception: BaseException | None = None) -> None:
    """End the request's session (registered after Flask-SQLAlchemy's, so it runs first).

    If PostgreSQL ended the connection while the request's transaction was open (a restart
    while the request ran), the closing ROLLBACK fails, but the server has rolled the
    transaction back already and SQLAlchemy has dropped the connection: the request's answer
    stands, and the session is closed again without it.
    """
    try:
        db.session.remove()
    except DBAPIError as error:
        if not error.connection_invalidated:
            raise
        db.session.remove()
