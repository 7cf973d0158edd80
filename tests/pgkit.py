"""Connecting to the tests' PostgreSQL server (tests/postgres_fixtures.py starts or finds it)."""

from __future__ import annotations

from typing import Any


def connect(env: dict[str, str], db: str | None = None) -> Any:
    """A psycopg2 connection with the DAGSTER_PG_* settings in `env`."""
    import psycopg2

    return psycopg2.connect(host=env["DAGSTER_PG_HOST"], port=int(env["DAGSTER_PG_PORT"]),
                            user=env["DAGSTER_PG_USERNAME"], password=env["DAGSTER_PG_PASSWORD"],
                            dbname=db or env["DAGSTER_PG_DB"], connect_timeout=5)
