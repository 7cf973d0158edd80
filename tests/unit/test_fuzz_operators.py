"""Operator history files (Argo CD, Flux, Argo Rollouts JSON), fuzzed.

Real-looking objects (gitops_world's templates) with values swapped for others of any type,
keys removed, lists where mappings belong, lone surrogates, huge numbers, truncated and binary
files. Reading never raises; every object read is loaded or quarantined with a readable reason;
what loads keeps the canonical guarantees.
"""

from __future__ import annotations

import json
import tempfile
import unicodedata
from pathlib import Path
from typing import Any

import polars as pl
from fuzzkit import fuzz_settings, paths_in
from gitops_world import application, history_entry, k8s_list, replica_set, rollout
from hypothesis import example, given
from hypothesis import strategies as st

from metrics.schema import DEPLOYMENT_STATUSES, SCHEMAS
from pipelines.config import load_config
from pipelines.sources.operators import read_operator
from pipelines.sources.records import EARLIEST, LATEST

FUZZ = fuzz_settings(40)
SHA = "0123456789abcdef0123456789abcdef01234567"


def _templates() -> dict[str, list[dict[str, Any]]]:
    """Valid objects of each operator kind."""
    path = "envs/production"
    argocd = application("payments-api-production", path, [
        history_entry(0, SHA, "2026-02-02T16:02:30Z", "2026-02-02T16:03:00Z", path),
        history_entry(1, SHA[::-1], "2026-02-04T08:01:40Z", "2026-02-04T08:02:00Z", path),
    ], operation={"phase": "Failed", "startedAt": "2026-02-05T14:05:00Z",
                  "finishedAt": "2026-02-05T14:06:00Z",
                  "operation": {"sync": {"revision": SHA}}, "syncResult": {"revision": SHA}})
    flux = [
        {"apiVersion": "kustomize.toolkit.fluxcd.io/v1", "kind": "Kustomization",
         "metadata": {"name": "payments-api", "namespace": "flux-system"},
         "spec": {"path": "./envs/production"},
         "status": {"lastAppliedRevision": f"main@sha1:{SHA}",
                    "lastAttemptedRevision": f"main@sha1:{SHA}",
                    "conditions": [{"type": "Ready", "status": "True",
                                    "lastTransitionTime": "2026-02-05T13:01:30Z"}]}},
        {"apiVersion": "v1", "kind": "Event",
         "metadata": {"name": "e1", "namespace": "flux-system",
                      "annotations": {"kustomize.toolkit.fluxcd.io/revision": f"main@sha1:{SHA}"}},
         "involvedObject": {"kind": "Kustomization", "name": "payments-api",
                            "namespace": "flux-system"},
         "reason": "ReconciliationSucceeded", "type": "Normal",
         "firstTimestamp": "2026-02-04T08:01:10Z", "lastTimestamp": "2026-02-04T08:01:10Z"},
    ]
    rollouts = [rollout("payments-api", "1.2.0", "3", "2026-02-04T12:06:00Z", "aborted"),
                replica_set("6d4b7c9f8", "1.1.0")]
    return {"argocd": [argocd], "flux": flux, "rollouts": rollouts}


TEMPLATES = _templates()
JSON_VALUES = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.integers(min_value=10**25),
              st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=12),
              st.sampled_from(["\ud800", "\x00", "2026-02-30T00:00:00Z", "2026-01-05T10:00:00",
                               "main@sha1:", SHA, "9999-12-31T23:59:59Z", "é" * 100_000])),
    lambda inner: st.one_of(st.lists(inner, max_size=3),
                            st.dictionaries(st.text(max_size=6), inner, max_size=3)),
    max_leaves=6,
)


