"""Argo CD, Flux and Argo Rollouts JSON (shaped like `kubectl get … -o json`) as deployments.

The repos are those of gitops_world.py; operator revisions are config-repo commits, translated
to app commits through the image tag the config repo sets at that commit.
"""

from __future__ import annotations

from typing import Any

import polars as pl
import pytest
from gitops_world import (
    World,
    application,
    build_world,
    gid,
    history_entry,
    k8s_list,
    production_app,
    replica_set,
    rollout,
    utc,
    write_json,
)

from pipelines.config import load_config
from pipelines.sources.gitops import read_gitops
from pipelines.sources.operators import flux_revision, read_operator


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> World:
    return build_world(tmp_path_factory.mktemp("operators"))


def run(world: World, kind: str, data: Any, known: pl.DataFrame | None = None,
        name: str = "ops"):
    write_json(world.root, f"{name}.json", data)
    config = load_config(world.write_config(f"  - {{kind: {kind}, name: {name}, "
                                            f"path: {name}.json}}\n"))
    return read_operator(config.sources[-1], config, name, known)


def by_id(result) -> dict[str, dict[str, Any]]:
    return {r["id"]: r for r in result.frames["deployments"].to_dicts()}


# ---- Argo CD ------------------------------------------------------------------------------------

def test_argocd_history_entries_are_deployments_of_app_commits(world):
    a = world.app
    rows = by_id(run(world, "argocd", k8s_list(production_app(world))))
    got = {i: (r["revision"], r["started_at"], r["finished_at"], r["rollback_of"])
           for i, r in rows.items() if r["status"] == "success"}
    name = "argocd-payments-api-production"
    assert got == {
        f"{name}-0": (a["ma"], utc("2026-02-02T16:02:30"), utc("2026-02-02T16:03:00"), None),
        f"{name}-1": (a["a3"], utc("2026-02-04T08:01:40"), utc("2026-02-04T08:02:00"), None),
        f"{name}-2": (a["a4"], utc("2026-02-04T12:02:50"), utc("2026-02-04T12:03:00"), None),
        # k5 reverts k4: back to a3, an ancestor of a4.
        f"{name}-3": (a["a3"], utc("2026-02-04T13:31:30"), utc("2026-02-04T13:32:00"),
                      f"{name}-2"),
        f"{name}-4": (a["a4"], utc("2026-02-05T10:01:00"), utc("2026-02-05T10:02:00"), None),
        f"{name}-5": (a["ma"], utc("2026-02-05T11:00:30"), utc("2026-02-05T11:01:00"),
                      f"{name}-4"),
    }
    assert {r["environment"] for r in rows.values()} == {"production"}


def test_argocd_failed_operation_is_a_failed_deployment(world):
    rows = by_id(run(world, "argocd", k8s_list(production_app(world))))
    failed = rows["argocd-payments-api-production-op-20260205T140500Z"]
    # k10 only touched the README: production still names ma, which the failed sync carried.
    assert (failed["status"], failed["revision"], failed["finished_at"]) == (
        "failure", world.app["ma"], utc("2026-02-05T14:06:00"))


def test_argocd_app_rollback_is_an_entry_back_to_an_earlier_revision(world):
    c, p = world.cfg, "envs/production"
    app = application("payments-api", p, [
        history_entry(7, c["k3"], "2026-02-04T08:01:00Z", "2026-02-04T08:02:00Z", p),
        history_entry(8, c["k4"], "2026-02-04T12:02:00Z", "2026-02-04T12:03:00Z", p),
        # `argocd app rollback payments-api 7`: history 7's revision deployed again.
        history_entry(9, c["k3"], "2026-02-04T12:40:00Z", "2026-02-04T12:41:00Z", p),
    ])
    app["metadata"]["labels"]["environment"] = "production"
    rows = by_id(run(world, "argocd", app))  # `argocd app get -o json`: one object
    assert rows["argocd-payments-api-9"]["rollback_of"] == "argocd-payments-api-8"
    assert rows["argocd-payments-api-9"]["revision"] == world.app["a3"]
    assert rows["argocd-payments-api-8"]["rollback_of"] is None


def test_argocd_staging_translates_merge_commit_and_helm_values(world):
    c, a, p = world.cfg, world.app, "envs/staging"
    app = application("payments-api-staging", p, [
        history_entry(0, c["km2"], "2026-02-03T18:01:00Z", "2026-02-03T18:02:00Z", p),
        history_entry(1, c["k9"], "2026-02-05T13:01:00Z", "2026-02-05T13:02:00Z", p),
    ])
    rows = by_id(run(world, "argocd", k8s_list(app)))
    assert {i: (r["environment"], r["revision"]) for i, r in rows.items()} == {
        "argocd-payments-api-staging-0": ("staging", a["a3"]),
        "argocd-payments-api-staging-1": ("staging", a["a4"]),
    }


