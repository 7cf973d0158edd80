"""A property of every rerun (docs/config.md, "What a rerun means"): whatever sequence of edits
two `files` sources go through (records added, edited, reverted, deleted, broken, fixed, keys
given by both sources, the sources' order swapped), after each run every canonical table equals
what a fresh build of the folders as they are now gives, and read = loaded + quarantined."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

from eventkit import ingest_and_build_canonical
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pipelines.build import CANONICAL
from pipelines.config import DoraConfig
from pipelines.warehouse import connect

EXAMPLES = int(os.environ.get("DORA_FUZZ_EXAMPLES", "8"))
FOLDERS = ("a", "b")
ENTITIES = {"deployments": "status", "incidents": "severity"}
IDS = ["k1", "k2", "k3", "k4"]  # few keys: files and sources share them often
VALUES = {"status": ["success", "failure", "error"], "severity": ["sev1", "sev2", None]}
BROKEN = ['{"id": "k1", "service": ', '{"id": null, "service": "api"}', "not json",
          '{"id": "k2", "service": "api", "status": "exploded"}']


def _record(entity: str, key: str, value: Any) -> str:
    if entity == "deployments":
        return json.dumps({"id": key, "service": "api", "environment": "production",
                           "revision": "abc", "finished_at": "2026-01-05T10:00:00Z",
                           "status": value})
    return json.dumps({"id": key, "service": "api", "opened_at": "2026-01-05T10:00:00Z",
                       "severity": value})


FOLDER = st.sampled_from(FOLDERS)
ENTITY = st.sampled_from(sorted(ENTITIES))
EDITS = st.one_of(
    st.tuples(st.just("add"), FOLDER, ENTITY, st.sampled_from(IDS), st.integers(0, 2)),
    st.tuples(st.just("edit"), FOLDER, ENTITY, st.integers(0, 9), st.integers(0, 2)),
    st.tuples(st.just("delete"), FOLDER, ENTITY, st.integers(0, 9)),
    st.tuples(st.just("break"), FOLDER, ENTITY, st.integers(0, 9), st.sampled_from(BROKEN)),
    st.tuples(st.just("fix"), FOLDER, ENTITY, st.integers(0, 9), st.integers(0, 2)),
    st.tuples(st.just("revert"), FOLDER, st.integers(1, 3)),
    st.tuples(st.just("conflict"), FOLDER, ENTITY, st.integers(0, 9), st.integers(0, 2)),
    st.tuples(st.just("swap")),
)

State = dict[str, dict[str, list[str]]]


def _apply(edit: tuple, state: State, history: list[State], order: list[str]) -> None:
    """Apply one edit to the folders' lines (a no-op when it does not fit)."""
    what = edit[0]
    if what == "swap":
        order.reverse()
        return
    folder = edit[1]
    if what == "revert":
        if len(history) >= edit[2]:
            state[folder] = json.loads(json.dumps(history[-edit[2]][folder]))
        return
    entity = edit[2]
    lines = state[folder][entity]
    field = ENTITIES[entity]
    if what == "add":
        lines.append(_record(entity, edit[3], VALUES[field][edit[4]]))
    elif not lines:
        return
    elif what == "edit":
        at = edit[3] % len(lines)
        key = _key(lines[at]) or IDS[0]
        lines[at] = _record(entity, key, VALUES[field][edit[4]])
    elif what == "delete":
        del lines[edit[3] % len(lines)]
    elif what == "break":
        lines[edit[3] % len(lines)] = edit[4]
    elif what == "fix":
        broken = [i for i, line in enumerate(lines) if _key(line) is None]
        if broken:
            lines[broken[edit[3] % len(broken)]] = _record(entity, IDS[edit[4]],
                                                           VALUES[field][edit[4]])
    elif what == "conflict":  # the other source gives the same key another value
        key = _key(lines[edit[3] % len(lines)])
        other = state[FOLDERS[1 - FOLDERS.index(folder)]][entity]
        if key:
            other.append(_record(entity, key, VALUES[field][(edit[4] + 1) % 3]))


def _key(line: str) -> str | None:
    try:
        record = json.loads(line)
    except ValueError:
        return None
    return record.get("id") if isinstance(record, dict) else None


def _write(root: Path, state: State) -> None:
    for folder, entities in state.items():
        (root / folder).mkdir(exist_ok=True)
        for entity, lines in entities.items():
            (root / folder / f"{entity}.jsonl").write_text("".join(f"{x}\n" for x in lines))


def _run(root: Path, landing: str, order: list[str]) -> tuple[dict[str, list], dict[str, int]]:
    """Ingest both folders into `landing` and build; every canonical table, and the totals."""
    config = DoraConfig(warehouse=root / f"{landing}.duckdb", config_dir=root,
                        landing_dir=root / landing,
                        sources=[{"kind": "files", "path": f, "name": f} for f in order])
    totals = ingest_and_build_canonical(config)
    conn = connect(config.warehouse_path)
    try:
        # Table names are ours, from CANONICAL.
        tables = {t: conn.execute(f'SELECT * FROM "{t}" ORDER BY ALL').fetchall()  # noqa: S608
                  for t in (*CANONICAL, "source_conflicts")}
    finally:
        conn.close()
    return tables, totals


@settings(max_examples=EXAMPLES, deadline=None, database=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(st.lists(st.lists(EDITS, min_size=1, max_size=4), min_size=2, max_size=5))
def test_every_run_equals_a_fresh_build(runs: list[list[tuple]]) -> None:
    state: State = {f: {e: [] for e in ENTITIES} for f in FOLDERS}
    history: list[State] = []
    order = list(FOLDERS)
    with tempfile.TemporaryDirectory() as scratch:
        root = Path(scratch)
        for number, edits in enumerate(runs):
            for edit in edits:
                _apply(edit, state, history, order)
            history.append(json.loads(json.dumps(state)))
            _write(root, state)
            kept, totals = _run(root, "kept", order)
            fresh, _ = _run(root, f"fresh-{number}", order)
            assert kept == fresh, (number, edits)
            lines = sum(1 for f in state.values() for e in f.values() for x in e if x.strip())
            assert totals["read"] == lines == totals["loaded"] + totals["quarantined"]
            assert len(kept["quarantine"]) == totals["quarantined"]
