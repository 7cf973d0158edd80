"""PostgreSQL for the tests: `postgres_server` (a reachable server) and `postgres_database` (a
fresh database on it, dropped afterwards). Enable with `pytest_plugins = ["postgres_fixtures"]`.

The server: `$DAGSTER_PG_HOST`… when set (`.ci/run` starts one with .ci/postgres.sh), else a
throwaway one started here from Debian's binaries; tests are skipped only when there is neither.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from pgkit import connect

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / ".ci" / "postgres.sh"
KEYS = ("DAGSTER_PG_HOST", "DAGSTER_PG_PORT", "DAGSTER_PG_USERNAME", "DAGSTER_PG_PASSWORD",
        "DAGSTER_PG_DB")


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[dict[str, str]]:
    """Connection settings of a reachable server (see module doc)."""
    if os.environ.get("DAGSTER_PG_HOST"):
        env = {k: os.environ.get(k, "") for k in KEYS}
        try:
            connect(env).close()
        except Exception as exc:  # noqa: BLE001 - any failure means: not reachable
            pytest.skip(f"no PostgreSQL server reachable at {env['DAGSTER_PG_HOST']}:"
                        f"{env['DAGSTER_PG_PORT']} ({str(exc).strip()})")
        yield env
        return
    if not list(Path("/usr/lib/postgresql").glob("*/bin/initdb")):
        pytest.skip("no PostgreSQL server: DAGSTER_PG_HOST is not set and Debian's postgresql "
                    "is not installed to start one (`bash .ci/run` installs and starts it)")
    # Not under pytest's tmp folder: run as root, the server's user must reach the folder.
    folder = Path(tempfile.mkdtemp(prefix="dora-postgres-"))
    started = subprocess.run(["bash", str(SCRIPT), "start", str(folder)], capture_output=True,
                             text=True, check=False, timeout=120)
    assert started.returncode == 0, f"could not start PostgreSQL: {started.stderr}"
    env = dict(item.split("=", 1) for item in started.stdout.split()[1:])
    try:
        yield env
    finally:
        subprocess.run(["bash", str(SCRIPT), "stop", str(folder)], check=False, timeout=120)
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture
def postgres_database(postgres_server: dict[str, str]) -> Iterator[dict[str, str]]:
    """The server's settings with `DAGSTER_PG_DB` a fresh database, dropped afterwards."""
    database = f"dora_{uuid.uuid4().hex[:10]}"
    admin = connect(postgres_server)
    admin.autocommit = True
    admin.cursor().execute(f'CREATE DATABASE "{database}"')
    try:
        yield {**postgres_server, "DAGSTER_PG_DB": database}
    finally:
        admin.cursor().execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
        admin.close()