@st.composite
def operator_files(draw: st.DrawFn) -> tuple[str, bytes]:
    """(source kind, file bytes): a `kubectl … -o json` list, broken."""
    kind = draw(st.sampled_from(sorted(TEMPLATES)))
    objects = json.loads(json.dumps(TEMPLATES[kind]))  # a deep copy
    for _ in range(draw(st.integers(0, 5))):
        paths = paths_in(objects)
        path = draw(st.sampled_from(paths))
        target = objects
        for part in path[:-1]:
            target = target[part]
        if draw(st.booleans()) and isinstance(target, dict):
            target.pop(path[-1], None)
        else:
            target[path[-1]] = draw(JSON_VALUES)
    document: Any = k8s_list(*objects) if draw(st.booleans()) else objects
    raw = json.dumps(document, allow_nan=True, ensure_ascii=draw(st.booleans()))
    data = raw.encode("utf-8", "surrogatepass")
    how = draw(st.sampled_from(["keep"] * 6 + ["truncate", "binary", "empty", "deep",
                                               "number", "scalar"]))
    if how == "truncate":
        data = data[: draw(st.integers(0, len(data)))]
    elif how == "binary":
        data = draw(st.binary(max_size=200))
    elif how == "empty":
        data = b""
    elif how == "deep":
        data = b"[" * 100_000 + b"]" * 100_000
    elif how == "number":
        data = b"1" * 5000
    elif how == "scalar":
        data = json.dumps(draw(JSON_VALUES), allow_nan=True).encode("utf-8", "surrogatepass")
    return kind, data


def _readable(text: str | None) -> bool:
    return text is None or (0 < len(text) <= 600 and not any(
        unicodedata.category(c) in ("Cc", "Cs") for c in text))


@FUZZ
@given(operator_files())
@example(("argocd", b'{"kind": "Application", "metadata": {"name": "payments-api"}, '
                    b'"spec": [1], "status": {"operationState": "x"}}'))
@example(("flux", b'[{"kind": "Event", "metadata": {"name": "\\ud800"}, "involvedObject": 5}]'))
@example(("rollouts", b'[{"kind": "Rollout", "metadata": {"name": "payments-api"}, '
                      b'"status": {"abort": true, "abortedAt": 7}, "spec": "x"}]'))
@example(("argocd", json.dumps([{"kind": "Application",
                                  "metadata": {"name": "é" * 5000 + "\x1b[2J"},
                                  "status": {"history": [{"id": 1}]}}]).encode()))
def test_operator_files_never_stop_the_source(case: tuple[str, bytes]) -> None:
    kind, data = case
    with tempfile.TemporaryDirectory() as scratch:
        root = Path(scratch)
        (root / "history.json").write_bytes(data)
        (root / "dora.yaml").write_text(
            "teams: [{name: payments, services: [payments-api]}]\n"
            "services: [{name: payments-api, repo: acme/payments-api, "
            "image: ghcr.io/acme/payments-api}]\n"
            f"sources: [{{kind: {kind}, name: ops, path: history.json}}]\n", encoding="utf-8")
        config = load_config(root / "dora.yaml")
        known = pl.DataFrame([{"id": "d1", "service": "payments-api",
                               "environment": "production", "revision": SHA,
                               "finished_at": EARLIEST.replace(year=2026), "status": "success"}],
                             schema={k: v for k, v in SCHEMAS["deployments"].items()
                                     if k in ("id", "service", "environment", "revision",
                                              "finished_at", "status")})
        result = read_operator(config.sources[0], config, "ops",
                               known.select(list(known.columns)) if kind == "rollouts" else None)
    tally, frame, quarantine = result.tally, result.frames["deployments"], result.quarantine
    assert tally.reconciles
    assert tally.loaded["deployments"] == frame.height
    assert tally.quarantined["deployments"] == quarantine.height
    for row in quarantine.iter_rows(named=True):
        assert _readable(row["reason"]), row["reason"]
        assert _readable(row["file"]), row["file"]
    for row in frame.iter_rows(named=True):
        assert row["id"] and row["service"] == "payments-api" and row["revision"]
        assert row["status"] in DEPLOYMENT_STATUSES
        assert EARLIEST <= row["finished_at"] < LATEST
        for value in row.values():
            if isinstance(value, str):
                value.encode("utf-8")
