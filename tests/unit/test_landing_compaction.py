"""Compaction of an API source's landing (`pipelines.landing.compact`): a long-lived installation
keeps a bounded number of batch files per folder, and the warehouse built from the compacted
landing is the one built from every batch."""

from __future__ import annotations

import datetime as dt
import os
import random
from pathlib import Path

import fsspec
import polars as pl
import pytest

from pipelines.build import build_canonical
from pipelines.config import DoraConfig
from pipelines.landing import (
    _folder,
    batch_dir,
    batch_files,
    compact,
    read_entity,
    staged_landing,
    write_batch,
)
from pipelines.warehouse import connect

UTC = dt.UTC
REPOS = ["acme/x", "acme/y"]
SOURCES = [{"kind": "github", "name": "gh", "repos": REPOS},
           {"kind": "github", "name": "mirror", "repos": REPOS}]
TABLES = ["pull_requests", "deployments", "quarantine"]


def _config(tmp_path: Path) -> DoraConfig:
    return DoraConfig(warehouse=tmp_path / "w.duckdb", config_dir=tmp_path, sources=SOURCES)


def _run(rng: random.Random, run: int) -> dict[tuple[str, str], pl.DataFrame]:
    """One sync's batches per (repo, entity): a few PRs and deployments, edited over time, with
    an update time or none (ties included), from either source; sometimes a quarantined row."""
    out: dict[tuple[str, str], pl.DataFrame] = {}
    for repo in REPOS:
        numbers = rng.sample(range(1, 8), rng.randint(1, 4))
        out[(repo, "pull_requests")] = pl.DataFrame({
            "repo": [repo] * len(numbers), "number": numbers,
            "title": [f"t{rng.randint(0, 3)}" for _ in numbers],
            "created_at": [dt.datetime(2026, 1, 5, tzinfo=UTC)] * len(numbers),
            "source": [rng.choice(["gh", "mirror"]) for _ in numbers],
            "_updated_at": [rng.choice([None, dt.datetime(2026, 1, rng.randint(5, 7), tzinfo=UTC)])
                            for _ in numbers],
        })
        ids = rng.sample(range(1, 6), rng.randint(1, 3))
        out[(repo, "deployments")] = pl.DataFrame({
            "id": [f"gh-{repo}-{i}" for i in ids], "service": ["api"] * len(ids),
            "environment": ["production"] * len(ids), "revision": ["abc"] * len(ids),
            "finished_at": [dt.datetime(2026, 1, 5, run % 24, tzinfo=UTC)] * len(ids),
            "status": [rng.choice(["success", "failure"]) for _ in ids],
            "source": ["gh"] * len(ids),
        })
        if rng.random() < 0.3:
            out[(repo, "quarantine")] = pl.DataFrame({
                "source": ["gh"], "file": [f"{repo}/pulls"], "line": [rng.randint(1, 3)],
                "entity": ["pull_requests"], "reason": [f"bad {run}"]})
    return out


def _age(folder: Path) -> None:
    """Make every batch of `folder` look an hour older than it is (its name is its time)."""
    for path in sorted(folder.glob("*.parquet")):
        stamp = int(path.name[:20]) - 2 * 3600 * 10**9
        path.rename(path.with_name(f"{stamp:020d}{path.name[20:]}"))


def _pr(title: str) -> pl.DataFrame:
    """One version of pull request acme/x#7 (its title tells the versions apart)."""
    return pl.DataFrame({"repo": ["acme/x"], "number": [7], "title": [title],
                         "created_at": [dt.datetime(2026, 1, 5, tzinfo=UTC)], "source": ["gh"]})


def _warehouse(config: DoraConfig) -> dict[str, list[dict]]:
    conn = connect(config.warehouse_path)
    try:
        build_canonical(conn, config)
        return {t: conn.sql(f'SELECT * FROM "{t}" ORDER BY ALL').pl().to_dicts()  # noqa: S608
                for t in TABLES}
    finally:
        conn.close()


