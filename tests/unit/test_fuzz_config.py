"""The config file, fuzzed: a valid config broken every way hypothesis can think of.

Wrong types, missing and extra keys, NaN and huge numbers, unicode, control characters and NUL,
1 MB strings, keys given twice, truncated and binary files. `load_config` either returns a
config whose paths resolve, or raises `ConfigError` with a message a person can read (the file,
the line and the key; short lines, no control characters). Never anything else.
"""

from __future__ import annotations

import os
import tempfile
import unicodedata
from pathlib import Path
from typing import Any

import pytest
import yaml
from fuzzkit import fuzz_settings, paths_in
from hypothesis import example, given
from hypothesis import strategies as st

from pipelines.config import MAX_PROBLEMS, ConfigError, DoraConfig, load_config

FUZZ = fuzz_settings(40)

BASE: dict[str, Any] = {
    "warehouse": "data/dora.duckdb",
    "reports_dir": "reports",
    "production_environments": ["production", "prod"],
    "incident_attribution_window_hours": 168,
    "min_sample": 5,
    "teams": [{"name": "payments", "services": ["payments-api", {"name": "ledger",
                                                                 "until": "2026-03-01"}]},
              {"name": "core", "services": [{"name": "ledger", "from": "2026-03-01"}]}],
    "services": [{"name": "payments-api", "repo": "acme/payments-api",
                  "image": "ghcr.io/acme/payments-api"},
                 {"name": "ledger", "repo": "acme/monorepo", "paths": ["services/ledger/**"]}],
    "slos": [{"name": "availability", "service": "payments-api", "objective": 0.999}],
    "sources": [{"kind": "files", "path": "events/"},
                {"kind": "github", "repos": ["acme/payments-api"], "token_env": "GITHUB_TOKEN"},
                {"kind": "git", "path": "../payments-api", "service": "payments-api"},
                {"kind": "argocd", "path": "argocd/applications.json"}],
}

NASTY = st.sampled_from([
    "", "\x00", "a\x00b", "\x1b[2J", "\u202e", "../../../etc/passwd", "'; DROP TABLE teams; --",
    "<script>alert(1)</script>", "unassigned", "x" * 5000, ".nan", "~", "*", "&a",
    "production", "s3://bucket/prefix", "nosuch://x",
])
VALUES = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.integers(min_value=10**30),
              st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=15), NASTY,
              st.dates().map(str)),
    lambda inner: st.one_of(st.lists(inner, max_size=3),
                            st.dictionaries(st.text(max_size=8) | NASTY, inner, max_size=3)),
    max_leaves=8,
)


def _set(node: Any, path: tuple, value: Any, delete: bool = False) -> None:
    for part in path[:-1]:
        node = node[part]
    if delete and isinstance(node, dict):
        node.pop(path[-1], None)
    elif delete and isinstance(node, list):
        node.pop(path[-1])
    else:
        node[path[-1]] = value


@st.composite
def config_files(draw: st.DrawFn) -> bytes:
    """The bytes of a config file: the valid base, broken a few times, perhaps mangled."""
    data = yaml.safe_load(yaml.safe_dump(BASE))  # a deep copy
    for _ in range(draw(st.integers(0, 4))):
        paths = paths_in(data)
        if not paths:
            break
        path = draw(st.sampled_from(paths))
        how = draw(st.sampled_from(["replace", "replace", "delete", "extra"]))
        try:
            if how == "extra":
                target = data
                for part in path[:-1]:
                    target = target[part]
                if isinstance(target, dict):
                    target[draw(st.text(max_size=10) | NASTY)] = draw(VALUES)
            else:
                _set(data, path, draw(VALUES), delete=how == "delete")
        except (IndexError, KeyError, TypeError):
            continue
    text = yaml.safe_dump(data, allow_unicode=draw(st.booleans()), sort_keys=False)
    raw = text.encode("utf-8", "surrogatepass")
    how = draw(st.sampled_from(["keep"] * 5 + ["duplicate", "truncate", "binary", "empty",
                                               "deep", "tab"]))
    if how == "duplicate":
        lines = raw.split(b"\n")
        top = [line for line in lines if line and not line.startswith((b" ", b"-"))]
        if top:
            raw = raw + b"\n" + draw(st.sampled_from(top)) + b"\n"
    elif how == "truncate":
        raw = raw[: draw(st.integers(0, len(raw)))]
    elif how == "binary":
        raw = draw(st.binary(min_size=1, max_size=200))
    elif how == "empty":
        raw = b""
    elif how == "deep":
        raw = b"teams: " + b"[" * 5000 + b"]" * 5000 + b"\n"
    elif how == "tab":
        raw = raw.replace(b"  ", b"\t", 1)
    return raw


