"""Landing on an object store through fsspec (`landing_dir: s3://…`), exercised with fsspec's
in-memory filesystem: the same batches and the same warehouse as a local landing, immutable
files named by partition and run, and the GitHub source (which needs real files for its raw pages
and cursors) staged locally and published, resuming from the published cursor."""

from __future__ import annotations

import importlib.util
import uuid
from collections.abc import Iterator
from pathlib import Path

import dagster as dg
import duckdb
import fsspec
import known_answers as ka
import polars as pl
import pytest
import yaml
from eventkit import write_config, write_events
from fake_github.helpers import write_config as write_github_config
from fake_github.scenarios import small_repo
from fake_github.server import FakeGithub

from pipelines.build import CANONICAL, build_warehouse
from pipelines.config import ConfigError, load_config
from pipelines.defs.ingest.files import files_landing
from pipelines.defs.ingest.github import sync_partition
from pipelines.defs.resources import DoraResource
from pipelines.landing import (
    batch_files,
    landing_root,
    landing_run,
    read_entity,
    staged_landing,
    write_batch,
)
from pipelines.warehouse import connect

pytest_plugins = ["fake_github.fixtures"]

FRAME = pl.DataFrame({"id": ["d1"], "service": ["api"], "environment": ["production"],
                      "revision": ["abc"], "status": ["success"]})


@pytest.fixture
def bucket() -> Iterator[str]:
    """A fresh `memory://` landing root, removed afterwards."""
    url = f"memory://dora-{uuid.uuid4().hex[:8]}/landing"
    yield url
    fs = fsspec.filesystem("memory")
    root = url.removeprefix("memory://").split("/")[0]
    if fs.exists(f"/{root}"):
        fs.rm(f"/{root}", recursive=True)


def test_roots_are_local_paths_or_urls(tmp_path: Path) -> None:
    assert landing_root(str(tmp_path)) == tmp_path
    assert landing_root(f"file://{tmp_path}") == tmp_path
    assert landing_root("s3://bucket/prefix/") == "s3://bucket/prefix"


def test_a_batch_lands_once_named_by_partition_and_run(bucket: str) -> None:
    with landing_run("run-1234"):
        first = write_batch(bucket, "files", "events", "deployments", FRAME)
        again = write_batch(bucket, "files", "events", "deployments", FRAME)  # same content
    assert isinstance(first, str) and again is None
    assert first.startswith(f"{bucket}/files/events/deployments/")
    assert first.endswith("-run-1234.parquet")
    newer = write_batch(bucket, "files", "events", "deployments",
                        FRAME.with_columns(pl.lit("failure").alias("status")))
    assert batch_files(bucket, "deployments") == [first, newer]
    landed = read_entity(bucket, "deployments")
    assert landed["status"].to_list() == ["success", "failure"]
    assert landed["_batch"].to_list() == [0, 1]


def _tables(warehouse: Path) -> dict[str, list[tuple]]:
    conn = connect(warehouse, read_only=True, latest=True)
    try:
        return {t: conn.execute(f'SELECT * FROM "{t}" ORDER BY ALL').fetchall()  # noqa: S608
                for t in CANONICAL}
    finally:
        conn.close()


def test_the_warehouse_is_the_same_from_an_object_store(tmp_path: Path, bucket: str) -> None:
    events = write_events(tmp_path / "events", commits=ka.COMMITS,
                          pull_requests=ka.PULL_REQUESTS, deployments=ka.DEPLOYMENTS,
                          incidents=ka.INCIDENTS, sli=ka.SLI)
    warehouses = {}
    for where, landing in (("local", None), ("store", bucket)):
        folder = tmp_path / where
        folder.mkdir()
        extra = {"landing_dir": landing} if landing else {}
        config_path = write_config(folder, slos=ka.SLOS, sources=[
            {"kind": "files", "path": str(events)}], **extra)
        dg.materialize([files_landing], resources={"dora": DoraResource(
            config_path=str(config_path))})
        config = load_config(config_path)
        build_warehouse(config)
        warehouses[where] = config.warehouse_path
    assert isinstance(load_config(tmp_path / "store" / "dora.yaml").landing_root, str)
    assert not (tmp_path / "store" / "data" / "landing").exists()  # nothing landed locally
    assert _tables(warehouses["local"]) == _tables(warehouses["store"])
    assert len(_tables(warehouses["store"])["deployments"]) > 0