def test_argocd_bad_entries_are_quarantined_with_reasons(world):
    c, p = world.cfg, "envs/production"
    good = history_entry(0, c["k1"], "2026-02-02T16:02:30Z", "2026-02-02T16:03:00Z", p)
    no_time = history_entry(1, c["k3"], "2026-02-04T08:01:40Z", "yesterday", p)
    unknown = history_entry(2, "f" * 40, "2026-02-04T12:02:50Z", "2026-02-04T12:03:00Z", p)
    no_id = {k: v for k, v in good.items() if k != "id"}
    data = k8s_list(application("payments-api-production", p, [good, no_time, unknown, no_id]),
                    application("billing", "envs/production", [good]), "not an object")
    result = run(world, "argocd", data)
    assert list(by_id(result)) == ["argocd-payments-api-production-0"]
    bad = {(r["file"], r["line"]): (r["field"], r["reason"]) for r in result.quarantine.to_dicts()}
    where = "ops.json:Application/payments-api-production"
    assert bad[(where, 2)][0] == "deployedAt" and "'yesterday'" in bad[(where, 2)][1]
    assert bad[(where, 3)][0] == "revision" and "f" * 40 in bad[(where, 3)][1]
    assert bad[(where, 4)] == ("id", "history entry has no `id`")
    assert "matches no service" in bad[("ops.json:Application/billing", None)][1]
    assert bad[("ops.json#3", None)][1] == "not a Kubernetes object (no metadata)"
    assert result.tally.read["deployments"] == 6 and result.tally.reconciles


def test_an_unreadable_file_is_quarantined(world):
    (world.root / "broken.json").write_text("{not json", encoding="utf-8")
    config = load_config(world.write_config("  - {kind: argocd, path: broken.json}\n"))
    result = read_operator(config.sources[-1], config, "argocd-2")
    assert result.frames["deployments"].height == 0
    assert "not a readable JSON file" in result.quarantine["reason"][0]


# ---- Flux ---------------------------------------------------------------------------------------

def flux_event(reason: str, revision: str, first: str, last: str | None = None,
               kind: str = "Kustomization", name: str = "payments-api",
               warning: bool = False, key: str = "kustomize") -> dict[str, Any]:
    return {
        "apiVersion": "v1", "kind": "Event",
        "metadata": {"name": f"{name}.{reason}.{first}", "namespace": "flux-system",
                     "annotations": {f"{key}.toolkit.fluxcd.io/revision": revision}},
        "involvedObject": {"kind": kind, "name": name, "namespace": "flux-system",
                           "apiVersion": f"{key}.toolkit.fluxcd.io/v1"},
        "reason": reason, "message": "Reconciliation finished in 1.2s, next run in 10m0s",
        "source": {"component": f"{key}-controller"}, "type": "Warning" if warning else "Normal",
        "firstTimestamp": first, "lastTimestamp": last or first, "count": 1,
    }


def test_flux_events_and_status_give_applied_revisions(world):
    c, a = world.cfg, world.app
    kustomization = {
        "apiVersion": "kustomize.toolkit.fluxcd.io/v1", "kind": "Kustomization",
        "metadata": {"name": "payments-api", "namespace": "flux-system"},
        "spec": {"path": "./envs/production", "interval": "10m", "prune": True,
                 "sourceRef": {"kind": "GitRepository", "name": "deploy-config"}},
        "status": {"lastAppliedRevision": f"main@sha1:{c['k6']}",
                   "lastAttemptedRevision": f"main@sha1:{c['k7']}",
                   "conditions": [{"type": "Ready", "status": "False",
                                   "reason": "HealthCheckFailed",
                                   "lastTransitionTime": "2026-02-05T11:02:30Z"}]},
    }
    events = [
        flux_event("ReconciliationSucceeded", f"main@sha1:{c['k3']}", "2026-02-04T08:01:10Z"),
        flux_event("ReconciliationSucceeded", f"main@sha1:{c['k3']}", "2026-02-04T08:11:10Z"),
        flux_event("Progressing", f"main@sha1:{c['k4']}", "2026-02-04T12:00:40Z"),
        flux_event("HealthCheckFailed", f"main@sha1:{c['k4']}", "2026-02-04T12:01:00Z",
                   "2026-02-04T12:05:00Z", warning=True),
        flux_event("ReconciliationSucceeded", f"main@sha1:{c['k4']}", "2026-02-04T12:10:00Z"),
        flux_event("ReconciliationSucceeded", f"main/{c['k6']}", "2026-02-05T10:01:30Z"),
        flux_event("ReconciliationFailed", f"main@sha1:{c['k7']}", "2026-02-05T11:02:00Z",
                   warning=True),
        flux_event("UpgradeSucceeded", "1.2.0", "2026-02-03T18:30:00Z", kind="HelmRelease",
                   name="payments-api-staging", key="helm"),
        flux_event("ReconciliationSucceeded", f"main@sha1:{c['k1']}", "last tuesday"),
        # The cluster's own root Kustomization is no service: one quarantine row, not one per
        # revision it applied.
        flux_event("ReconciliationSucceeded", f"main@sha1:{c['k1']}", "2026-02-02T16:01:00Z",
                   name="flux-system"),
        flux_event("ReconciliationSucceeded", f"main@sha1:{c['k3']}", "2026-02-04T08:01:00Z",
                   name="flux-system"),
    ]
    staging = {  # status only, no events: the applied revision, at the Ready transition
        "apiVersion": "kustomize.toolkit.fluxcd.io/v1", "kind": "Kustomization",
        "metadata": {"name": "payments-api-staging", "namespace": "flux-system"},
        "spec": {"path": "./envs/staging"},
        "status": {"lastAppliedRevision": f"main@sha1:{c['k9']}",
                   "lastAttemptedRevision": f"main@sha1:{c['k9']}",
                   "conditions": [{"type": "Ready", "status": "True",
                                   "reason": "ReconciliationSucceeded",
                                   "lastTransitionTime": "2026-02-05T13:01:30Z"}]},
    }
    result = run(world, "flux", k8s_list(kustomization, staging, *events))
    got = {i: (r["environment"], r["revision"], r["status"], r["started_at"], r["finished_at"])
           for i, r in by_id(result).items()}
    base = "flux-flux-system-payments-api"
    assert got == {
        f"{base}-{c['k3'][:12]}": ("production", a["a3"], "success",
                                   utc("2026-02-04T08:01:10"), utc("2026-02-04T08:01:10")),
        # It failed its health check (12:01 to 12:05), then a later reconciliation succeeded.
        f"{base}-{c['k4'][:12]}": ("production", a["a4"], "success",
                                   utc("2026-02-04T12:01:00"), utc("2026-02-04T12:10:00")),
        f"{base}-{c['k6'][:12]}": ("production", a["a4"], "success",
                                   utc("2026-02-05T10:01:30"), utc("2026-02-05T10:01:30")),
        f"{base}-{c['k7'][:12]}": ("production", a["ma"], "failure",
                                   utc("2026-02-05T11:02:00"), utc("2026-02-05T11:02:30")),
        f"flux-flux-system-payments-api-staging-{c['k9'][:12]}": (
            "staging", a["a4"], "success", utc("2026-02-05T13:01:30"),
            utc("2026-02-05T13:01:30")),
        "flux-flux-system-payments-api-staging-1.2.0": (
            "staging", a["a3"], "success", utc("2026-02-03T18:30:00"),
            utc("2026-02-03T18:30:00")),
    }
    reasons = sorted(result.quarantine["reason"])
    assert len(reasons) == 2
    assert reasons[0] == "Kustomization 'flux-system' matches no service of the config"
    assert "'last tuesday'" in reasons[1]