def _folders(config: DoraConfig) -> list[Path]:
    return sorted({Path(f).parent for e in TABLES for f in batch_files(config.landing_root, e)})


@pytest.mark.parametrize("seed", [1, 2])
def test_the_warehouse_is_the_same_after_compaction(tmp_path: Path, seed: int) -> None:
    """Many syncs land; compacting every folder leaves the built tables unchanged, every time."""
    rng = random.Random(seed)
    compacted = _config(tmp_path / "compacted")
    whole = _config(tmp_path / "whole")
    for run in range(24):
        batches = _run(rng, run)
        for config in (compacted, whole):
            for (repo, entity), frame in batches.items():
                write_batch(config.landing_root, "github", repo, entity, frame)
        for repo in REPOS:
            for entity in TABLES:
                if batch_dir(compacted.landing_root, "github", repo, entity).exists():
                    compact(compacted.landing_root, "github", repo, entity, at=3, grace=0)
        if run % 6 == 5:
            assert _warehouse(compacted) == _warehouse(whole), run
    # Bounded: at most `at` + 1 files per folder, against one per sync without compaction.
    assert all(len(list(f.glob("*.parquet"))) <= 4 for f in _folders(compacted))
    assert max(len(list(f.glob("*.parquet"))) for f in _folders(whole)) > 15


def test_a_write_compacts_a_full_folder_but_not_young_batches(tmp_path: Path) -> None:
    """`write_batch` compacts a folder of more than 32 old batches into one; batches younger
    than an hour (one a build may have just listed) are left as they are."""
    config = _config(tmp_path)
    root = config.landing_root

    for i in range(40):
        write_batch(root, "github", "acme/x", "pull_requests", _pr(f"v{i}"))
    folder = Path(batch_files(root, "pull_requests")[0]).parent
    assert len(list(folder.glob("*.parquet"))) == 40  # all young: nothing merged
    before = _warehouse(config)
    _age(folder)
    write_batch(root, "github", "acme/x", "pull_requests", _pr("v40"))
    names = sorted(p.name for p in folder.glob("*.parquet"))
    # The 40 aged batches became one (keeping only the last version, v39); v40 is young.
    assert len(names) == 2 and "-compacted-" in names[0]
    assert pl.read_parquet(folder / names[0])["title"].to_list() == ["v39"]
    assert _warehouse(config)["pull_requests"][0]["title"] == "v40"
    assert before["pull_requests"][0]["title"] == "v39"
    # The newest content is still recognised: landing v40 again writes nothing.
    assert write_batch(root, "github", "acme/x", "pull_requests", _pr("v40")) is None
    assert os.path.exists(folder / names[1])


def test_an_object_store_folder_is_compacted_the_same_way() -> None:
    """On an object store (fsspec's in-memory one here) compaction merges the batches with the
    same rule: per key and source the newest by update time, then by landing order."""
    root = f"memory://compaction-{os.getpid()}/landing"
    monday, tuesday = (dt.datetime(2026, 1, d, tzinfo=UTC) for d in (5, 6))
    # (title, update time): "b" is the newest by update time, though landed second; it is the
    # one kept ("d", without an update time, counts as older than any).
    versions = [("a", monday), ("b", tuesday), ("c", monday), ("d", None), ("e", monday)]
    for title, updated in versions:
        write_batch(root, "github", "acme/x", "pull_requests", pl.DataFrame({
            "repo": ["acme/x"], "number": [7], "title": [title],
            "created_at": [dt.datetime(2026, 1, 5, tzinfo=UTC)], "source": ["gh"],
            "_updated_at": [updated]}))
    assert len(batch_files(root, "pull_requests")) == 5
    assert compact(root, "github", "acme/x", "pull_requests", at=2, grace=0)
    files = batch_files(root, "pull_requests")
    assert len(files) == 1 and "-compacted-" in str(files[0])
    kept = read_entity(root, "pull_requests")
    assert kept["title"].to_list() == ["b"]
    # Nothing more to do: one batch is not more than two.
    assert not compact(root, "github", "acme/x", "pull_requests", at=2, grace=0)
    fsspec.filesystem("memory").rm(root.removeprefix("memory://").split("/")[0], recursive=True)