def test_config_accepts_object_store_urls_it_can_open(tmp_path: Path) -> None:
    def load(landing: str):
        path = tmp_path / "dora.yaml"
        path.write_text(yaml.safe_dump({"warehouse": "w.duckdb", "landing_dir": landing}))
        return load_config(path)

    assert load("memory://bucket/prefix/").landing_root == "memory://bucket/prefix"
    assert load(f"file://{tmp_path}/land").landing_root == tmp_path / "land"
    assert load("landing").landing_root == tmp_path / "landing"
    with pytest.raises(ConfigError, match=r"line \d+: `landing_dir`: .*not a storage"):
        load("nosuch://bucket/prefix")
    if importlib.util.find_spec("s3fs") is None:  # its library missing: said at load time
        with pytest.raises(ConfigError, match="s3fs"):
            load("s3://bucket/prefix")
    else:
        assert load("s3://bucket/prefix").landing_root == "s3://bucket/prefix"
    with pytest.raises(ValueError, match="object-store URL"):
        _ = load("memory://bucket/prefix").landing_path  # code that needs a folder says so


def test_the_github_source_lands_on_the_store_and_resumes(fake_github: FakeGithub,
                                                          tmp_path: Path, bucket: str) -> None:
    fake_github.add_repo(small_repo().repo)
    write_github_config(tmp_path, fake_github.base_url, ["acme/app"])
    text = yaml.safe_load((tmp_path / "dora.yaml").read_text())
    (tmp_path / "dora.yaml").write_text(yaml.safe_dump({**text, "landing_dir": bucket}))
    config = load_config(tmp_path / "dora.yaml")

    first = sync_partition(config, "acme/app", lambda _m: None, "run-a")
    fs = fsspec.filesystem("memory")
    base = bucket.removeprefix("memory://")
    assert len(fs.glob(f"{base}/github_cursors/*.json")) == 1
    assert fs.glob(f"{base}/github_raw/*/*/*.jsonl.gz")
    assert len(read_entity(bucket, "pull_requests")) == 3
    assert first["requests_used"] == fake_github.request_count

    fake_github.reset_log()
    second = sync_partition(config, "acme/app", lambda _m: None, "run-b")
    # The cursor came back from the store: "anything new?" (and at most a revisit of what had
    # not settled), no listing again.
    labels = fake_github.labels()
    assert labels[0] == "POST /api/graphql Overview" and len(labels) <= 2
    assert second["new_batches"] == 0
    assert not any("run-b" in p for p in fs.glob(f"{base}/**/*.parquet"))
    counts = build_warehouse(config)
    assert counts["pull_requests"] == 3


def test_a_failed_step_still_publishes_what_it_landed(bucket: str) -> None:
    with pytest.raises(RuntimeError), staged_landing(bucket, ["github_cursors/x.json"]) as local:
        write_batch(local, "github", "acme/x", "deployments", FRAME)
        (local / "github_cursors").mkdir()
        (local / "github_cursors" / "x.json").write_text("{}")
        raise RuntimeError("the API went away")
    assert len(batch_files(bucket, "deployments")) == 1
    fs = fsspec.filesystem("memory")
    assert fs.cat_file(f"{bucket.removeprefix('memory://')}/github_cursors/x.json") == b"{}"


def test_a_failed_step_keeps_its_own_error_when_publishing_fails_too(bucket: str) -> None:
    """The step's error is the one raised; a publish that fails as well (here a file stands
    where the store needs a folder) is noted on it, not raised in its place."""
    fs = fsspec.filesystem("memory")
    fs.pipe_file(f"{bucket.removeprefix('memory://')}/github", b"not a folder")
    with pytest.raises(RuntimeError, match="the API went away") as raised, \
            staged_landing(bucket) as local:
        write_batch(local, "github", "acme/x", "deployments", FRAME)
        raise RuntimeError("the API went away")
    (note,) = raised.value.__notes__
    assert note.startswith(f"publishing what was landed to {bucket} also failed: ")


def test_duckdb_never_sees_the_store(tmp_path: Path, bucket: str) -> None:
    # The build reads the landing through fsspec into polars; DuckDB needs no httpfs extension.
    write_batch(bucket, "files", "events", "deployments", FRAME)
    config_path = tmp_path / "dora.yaml"
    config_path.write_text(yaml.safe_dump({"warehouse": "w.duckdb", "landing_dir": bucket}))
    build_warehouse(load_config(config_path))
    conn = duckdb.connect(str(tmp_path / "w.duckdb.working"), read_only=True)
    assert conn.execute("SELECT count(*) FROM deployments").fetchone() == (1,)
    loaded = conn.execute("SELECT extension_name FROM duckdb_extensions() WHERE loaded").fetchall()
    assert ("httpfs",) not in loaded
    conn.close()