def _readable(message: str) -> bool:
    lines = message.split("\n")
    return 0 < len(lines) <= MAX_PROBLEMS + 2 and all(
        len(line) <= 600 and not any(unicodedata.category(c) in ("Cc", "Cs") for c in line)
        for line in lines)


@FUZZ
@given(config_files())
@example(b"warehouse: a.duckdb\nteams: []\nwarehouse: b.duckdb\n")
@example(b"services:\n  - {name: \"api\\0\", repo: acme/api}\n")
@example(b"\xff\xfe\x00\x01")
@example(b"min_sample: " + b"9" * 5000 + b"\n")
@example(b"teams: [{name: \"" + b"\\ud800" + b"\"}]\n")
@example(b"teams: [{name: " + b"x" * 1_000_000 + b", services: []}]\n" + b"y" * 1_000_000
         + b": 1\n")  # 1 MB of team name, 1 MB of unknown key
def test_a_config_loads_or_is_one_clear_error(raw: bytes) -> None:
    with tempfile.TemporaryDirectory() as scratch:
        path = Path(scratch) / "dora.yaml"
        path.write_bytes(raw)
        try:
            config = load_config(path)
        except ConfigError as exc:
            message = str(exc)
            assert message.startswith(str(path)), message[:200]
            assert _readable(message), message[:2000]
            return
        assert isinstance(config, DoraConfig)
        # What a run computes from the config next must work too.
        for value in (config.warehouse_path, config.reports_path, config.landing_root):
            assert str(value)
        assert "\x00" not in repr(config.model_dump())


def test_a_key_given_twice_names_both_lines(tmp_path: Path) -> None:
    path = tmp_path / "dora.yaml"
    path.write_text("teams:\n  - name: payments\n    services: []\n    services: [api]\n")
    try:
        load_config(path)
    except ConfigError as exc:
        assert str(exc) == f"{path}: line 4: `teams.0.services` is given twice (first on line 3)"
    else:
        raise AssertionError("a duplicate key must not load")


# ---- the paths the product writes -------------------------------------------------------------

def _real(path: Path) -> Path:
    return Path(os.path.realpath(path))


def _inside(inner: Path, outer: Path) -> bool:
    return inner == outer or outer in inner.parents


SEGMENTS = st.sampled_from(["", ".", "..", "data", "reports", "landing", "events", "pages"])
# The last part: mostly what a user means, sometimes a folder, the config itself, nothing.
LEAVES = {"warehouse": st.sampled_from(["dora.duckdb"] * 4 + ["x.duckdb", "data", "..", "",
                                                               "dora.yaml", "pages"]),
          "reports_dir": st.sampled_from(["reports"] * 3 + ["out", "landing", "pages", "data",
                                                            ".", "..", ""]),
          "landing_dir": st.sampled_from(["landing"] * 3 + ["raw", "reports", "data",
                                                            "dora.duckdb", ".", ""])}


@st.composite
def writtenpaths_in(draw: st.DrawFn) -> dict[str, str]:
    """`warehouse`, `reports_dir`, `landing_dir` values: relative or absolute, with `..`, `.`,
    trailing slashes, the config's own file and folder, the home folder, the root."""
    home = str(Path.home())
    values = {}
    for key, leaves in LEAVES.items():
        kind = draw(st.sampled_from(["relative"] * 3 + ["absolute", "home", "root", "skip"]))
        if kind == "skip":
            continue
        parts = [*draw(st.lists(SEGMENTS, max_size=2)), draw(leaves)]
        text = "/".join(parts) + draw(st.sampled_from(["", "", "/"]))
        values[key] = {"relative": text, "absolute": "{scratch}/" + text,
                       "home": home, "root": "/"}[kind]
    return values


