"""Nothing leaked: a GitHub token planted in the environment is found nowhere the pipeline writes.

`dora-pipeline run --verbose` (in this process, so its stdout and stderr are captured at the file
descriptors) against the fake GitHub, with a persistent Dagster instance in a temporary
DAGSTER_HOME, once with the right token and once with a wrong one (a failed run: the error path).
Then every byte the runs left behind is searched for both tokens: the CLI's output, every file of
DAGSTER_HOME (run and event-log storage) and the instance's own records, the DuckDB files (raw
bytes, and every table as text), the landing (Parquet decoded, raw pages decompressed, cursors)
and every report. Each place is also checked to hold what the run really wrote, so an empty or
unreadable place cannot make the test pass.
"""

from __future__ import annotations

import gzip
from pathlib import Path

import dagster as dg
import duckdb
import known_answers as ka
import polars as pl
import pytest
import yaml
from eventkit import write_events
from fake_github.helpers import TOKEN_ENV
from fake_github.scenarios import small_repo
from fake_github.server import FakeGithub

from pipelines.cli import main as cli
from pipelines.config import ConfigError, GithubSource, load_config
from pipelines.defs.resources import DoraResource

pytest_plugins = ["fake_github.fixtures"]
WRONG = "ghp_plantedWrongToken0000111122223333aaaa"


def _texts(root: Path) -> dict[Path, str]:
    """Every file under `root` as text: Parquet decoded to JSON, `.gz` decompressed, the rest as
    raw bytes (DuckDB and SQLite files included)."""
    out = {}
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        data = path.read_bytes()
        if path.suffix == ".parquet":
            text = pl.read_parquet(path).write_json()
        elif path.suffix == ".gz":
            text = gzip.decompress(data).decode("utf-8", "replace")
        else:
            text = data.decode("utf-8", "replace")
        out[path] = text
    return out


def _warehouse_as_text(path: Path) -> str:
    """Every table of a DuckDB file, every column cast to text (DuckDB compresses strings on
    disk, so the raw bytes alone would not show a token)."""
    conn = duckdb.connect(str(path), read_only=True)
    try:
        parts = []
        for (table,) in conn.execute("SELECT table_name FROM duckdb_tables() "
                                     "WHERE database_name = current_database()").fetchall():
            rows = conn.execute(f'SELECT CAST(COLUMNS(*) AS VARCHAR) FROM "{table}"')  # noqa: S608
            parts.append(f"{table}: {rows.fetchall()!r}")
        return "\n".join(parts)
    finally:
        conn.close()


def _instance_records(home: Path) -> str:
    """What the persistent instance holds, through its own API: runs (config, tags) and every
    event of every run (messages, metadata, errors)."""
    instance = dg.DagsterInstance.from_config(str(home))
    try:
        parts = []
        for run in instance.get_runs():
            parts.append(repr(run.run_config) + repr(run.tags))
            parts += [repr(event) for event in instance.all_logs(run.run_id)]
        return "\n".join(parts)
    finally:
        instance.dispose()


@pytest.fixture
def org(tmp_path: Path, fake_github: FakeGithub) -> Path:
    fake_github.add_repo(small_repo().repo)
    write_events(tmp_path / "events", commits=ka.COMMITS, deployments=ka.DEPLOYMENTS,
                 incidents=ka.INCIDENTS)
    config = {
        "warehouse": "data/dora.duckdb",
        "reports_dir": "reports",
        "teams": [{"name": "payments", "services": ["app", "api"]}],
        "services": [{"name": "app", "repo": "acme/app"}, {"name": "api", "repo": "acme/api"}],
        "sources": [
            {"kind": "files", "path": "events"},
            {"kind": "github", "repos": ["acme/app"], "token_env": TOKEN_ENV,
             "base_url": fake_github.base_url, "deployments_from": ["deployments", "releases"]},
        ],
    }
    path = tmp_path / "dora.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
    return path


def test_a_planted_token_appears_nowhere(org: Path, fake_github: FakeGithub, tmp_path: Path,
                                         monkeypatch: pytest.MonkeyPatch,
                                         capfd: pytest.CaptureFixture[str]) -> None:
    secret = fake_github.token
    home = tmp_path / "dagster_home"
    home.mkdir()
    (home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n", encoding="utf-8")
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    monkeypatch.setenv(TOKEN_ENV, secret)

    assert cli(["run", "--config", str(org), "--verbose"]) == 0
    good = capfd.readouterr()
    monkeypatch.setenv(TOKEN_ENV, WRONG)
    assert cli(["run", "--config", str(org), "--verbose"]) == 1  # 401: the error path
    bad = capfd.readouterr()

    config = load_config(org)
    places = {
        "CLI output": good.out + good.err + bad.out + bad.err,
        "Dagster home files": "\n".join(_texts(home).values()),
        "Dagster runs and events": _instance_records(home),
        # The published file, the working copy and any write-ahead log, as raw bytes.
        "warehouse files": "\n".join(p.read_bytes().decode("utf-8", "replace")
                                     for p in config.warehouse_path.parent.glob("dora.duckdb*")),
        "warehouse tables": _warehouse_as_text(config.warehouse_path),
        "landing": "\n".join(_texts(config.landing_path).values()),
        "reports": "\n".join(_texts(config.reports_path).values()),
        "config": org.read_text(encoding="utf-8"),
    }
    # Each place holds what the runs wrote (so the search below searched something real) …
    assert "run failed" in places["CLI output"] and "401" in places["CLI output"]
    assert "DEBUG" in places["CLI output"]  # --verbose: Dagster's whole log went out too
    assert "acme/app" in places["Dagster runs and events"]
    assert "ASSET_MATERIALIZATION" in places["Dagster runs and events"]
    assert "STEP_FAILURE" in places["Dagster runs and events"]
    assert "github_landing" in places["Dagster home files"]
    assert "Add ledger" in places["warehouse tables"]  # a PR title from the fake GitHub
    assert "Add ledger" in places["landing"]
    assert "payments" in places["reports"] and "<html" in places["reports"]
    assert TOKEN_ENV in places["config"]  # the config names the variable …
    # … and no place holds either token, whole or in part.
    for token in (secret, WRONG):
        for where, text in places.items():
            assert token not in text, f"the token leaked into {where}"
            assert token[4:20] not in text, f"part of the token leaked into {where}"


def test_tokens_come_only_from_the_environment(tmp_path: Path) -> None:
    """The config names a variable; it has no place for a token, and says so without echoing
    the value. Dagster's resource carries only the config file's path."""
    assert "token" not in {f for f in GithubSource.model_fields if f != "token_env"}
    assert set(DoraResource.model_fields) == {"config_path"}
    path = tmp_path / "dora.yaml"
    path.write_text("sources:\n  - kind: github\n    repos: [acme/app]\n"
                    f"    token: {WRONG}\n", encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert "`sources.0.token`: unknown key" in str(caught.value)
    assert WRONG not in str(caught.value)
