"""The Kubernetes deployment, checked on its Dagster side (no cluster runs here): the instance the
Helm chart renders from deploy/helm/values.yaml is valid Dagster config and its K8sRunLauncher
can be built from it; the code location loads with the per-step-pod executor; the run configs
under deploy/ fit the `github_sync` job; the Dockerfile serves the code location."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import dagster as dg
import pytest
import yaml
from dagster._config import validate_config
from dagster._core.instance.config import dagster_instance_config

from pipelines.defs.executor import executor_from_env

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
NAMESPACE = "dora"
RELEASE = "dagster"
KUBECONFIG = """apiVersion: v1
kind: Config
clusters: [{name: test, cluster: {server: "https://127.0.0.1:6443"}}]
users: [{name: test, user: {token: not-a-real-token}}]
contexts: [{name: test, context: {cluster: test, user: test, namespace: dora}}]
current-context: test
"""


def values() -> dict[str, Any]:
    return yaml.safe_load((DEPLOY / "helm" / "values.yaml").read_text(encoding="utf-8"))


def _snake(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


def rendered_instance(v: dict[str, Any]) -> dict[str, Any]:
    """The dagster.yaml the chart (1.13) writes into its instance ConfigMap, for the values this
    project sets (templates/helpers/instance/: _run-launcher.tpl, _postgresql.tpl,
    _run-coordinator.tpl, _concurrency.tpl)."""
    launcher = v["runLauncher"]["config"]["k8sRunLauncher"]
    assert v["runLauncher"]["type"] == "K8sRunLauncher"
    run_launcher: dict[str, Any] = {
        "load_incluster_config": launcher["loadInclusterConfig"],
        "job_namespace": launcher.get("jobNamespace") or NAMESPACE,
        "image_pull_policy": launcher["imagePullPolicy"],
        "service_account_name": RELEASE,
        "dagster_home": v["global"]["dagsterHome"],
        "instance_config_map": f"{RELEASE}-instance",
        "postgres_password_secret": v["global"]["postgresqlSecretName"],
        "env_secrets": [s["name"] for s in launcher.get("envSecrets", [])],
        "run_k8s_config": {_snake(k): c for k, c in launcher.get("runK8sConfig", {}).items()},
    }
    pg = v["postgresql"]
    assert v["dagsterDaemon"]["runCoordinator"]["type"] == "QueuedRunCoordinator"
    pools, runs = v["concurrency"]["pools"], v["concurrency"]["runs"]
    return {
        "run_launcher": {"module": "dagster_k8s", "class": "K8sRunLauncher",
                         "config": run_launcher},
        "storage": {"postgres": {"postgres_db": {
            "username": pg["postgresqlUsername"], "password": {"env": "DAGSTER_PG_PASSWORD"},
            "hostname": pg["postgresqlHost"], "db_name": pg["postgresqlDatabase"],
            "port": pg["service"]["port"]}}},
        "run_coordinator": {"module": "dagster.core.run_coordinator",
                            "class": "QueuedRunCoordinator"},
        "run_retries": {"enabled": v["dagsterDaemon"]["runRetries"]["enabled"],
                        "max_retries": v["dagsterDaemon"]["runRetries"]["maxRetries"]},
        "concurrency": {"pools": {"default_limit": pools["defaultLimit"],
                                  "granularity": pools["granularity"]},
                        "runs": {"max_concurrent_runs": runs["maxConcurrentRuns"],
                                 "tag_concurrency_limits": runs["tagConcurrencyLimits"]}},
    }


def test_the_chart_renders_a_valid_instance_and_run_launcher(tmp_path: Path) -> None:
    from dagster_k8s import K8sRunLauncher
    from dagster_postgres.utils import pg_config

    instance = rendered_instance(values())
    # Retries belong to the steps that can fail for a passing reason (GitHub), not to every run.
    assert instance["run_retries"]["enabled"] is False
    (tmp_path / "dagster.yaml").write_text(yaml.safe_dump(instance), encoding="utf-8")
    dagster_instance_config(str(tmp_path))  # raises on any invalid key or value

    launcher = instance["run_launcher"]["config"]
    checked = validate_config(K8sRunLauncher.config_type(), launcher)
    assert checked.success, [e.message for e in checked.errors]
    assert validate_config(pg_config(), instance["storage"]["postgres"]).success

    # Built for real, except that it reads a kubeconfig file instead of the in-cluster one.
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(KUBECONFIG, encoding="utf-8")
    built = K8sRunLauncher(**{**launcher, "load_incluster_config": False,
                              "kubeconfig_file": str(kubeconfig)})
    assert built.job_namespace == NAMESPACE
    assert built.env_secrets == ["dora-github-token", "dora-storage"]
    assert built.run_k8s_config["container_config"]["resources"]["limits"]["memory"] == "2Gi"


def test_the_code_location_loads_with_one_pod_per_step(monkeypatch: pytest.MonkeyPatch) -> None:
    from dagster_k8s import k8s_job_executor

    deployment = values()["dagster-user-deployments"]["deployments"][0]
    env = {e["name"]: e["value"] for e in deployment["env"]}
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("DORA_CONFIG", "dora.yaml")  # the mounted file is not here
    from pipelines.definitions import defs

    loaded = defs()
    # The per-repository fan-out gets a pod per step; the asset jobs (one run, one pod, one
    # DuckDB file) run their steps in the run's own process.
    assert loaded.resolve_job_def("github_sync").executor_def is k8s_job_executor
    assert loaded.resolve_job_def("refresh").executor_def is dg.in_process_executor
    asset_job = loaded.resolve_implicit_job_def_def_for_assets([dg.AssetKey("team_metrics")])
    assert asset_job is not None and asset_job.executor_def is dg.in_process_executor
    github_sync = loaded.resolve_job_def("github_sync")
    k8s_run = yaml.safe_load((DEPLOY / "helm" / "github_sync.k8s.run_config.yaml").read_text())
    dg.validate_run_config(github_sync, k8s_run)


def test_the_local_run_config_fits_the_multiprocess_executor() -> None:
    from pipelines.definitions import defs

    job = defs().resolve_job_def("github_sync")
    assert job.executor_def is dg.multiprocess_executor
    local = yaml.safe_load((DEPLOY / "github_sync.run_config.yaml").read_text())
    dg.validate_run_config(job, local)


def test_an_unknown_executor_is_refused() -> None:
    with pytest.raises(dg.DagsterInvariantViolationError, match="expected one of"):
        executor_from_env("celery")


def test_the_image_serves_the_code_location_the_chart_loads() -> None:
    dockerfile = (DEPLOY / "Dockerfile").read_text(encoding="utf-8")
    module = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["dagster"]["module_name"]
    deployment = values()["dagster-user-deployments"]["deployments"][0]
    assert deployment["dagsterApiGrpcArgs"] == ["--module-name", module]
    cmd = re.search(r"^CMD (\[.*?\])$", dockerfile, re.MULTILINE | re.DOTALL)
    assert cmd and module in cmd.group(1) and str(deployment["port"]) in cmd.group(1)
    assert "DORA_EXECUTOR=k8s" in dockerfile
    config_dir = str(Path(next(e["value"] for e in deployment["env"]
                               if e["name"] == "DORA_CONFIG")).parent)
    assert config_dir in [m["mountPath"] for m in deployment["volumeMounts"]]
    for folder in ("pipelines", "metrics", "sql"):
        assert f"COPY {folder} ./{folder}" in dockerfile


def test_the_image_dependency_layer_needs_only_what_it_copies(tmp_path: Path) -> None:
    """The Dockerfile's dependency step, replayed in a folder holding only what that step
    copies: it lists every dependency and those of the image's extras (own extras expanded)."""
    dockerfile = (DEPLOY / "Dockerfile").read_text(encoding="utf-8")
    copied = re.search(r"^COPY (.*) \./\n(?=RUN python requirements_of\.py)", dockerfile,
                       re.MULTILINE)
    assert copied, "the dependency step copies its files just before it runs"
    for name in copied.group(1).split():
        shutil.copy(ROOT / name, tmp_path / Path(name).name)
    step = re.search(r"RUN python requirements_of\.py ([a-z0-9 ]+) >", dockerfile)
    assert step
    listed = subprocess.run([sys.executable, "requirements_of.py", *step.group(1).split()],
                            cwd=tmp_path, capture_output=True, text=True, check=True
                            ).stdout.splitlines()
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    wanted = list(project["dependencies"])
    for extra in step.group(1).split():
        wanted += project["optional-dependencies"][extra]
    assert listed == list(dict.fromkeys(wanted))
    assert not any(r.startswith(project["name"]) for r in listed)