@FUZZ
@given(writtenpaths_in())
@example({"warehouse": "/"})
@example({"warehouse": ".."})
@example({"reports_dir": "/"})
@example({"reports_dir": "."})
@example({"landing_dir": "reports"})
@example({"reports_dir": "data/landing"})
@example({"warehouse": "dora.yaml"})
def test_a_config_that_loads_writes_only_where_it_is_safe(values: dict[str, str]) -> None:
    """Whatever the three written paths say, `load_config` refuses them naming a key, or what
    it accepts is safe: a warehouse file that is not a folder nor another file, and report and
    landing folders that are neither the root, the home folder nor the config's folder, and
    hold none of the other written paths."""
    with tempfile.TemporaryDirectory() as scratch:
        root = Path(scratch)
        (root / "events").mkdir()
        (root / "data").mkdir()
        (root / "pages").write_text("not a folder")
        text = "".join(f"{key}: '{value.format(scratch=scratch)}'\n"
                       for key, value in values.items())
        (root / "dora.yaml").write_text(text, encoding="utf-8")
        try:
            config = load_config(root / "dora.yaml")
        except ConfigError as exc:
            message = str(exc)
            assert _readable(message), message
            assert any(f"`{key}`: " in message
                       for key in ("warehouse", "reports_dir", "landing_dir")), message
            return
        warehouse = _real(config.warehouse_path)
        reports, landing = _real(config.reports_path), _real(config.landing_path)
        assert warehouse.name and not warehouse.is_dir()
        assert not warehouse.exists() or warehouse.read_bytes()[8:12] == b"DUCK"
        for folder in (reports, landing):
            assert folder not in (Path("/"), _real(Path.home()), root.resolve())
            assert not _inside(folder, warehouse)
            assert not folder.exists() or folder.is_dir()
        assert not _inside(reports, landing) and not _inside(landing, reports)
        assert not _inside(warehouse, reports)


@pytest.mark.parametrize(("text", "key", "words"), [
    ("warehouse: /\n", "warehouse", "names a folder"),
    ("warehouse: ..\n", "warehouse", "names a folder"),
    ("warehouse: data/\n", "warehouse", "names a folder"),
    ("warehouse: data\n", "warehouse", "is a folder"),
    ("warehouse: notes.txt\n", "warehouse", "is not a DuckDB file"),
    ("warehouse: notes.txt/dora.duckdb\n", "warehouse", "is a file, so the warehouse's folder"),
    ("reports_dir: /\n", "reports_dir", "is the filesystem root"),
    ("reports_dir: /data/../..\n", "reports_dir", "is the filesystem root"),
    ("reports_dir: .\n", "reports_dir", "the config file's own folder"),
    ("reports_dir: {home}\n", "reports_dir", "is your home folder"),
    ("landing_dir: /\n", "landing_dir", "is the filesystem root"),
    ("reports_dir: notes.txt\n", "reports_dir", "is a file, not a folder"),
    ("landing_dir: reports/landing\n", "landing_dir", "one is inside the other"),
    ("reports_dir: data/landing\n", "reports_dir", "the default landing folder"),
    ("reports_dir: data\n", "reports_dir", "would hold the warehouse"),
    ("landing_dir: data/dora.duckdb/landing\n", "landing_dir", "the warehouse file or inside"),
])
def test_a_dangerous_or_impossible_path_is_refused_naming_the_key(
        tmp_path: Path, text: str, key: str, words: str) -> None:
    folder = tmp_path / "org"
    folder.mkdir()
    (folder / "data").mkdir()
    (folder / "notes.txt").write_text("the user's\n")
    (folder / "dora.yaml").write_text(text.format(home=Path.home()), encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_config(folder / "dora.yaml")
    message = str(caught.value)
    assert f"line 1: `{key}`: " in message and words in message, message


def test_a_path_that_cannot_be_encoded_is_refused(tmp_path: Path) -> None:
    """A folder named with bytes that are not UTF-8 (DuckDB failed on it with std::bad_cast)."""
    folder = Path(os.fsdecode(bytes(tmp_path) + b"/\xff\xfe"))
    folder.mkdir()
    (folder / "dora.yaml").write_text("warehouse: data/dora.duckdb\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"line 1: `warehouse`: .* cannot be encoded as UTF-8"):
        load_config(folder / "dora.yaml")
    # The same refusal for a path written in the file (a YAML escape makes the surrogate).
    (tmp_path / "dora.yaml").write_text('reports_dir: "r\\udcff"\n', encoding="utf-8")
    with pytest.raises(ConfigError, match=r"`reports_dir`: .* cannot be encoded as UTF-8"):
        load_config(tmp_path / "dora.yaml")