def test_flux_revision_spellings():
    assert flux_revision("main@sha1:" + "a" * 40) == "a" * 40
    assert flux_revision("main/" + "b" * 40) == "b" * 40
    assert flux_revision("sha1:" + "c" * 40) == "c" * 40
    assert flux_revision("6.5.0@sha256:" + "d" * 64) == "6.5.0"
    assert flux_revision("1.2.0") == "1.2.0"


# ---- Argo Rollouts ------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def gitops_known(world: World) -> pl.DataFrame:
    config = load_config(world.write_config())
    return read_gitops(config.sources_of("gitops")[0], config, "deploy").frames["deployments"]


def test_aborted_canary_is_a_rollback_of_the_deployment_that_shipped_it(world, gitops_known):
    a = world.app
    analysis = ('RolloutAborted: Rollout aborted update to revision 5: Metric "success-rate" '
                "assessed Failed due to failed (3) > failureLimit (2)")
    data = k8s_list(rollout("payments-api", a["a4"], "5", "2026-02-04T12:20:00Z", analysis),
                    replica_set("6d4b7c9f8", "1.2.0"),
                    rollout("payments-api-staging", "v1.2.0", "3", "2026-02-03T17:00:00Z",
                            "RolloutAborted: Rollout aborted update to revision 3"),
                    rollout("ledger", "x", "1", None, ""))
    rows = by_id(run(world, "rollouts", data, gitops_known))
    abort = rows["rollouts-payments-api-5-abort"]
    # The canary a4 was shipped by the k4 bump (12:00); the abort put the stable a3 back.
    assert (abort["rollback_of"], abort["revision"], abort["finished_at"], abort["status"]) == (
        gid(world, "production", "k4"), a["a3"], utc("2026-02-04T12:20:00"), "success")
    assert abort["labels"] == ["rollback", "analysis-failed"]
    # No staging deployment of a3 before 17:00 (it came at 18:00): the canary itself failed.
    staged = rows["rollouts-payments-api-staging-3"]
    assert (staged["status"], staged["revision"], staged["labels"]) == (
        "failure", a["a3"], ["aborted"])
    assert set(rows) == {"rollouts-payments-api-5-abort", "rollouts-payments-api-staging-3"}


def test_without_a_replica_set_the_previous_deployment_is_the_stable_one(world, gitops_known):
    data = k8s_list(rollout("payments-api", world.app["a4"], "9", "2026-02-05T10:30:00Z",
                            "RolloutAborted"))
    abort = by_id(run(world, "rollouts", data, gitops_known))["rollouts-payments-api-9-abort"]
    # k6 (10:00) shipped a4 again; before it, production ran a3 (k5's revert).
    assert abort["rollback_of"] == gid(world, "production", "k6")
    assert abort["revision"] == world.app["a3"]
