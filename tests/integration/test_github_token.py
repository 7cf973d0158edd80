"""The token never appears anywhere: logs (DEBUG included), stdout/stderr, errors and their
tracebacks, the landing (raw payloads, batches, cursors), Dagster's event log and metadata."""

from __future__ import annotations

import gzip
import logging
import traceback
from pathlib import Path

import dagster as dg
import polars as pl
import pytest
from fake_github.helpers import FIXED_NOW, TOKEN_ENV, settings, write_config
from fake_github.scenarios import small_repo
from fake_github.server import FakeGithub, Fault

from pipelines.defs.ingest.github import github_landing
from pipelines.defs.resources import DoraResource
from pipelines.sources.github import GithubSyncError, sync_repo

pytest_plugins = ["fake_github.fixtures"]
WRONG = "ghp_wrongTokenAlsoSecret99999999"


def _file_texts(root: Path) -> list[str]:
    texts = []
    for path in root.rglob("*"):
        if not path.is_file():
            continue
        data = path.read_bytes()
        if path.name.endswith(".gz"):
            data = gzip.decompress(data)
        if path.suffix == ".parquet":
            data = pl.read_parquet(path).write_json().encode()
        texts.append(data.decode("utf-8", "replace"))
    return texts


def test_the_token_never_appears_in_any_output(fake_github: FakeGithub, tmp_path, caplog,
                                               capsys, monkeypatch):
    caplog.set_level(logging.DEBUG)
    caplog.set_level(logging.DEBUG, logger="github")  # PyGithub logs requests and headers
    secret = fake_github.token
    fake_github.add_repo(small_repo().repo)
    config = write_config(tmp_path, fake_github.base_url, ["acme/app"])
    outputs: list[str] = []

    def sync():
        return sync_repo(config, config.sources[0], "github-0", "acme/app",
                         settings=settings([]), log=logging.getLogger("test").info, now=FIXED_NOW)

    # A sync through a secondary limit and a server error, then a failing one, then a bad token.
    fake_github.inject(Fault("secondary", match="PullRequests", retry_after=5),
                       Fault("status", match="commits", status=502))
    outputs.append(repr(sync().as_metadata()))
    fake_github.inject(Fault("status", match="Overview", status=500, times=99))
    for token in (secret, WRONG):
        monkeypatch.setenv(TOKEN_ENV, token)
        with pytest.raises(GithubSyncError) as caught:
            sync()
        outputs += [str(caught.value), repr(caught.value),
                    "".join(traceback.format_exception(caught.value))]
        fake_github.faults.clear()

    # And through Dagster: the run's events, metadata and failure.
    # Entered, so that Dagster's "current instance" state points at a live instance.
    with dg.DagsterInstance.ephemeral() as instance:
        instance.add_dynamic_partitions("github_repos", ["acme/app"])
        resource = DoraResource(config_path=str(tmp_path / "dora.yaml"))
        for token in (secret, WRONG):
            monkeypatch.setenv(TOKEN_ENV, token)
            result = dg.materialize([github_landing], partition_key="acme/app",
                                    resources={"dora": resource}, instance=instance,
                                    raise_on_error=False)
            outputs += [str(e) for e in instance.all_logs(result.run_id)]

    captured = capsys.readouterr()
    outputs += [caplog.text, captured.out, captured.err, *_file_texts(tmp_path)]
    # The check looks at real output: request logs, the landed data and the failures are there.
    everything = "\n".join(outputs)
    assert "POST /api/graphql" in caplog.text and "acme/app" in everything
    assert "token (oauth token removed)" in caplog.text  # PyGithub logged headers, masked
    assert "401 Bad credentials" in everything and "Ledger down" in everything
    for token in (secret, WRONG):
        assert token not in everything