def test_batches_published_from_a_staged_landing_compact_the_store_folder() -> None:
    """The GitHub source lands in a local staging folder and publishes to the object store
    (`staged_landing`); the staging folder is new each run, so the store's folder is the one
    that fills up: publishing compacts it (40 aged batches and the new one become 2 files)."""
    root = f"memory://staged-compaction-{os.getpid()}/landing"
    fs = fsspec.filesystem("memory")
    base = root.removeprefix("memory://")

    for i in range(40):
        write_batch(root, "github", "acme/x", "pull_requests", _pr(f"v{i}"))
    folder = str(batch_files(root, "pull_requests")[0]).removeprefix("memory://").rsplit("/", 1)[0]
    for path in sorted(fs.ls(folder, detail=False)):  # an hour older, as `_age` does locally
        name = path.rsplit("/", 1)[-1]
        fs.mv(path, f"{folder}/{int(name[:20]) - 2 * 3600 * 10**9:020d}{name[20:]}")
    assert len(batch_files(root, "pull_requests")) == 40  # nothing written on the store since
    with staged_landing(root) as local:
        write_batch(local, "github", "acme/x", "pull_requests", _pr("v40"))
    names = sorted(p.rsplit("/", 1)[-1] for p in fs.ls(folder, detail=False))
    assert len(names) == 2 and "-compacted-" in names[0]
    assert read_entity(root, "pull_requests")["title"].to_list() == ["v39", "v40"]
    fs.rm(base.split("/")[0], recursive=True)


def test_two_compactions_at_once_keep_every_batch(tmp_path: Path) -> None:
    """Two processes compacting one store folder at once, each with its own new batch among
    the inputs it listed (a staged GitHub batch keeps the time it was staged, so it may be older
    than the folder's newest), write two files: neither replaces the other's rows, and both
    new pull requests stay. Replayed in order: P1 compacts A + x; P2, which had listed A + y
    before P1 wrote, then compacts those."""
    root = f"memory://compaction-race-{os.getpid()}/landing"
    fs = fsspec.filesystem("memory")
    folder = f"/compaction-race-{os.getpid()}/landing/" + _folder("github", "acme/x",
                                                                  "pull_requests")

    def batch(frame: pl.DataFrame, hours_ago: float) -> tuple[str, bytes]:
        """A batch file of `frame` as `write_batch` names it, made `hours_ago` older."""
        made = Path(write_batch(tmp_path / f"b{len(list(tmp_path.iterdir()))}", "github",
                                "acme/x", "pull_requests", frame))
        stamp = int(made.name[:20]) - int(hours_ago * 3600 * 10**9)
        return f"{stamp:020d}{made.name[20:]}", made.read_bytes()

    a = [batch(_pr(f"v{i}"), 3 - i / 100) for i in range(40)]  # A: 40 versions of PR 7
    x = batch(_pr("x").with_columns(pl.lit(1001).alias("number")), 3.5)
    y = batch(_pr("y").with_columns(pl.lit(1002).alias("number")), 3.5)
    for name, data in [*a, x]:
        fs.pipe_file(f"{folder}/{name}", data)
    assert compact(root, "github", "acme/x", "pull_requests")  # P1: A + x
    (first,) = fs.ls(folder, detail=False)
    kept_aside = fs.cat_file(first)
    fs.rm_file(first)  # what P2 listed before P1 wrote: A and its own y
    for name, data in [*a, y]:
        fs.pipe_file(f"{folder}/{name}", data)
    assert compact(root, "github", "acme/x", "pull_requests")  # P2: A + y
    fs.pipe_file(first, kept_aside)  # P1's file, written meanwhile
    assert len(fs.ls(folder, detail=False)) == 2  # neither replaced the other
    numbers = read_entity(root, "pull_requests")["number"].to_list()
    assert {1001, 1002, 7} == set(numbers)
    fs.rm(root.removeprefix("memory://").split("/")[0], recursive=True)
