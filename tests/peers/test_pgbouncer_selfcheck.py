"""Self-check of the PgBouncer peer with plain psycopg (nothing from oauthkit)."""

from __future__ import annotations

import psycopg

from .pgbouncer import PgBouncerPeer


def _dsn(peer: PgBouncerPeer, database: str = "postgres") -> str:
    return f"host=127.0.0.1 port={peer.port} user=oauthkit dbname={database}"


def test_queries_pass_through_in_transaction_pooling(pgbouncer: PgBouncerPeer) -> None:
    assert "pool_mode = transaction" in (pgbouncer.folder / "pgbouncer.ini").read_text()
    with psycopg.connect(_dsn(pgbouncer), autocommit=True) as connection:
        assert connection.execute("SELECT 1 + 1").fetchone() == (2,)
    assert pgbouncer.url().startswith(f"postgresql+psycopg://oauthkit@127.0.0.1:{pgbouncer.port}/")


def test_a_new_database_is_reached_through_it(pgbouncer: PgBouncerPeer) -> None:
    pgbouncer.create_database("selfcheck_pooled")
    with psycopg.connect(_dsn(pgbouncer, "selfcheck_pooled"), autocommit=True) as connection:
        assert connection.execute("SELECT current_database()").fetchone() == ("selfcheck_pooled",)
