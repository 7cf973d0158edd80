"""The config is parsed and validated once per file content, and validation is linear in size."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import yaml

from pipelines.config import ConfigError, load_config


def _write(path: Path, teams: int) -> Path:
    """`teams` teams of one service each (written as text: dumping YAML is the slow part)."""
    lines = ["teams:"]
    lines += [f"- name: team-{i:05d}\n  services: [svc-{i:05d}]" for i in range(teams)]
    lines += ["services:"]
    lines += [f"- {{name: svc-{i:05d}, repo: acme/svc-{i:05d}}}" for i in range(teams)]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_the_same_file_gives_the_same_validated_object(tmp_path: Path) -> None:
    path = _write(tmp_path / "dora.yaml", 3)
    first = load_config(path)
    assert load_config(str(path)) is first
    assert load_config(tmp_path / "." / "dora.yaml") is first  # the resolved path is the key


def test_a_rewrite_is_seen_even_with_the_same_size_and_mtime(tmp_path: Path) -> None:
    path = _write(tmp_path / "dora.yaml", 3)
    before = path.stat()
    first = load_config(path)
    # team-00001 -> team-00009: same length, and the mtime is put back, as a write within one
    # clock tick of the file system would leave it.
    path.write_text(path.read_text(encoding="utf-8").replace("team-00001", "team-00009"),
                    encoding="utf-8")
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))
    assert path.stat().st_size == before.st_size
    second = load_config(path)
    assert second is not first
    assert [t.name for t in second.teams] == ["team-00000", "team-00009", "team-00002"]


def test_a_broken_file_is_not_remembered(tmp_path: Path) -> None:
    path = tmp_path / "dora.yaml"
    path.write_text("teams: [\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_config(path)
    _write(path, 1)
    assert [t.name for t in load_config(path).teams] == ["team-00000"]


def test_ten_thousand_teams_validate(tmp_path: Path) -> None:
    """The size issue 15 measured (13 s a parse before); the benchmark prints the time."""
    config = load_config(_write(tmp_path / "dora.yaml", 10_000))
    assert len(config.teams) == len(config.services) == 10_000
    assert config.teams[-1].services[0].name == "svc-09999"


def test_a_duplicate_name_among_many_is_found(tmp_path: Path) -> None:
    path = _write(tmp_path / "dora.yaml", 2_000)
    path.write_text(path.read_text(encoding="utf-8").replace("name: team-01999",
                                                             "name: team-00007"),
                    encoding="utf-8")
    with pytest.raises(ConfigError, match="`teams` lists `team-00007` twice"):
        load_config(path)


def test_codeowners_find_their_git_source_among_many(tmp_path: Path) -> None:
    """The first git source of the repo wins; a named source wins over the repo's first."""
    sources = [{"kind": "git", "path": f"clones/r{i}", "repo": f"acme/svc-{i % 50:05d}",
                "name": f"clone-{i}"} for i in range(200)]
    config = yaml.safe_load(_write(tmp_path / "base.yaml", 50).read_text(encoding="utf-8"))
    config["sources"] = sources
    config["codeowners"] = [{"repo": "acme/svc-00007"},                       # clone-7 first
                            {"repo": "acme/svc-00008", "source": "clone-158"}]
    path = tmp_path / "dora.yaml"
    path.write_text(yaml.safe_dump(config), encoding="utf-8")
    loaded = load_config(path)
    found = [loaded.git_source_of(entry)[1] for entry in loaded.codeowners]
    assert found == ["clone-7", "clone-158"]


def test_a_copy_with_other_sources_looks_them_up_afresh(tmp_path: Path) -> None:
    """The lookups are kept beside the lists they index, so a copy with new `sources` (as a
    test or an ingest step may make) never answers from the original's."""
    config = yaml.safe_load(_write(tmp_path / "base.yaml", 2).read_text(encoding="utf-8"))
    config["sources"] = [{"kind": "git", "path": "clones/a", "repo": "acme/svc-00000",
                          "name": "first"}]
    config["codeowners"] = [{"repo": "acme/svc-00000"}]
    path = tmp_path / "dora.yaml"
    path.write_text(yaml.safe_dump(config), encoding="utf-8")
    loaded = load_config(path)
    entry = loaded.codeowners[0]
    assert loaded.git_source_of(entry)[1] == "first"
    other = loaded.sources[0].model_copy(update={"name": "second"})
    copy = loaded.model_copy(update={"sources": [other]})
    assert copy.git_source_of(entry)[1] == "second"
    assert loaded.git_source_of(entry)[1] == "first"
    assert copy != loaded and loaded == load_config(path)
    assert "_lookup_cache" not in loaded.model_dump()


def test_the_written_paths_are_checked_on_every_load(tmp_path: Path) -> None:
    """A remembered config does not hide a warehouse path that became someone else's file."""
    path = _write(tmp_path / "dora.yaml", 1)
    first = load_config(path)
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "dora.duckdb").write_text("my notes, not a warehouse\n")
    with pytest.raises(ConfigError, match="`warehouse`: .* is not a DuckDB file"):
        load_config(path)
    (tmp_path / "data" / "dora.duckdb").unlink()
    assert load_config(path) is first
