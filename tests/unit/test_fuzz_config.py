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

import yaml
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from pipelines.config import MAX_PROBLEMS, ConfigError, DoraConfig, load_config

EXAMPLES = int(os.environ.get("DORA_FUZZ_EXAMPLES", "40"))
FUZZ = settings(max_examples=EXAMPLES, deadline=None, database=None, derandomize=True,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])

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


def _paths(node: Any, prefix: tuple = ()) -> list[tuple]:
    """Every path to a value inside the config (keys and list indexes)."""
    out = [prefix] if prefix else []
    if isinstance(node, dict):
        for key, value in node.items():
            out += _paths(value, (*prefix, key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            out += _paths(value, (*prefix, index))
    return out


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
        paths = _paths(data)
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
