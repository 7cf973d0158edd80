"""One GitOps setup built for real: an app repo and a config repo for `payments-api`.

Shared by the gitops, operator and end-to-end tests. Times are written as committed; the UTC
times in the comments are worked out by hand and are what the tests expect.

App repo `payments-api` (image ghcr.io/acme/payments-api):

    a1  initial                           2026-02-02T09:00+01:00   08:00Z
    a2  feature (branch, PR #1)           authored 2026-02-02T11:00Z
    ma  merge PR #1                       2026-02-02T15:00Z         parents a1, a2
    a3  squash of PR #2                   authored 2026-02-03T10:00-05:00 = 15:00Z; tag v1.2.0
    a4  fix                               authored 2026-02-04T09:00Z

Config repo (files `envs/{environment}/**`):

    k1  2026-02-02T16:00Z  staging manifest :<ma[:7]>; production kustomization newTag <ma>
                           (the production manifest's own `:placeholder` is overridden);
                           ledger production :<40 hex, no app repo needed>
    k2  PR branch commit 2026-02-03T16:00Z, merged as km2 at 2026-02-03T18:00Z:
                           staging :v1.2.0                  → a3 (through the app repo's tag)
    k3  2026-02-04T09:00+01:00 = 08:00Z  production newTag 1.2.0 → a3 (promotion);
                           ledger :2.0.0 (no app repo for ledger: quarantined)
    k4  2026-02-04T12:00Z  production newTag <a4>
    k5  2026-02-04T13:30Z  `git revert k4`: production back to 1.2.0 → a3, a rollback of k4
    k6  2026-02-05T10:00Z  production <a4> again: forward, not a rollback
    k7  2026-02-05T11:00Z  manual edit of production to <ma[:8]>: a rollback of k6
    k8  2026-02-05T12:00Z  staging manifest broken (not YAML): quarantined, no deployment
    k9  2026-02-05T13:00Z  staging manifest fixed, plus Helm values tag <a4[:10]> → a4
                           (Helm values win over a manifest's `image:`)
    k10 2026-02-05T14:00Z  README only: nothing
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gitrepo import GitRepo

IMAGE = "ghcr.io/acme/payments-api"
LEDGER_SHA = "ab" * 20


def manifest(tag: str, image: str = IMAGE) -> str:
    return (
        "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: payments-api}\n"
        "spec:\n  template:\n    spec:\n      containers:\n"
        f"        - name: api\n          image: {image}:{tag}\n"
        "        - name: proxy\n          image: envoyproxy/envoy:v1.30.1\n"
    )


def kustomization(tag: str) -> str:
    return (
        "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\n"
        f"resources: [deployment.yaml]\nimages:\n  - name: {IMAGE}\n    newTag: \"{tag}\"\n"
    )


def helm_values(tag: str) -> str:
    return f"replicaCount: 2\nimage:\n  repository: {IMAGE}\n  tag: \"{tag}\"\n"


@dataclass
class World:
    """The two repos and every SHA the tests refer to."""

    root: Path
    app: dict[str, str] = field(default_factory=dict)
    cfg: dict[str, str] = field(default_factory=dict)

    @property
    def app_path(self) -> Path:
        return self.root / "payments-api"

    @property
    def config_path(self) -> Path:
        return self.root / "deploy-config"

    def write_config(self, extra_sources: str = "", gitops: bool = True) -> Path:
        """A dora.yaml with the app clone (and the config repo) as sources."""
        text = (
            f"warehouse: {self.root}/data/dora.duckdb\n"
            "teams:\n  - {name: payments, services: [payments-api, ledger]}\n"
            "services:\n"
            f"  - {{name: payments-api, repo: acme/payments-api, image: {IMAGE}}}\n"
            "  - {name: ledger, repo: acme/ledger, image: ghcr.io/acme/ledger}\n"
            "sources:\n"
            "  - {kind: git, name: app, path: payments-api, service: payments-api}\n"
        )
        if gitops:
            text += "  - {kind: gitops, name: deploy, path: deploy-config, branch: main}\n"
        path = self.root / "dora.yaml"
        path.write_text(text + extra_sources, encoding="utf-8")
        return path


def build_world(root: Path) -> World:
    world = World(root)
    app = GitRepo.init(world.app_path)
    a = world.app
    a["a1"] = app.commit("initial", {"app.py": "v1"}, at="2026-02-02T09:00:00+01:00")
    app.branch("feature")
    a["a2"] = app.commit("feature", {"feature.py": "f"}, at="2026-02-02T11:00:00+00:00")
    app.checkout("main")
    a["ma"] = app.merge("feature", "Merge pull request #1", at="2026-02-02T15:00:00+00:00")
    app.branch("pr-2")
    app.commit("wip", {"pay.py": "1"}, at="2026-02-03T09:00:00-05:00")
    app.checkout("main")
    a["a3"] = app.squash("pr-2", "payments (#2)", at="2026-02-03T10:00:00-05:00")
    app.tag("v1.2.0")
    a["a4"] = app.commit("fix", {"pay.py": "2"}, at="2026-02-04T09:00:00+00:00")

    cfg = GitRepo.init(world.config_path, author="Deploy Bot <bot@example.com>")
    c = world.cfg
    c["k1"] = cfg.commit("initial environments", {
        "envs/staging/deployment.yaml": manifest(a["ma"][:7]),
        "envs/production/deployment.yaml": manifest("placeholder"),
        "envs/production/kustomization.yaml": kustomization(a["ma"]),
        "envs/production/ledger.yaml": manifest(LEDGER_SHA, "ghcr.io/acme/ledger"),
        "README.md": "deploy config",
    }, at="2026-02-02T16:00:00+00:00")
    cfg.branch("bump-staging")
    c["k2"] = cfg.commit("staging: v1.2.0", {"envs/staging/deployment.yaml": manifest("v1.2.0")},
                         at="2026-02-03T16:00:00+00:00")
    cfg.checkout("main")
    c["km2"] = cfg.merge("bump-staging", "Merge pull request #7", at="2026-02-03T18:00:00+00:00")
    c["k3"] = cfg.commit("promote 1.2.0", {
        "envs/production/kustomization.yaml": kustomization("1.2.0"),
        "envs/production/ledger.yaml": manifest("2.0.0", "ghcr.io/acme/ledger"),
    }, at="2026-02-04T09:00:00+01:00")
    c["k4"] = cfg.commit("production: a4", {"envs/production/kustomization.yaml":
                                            kustomization(a["a4"])}, at="2026-02-04T12:00:00+00:00")
    c["k5"] = cfg.revert(c["k4"], at="2026-02-04T13:30:00+00:00")
    c["k6"] = cfg.commit("production: a4 again", {"envs/production/kustomization.yaml":
                                                  kustomization(a["a4"])},
                         at="2026-02-05T10:00:00+00:00")
    c["k7"] = cfg.commit("production: back to ma", {"envs/production/kustomization.yaml":
                                                    kustomization(a["ma"][:8])},
                         at="2026-02-05T11:00:00+00:00")
    c["k8"] = cfg.commit("oops", {"envs/staging/deployment.yaml": "kind: Deployment\n  bad: [\n"},
                         at="2026-02-05T12:00:00+00:00")
    c["k9"] = cfg.commit("staging: helm values", {
        "envs/staging/deployment.yaml": manifest(a["ma"][:7]),
        "envs/staging/values.yaml": helm_values(a["a4"][:10]),
    }, at="2026-02-05T13:00:00+00:00")
    c["k10"] = cfg.commit("docs", {"README.md": "how we deploy"}, at="2026-02-05T14:00:00+00:00")
    return world


def gid(world: World, environment: str, commit: str, service: str = "payments-api") -> str:
    """The deterministic id of a gitops deployment."""
    return f"gitops-{service}-{environment}-{world.cfg[commit][:12]}"


# ---- Argo CD objects as `kubectl get applications -o json` prints them -------------------------

CONFIG_URL = "https://github.com/acme/deploy-config.git"


def utc(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text).replace(tzinfo=dt.UTC)


def k8s_list(*items: Any) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "List", "items": list(items),
            "metadata": {"resourceVersion": ""}}


def history_entry(entry_id: int, revision: str, started: str, deployed: str,
                  path: str) -> dict[str, Any]:
    return {"id": entry_id, "revision": revision, "deployStartedAt": started,
            "deployedAt": deployed, "initiatedBy": {"automated": True},
            "source": {"repoURL": CONFIG_URL, "path": path, "targetRevision": "main"}}


def application(name: str, path: str, history: list[dict[str, Any]],
                operation: dict[str, Any] | None = None) -> dict[str, Any]:
    status: dict[str, Any] = {"history": history, "health": {"status": "Healthy"},
                              "sync": {"status": "Synced"}}
    if operation:
        status["operationState"] = operation
    return {
        "apiVersion": "argoproj.io/v1alpha1", "kind": "Application",
        "metadata": {"name": name, "namespace": "argocd", "labels": {"team": "payments"}},
        "spec": {"project": "default",
                 "destination": {"server": "https://kubernetes.default.svc",
                                 "namespace": "payments"},
                 "source": {"repoURL": CONFIG_URL, "path": path, "targetRevision": "main"},
                 "syncPolicy": {"automated": {"prune": True}}},
        "status": status,
    }


def production_app(world: World) -> dict[str, Any]:
    """Argo CD synced each production bump of the config repo 1–3 minutes after its commit."""
    c, p = world.cfg, "envs/production"
    return application("payments-api-production", p, [
        history_entry(0, c["k1"], "2026-02-02T16:02:30Z", "2026-02-02T16:03:00Z", p),
        history_entry(1, c["k3"], "2026-02-04T08:01:40Z", "2026-02-04T08:02:00Z", p),
        history_entry(2, c["k4"], "2026-02-04T12:02:50Z", "2026-02-04T12:03:00Z", p),
        history_entry(3, c["k5"], "2026-02-04T13:31:30Z", "2026-02-04T13:32:00Z", p),
        history_entry(4, c["k6"], "2026-02-05T10:01:00Z", "2026-02-05T10:02:00Z", p),
        history_entry(5, c["k7"], "2026-02-05T11:00:30Z", "2026-02-05T11:01:00Z", p),
    ], operation={
        "phase": "Failed", "message": "one or more objects failed to apply",
        "startedAt": "2026-02-05T14:05:00Z", "finishedAt": "2026-02-05T14:06:00Z",
        "operation": {"sync": {"revision": c["k10"]}},
        "syncResult": {"revision": c["k10"], "source": {"repoURL": CONFIG_URL, "path": p}},
    })


def write_json(folder: Path, name: str, data: Any) -> Path:
    path = folder / name
    path.write_text(json.dumps(data, indent=2), encoding="utf-8")
    return path


# ---- Argo Rollouts objects ---------------------------------------------------------------------

def rollout(name: str, tag: str, number: str, aborted_at: str | None, message: str,
            stable_rs: str = "6d4b7c9f8") -> dict[str, Any]:
    status: dict[str, Any] = {"phase": "Degraded" if aborted_at else "Healthy",
                              "message": message, "stableRS": stable_rs,
                              "currentPodHash": "7f9c8d6b5", "conditions": []}
    if aborted_at:
        status |= {"abort": True, "abortedAt": aborted_at}
        status["conditions"].append({"type": "Progressing", "status": "False",
                                     "reason": "RolloutAborted",
                                     "lastTransitionTime": aborted_at, "message": message})
    return {
        "apiVersion": "argoproj.io/v1alpha1", "kind": "Rollout",
        "metadata": {"name": name, "namespace": "payments",
                     "annotations": {"rollout.argoproj.io/revision": number}},
        "spec": {"strategy": {"canary": {"steps": [{"setWeight": 20}, {"pause": {}}]}},
                 "template": {"spec": {"containers": [
                     {"name": "proxy", "image": "envoyproxy/envoy:v1.30.1"},
                     {"name": "api", "image": f"{IMAGE}:{tag}"}]}}},
        "status": status,
    }


def replica_set(pod_hash: str, tag: str) -> dict[str, Any]:
    return {"apiVersion": "apps/v1", "kind": "ReplicaSet",
            "metadata": {"name": f"payments-api-{pod_hash}", "namespace": "payments",
                         "labels": {"rollouts-pod-template-hash": pod_hash}},
            "spec": {"template": {"spec": {"containers": [{"name": "api",
                                                           "image": f"{IMAGE}:{tag}"}]}}}}
