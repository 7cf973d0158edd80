"""The `gitops` source on a real config repo (see gitops_world.py for the history and times)."""

from __future__ import annotations

import pytest
from gitops_world import IMAGE, LEDGER_SHA, World, build_world, gid, utc
from gitrepo import GitRepo

from pipelines.config import Service, load_config
from pipelines.sources.gitops import ConfigRepo, FilePattern, link_rollbacks, read_gitops
from pipelines.sources.images import HELM, KUSTOMIZE, MANIFEST, BadYaml, ImageRef, parse_images


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> World:
    return build_world(tmp_path_factory.mktemp("gitops"))


@pytest.fixture(scope="module")
def result(world: World):
    config = load_config(world.write_config())
    return read_gitops(config.sources_of("gitops")[0], config, "deploy")


def test_every_image_bump_is_a_deployment_at_its_commit(world, result):
    a = world.app
    got = {(r["id"], r["environment"], r["revision"], r["finished_at"])
           for r in result.frames["deployments"].to_dicts() if r["service"] == "payments-api"}
    assert got == {
        (gid(world, "staging", "k1"), "staging", a["ma"], utc("2026-02-02T16:00:00")),
        (gid(world, "production", "k1"), "production", a["ma"], utc("2026-02-02T16:00:00")),
        # A merged PR counts at its merge commit (18:00), not at the PR's own commit (16:00).
        (gid(world, "staging", "km2"), "staging", a["a3"], utc("2026-02-03T18:00:00")),
        (gid(world, "production", "k3"), "production", a["a3"], utc("2026-02-04T08:00:00")),
        (gid(world, "production", "k4"), "production", a["a4"], utc("2026-02-04T12:00:00")),
        (gid(world, "production", "k5"), "production", a["a3"], utc("2026-02-04T13:30:00")),
        (gid(world, "production", "k6"), "production", a["a4"], utc("2026-02-05T10:00:00")),
        (gid(world, "production", "k7"), "production", a["ma"], utc("2026-02-05T11:00:00")),
        (gid(world, "staging", "k9"), "staging", a["a4"], utc("2026-02-05T13:00:00")),
    }
    assert set(result.frames["deployments"]["status"]) == {"success"}


def test_revert_and_edit_back_are_rollbacks_and_forward_again_is_not(world, result):
    rollbacks = {r["id"]: r["rollback_of"] for r in result.frames["deployments"].to_dicts()}
    assert rollbacks[gid(world, "production", "k5")] == gid(world, "production", "k4")
    assert rollbacks[gid(world, "production", "k7")] == gid(world, "production", "k6")
    assert {k for k, v in rollbacks.items() if v} == {gid(world, "production", "k5"),
                                                      gid(world, "production", "k7")}


def test_promotion_from_staging_to_production_is_visible(world, result):
    rows = result.frames["deployments"].filter(result.frames["deployments"]["revision"]
                                               == world.app["a3"]).sort("finished_at")
    assert rows.select("environment", "finished_at").rows() == [
        ("staging", utc("2026-02-03T18:00:00")),
        ("production", utc("2026-02-04T08:00:00")),
        ("production", utc("2026-02-04T13:30:00")),
    ]


def test_a_full_sha_tag_needs_no_app_repo_and_a_version_tag_does(world, result):
    ledger = result.frames["deployments"].filter(
        result.frames["deployments"]["service"] == "ledger")
    assert ledger.select("id", "revision").rows() == [
        (gid(world, "production", "k1", "ledger"), LEDGER_SHA)]
    bad = {r["record_key"]: r for r in result.quarantine.to_dicts()}
    unresolved = bad[gid(world, "production", "k3", "ledger")]
    assert unresolved["file"] == f"envs/production/ledger.yaml@{world.cfg['k3'][:12]}"
    assert "'2.0.0'" in unresolved["reason"] and "no `git` source" in unresolved["reason"]


def test_unparseable_yaml_is_quarantined_and_the_old_version_stays(world, result):
    broken = next(r for r in result.quarantine.to_dicts() if r["record_key"] == world.cfg["k8"])
    assert broken["file"] == f"envs/staging/deployment.yaml@{world.cfg['k8'][:12]}"
    assert "not valid YAML" in broken["reason"] and broken["line"] == 2
    assert broken["raw"].startswith("kind: Deployment")
    assert result.tally.quarantined["deployments"] == 2
    assert result.tally.loaded["deployments"] == 10 and result.tally.reconciles


def test_tags_at_any_config_commit(world):
    repo = ConfigRepo(world.config_path, "main", "envs/{environment}/**",
                      [Service(name="payments-api", repo="acme/payments-api", image=IMAGE)])
    assert repo.tags_at(world.cfg["k5"]) == {("payments-api", "production"): "1.2.0",
                                             ("payments-api", "staging"): "v1.2.0"}
    assert repo.tags_at(world.cfg["k9"])[("payments-api", "staging")] == world.app["a4"][:10]


def test_service_placeholder_and_helm_values_without_repository(tmp_path):
    app = GitRepo.init(tmp_path / "api")
    first = app.commit("one", {"a": "1"}, at="2026-03-02T10:00:00+00:00")
    app.tag("v2.0.0")
    cfg = GitRepo.init(tmp_path / "charts")
    bump = cfg.commit("bump", {"apps/api/values-prod.yaml": "image:\n  tag: v2.0.0\n",
                               "apps/api/values-dev.yaml": "image:\n  pullPolicy: Always\n"},
                      at="2026-03-02T12:00:00+02:00")
    (tmp_path / "dora.yaml").write_text(
        "services: [{name: api, repo: acme/api}]\nsources:\n"
        "  - {kind: git, path: api, service: api}\n"
        "  - {kind: gitops, path: charts, files: 'apps/{service}/values-{environment}.yaml'}\n")
    config = load_config(tmp_path / "dora.yaml")
    result = read_gitops(config.sources[1], config, "charts")
    assert result.frames["deployments"].select("id", "environment", "revision",
                                               "finished_at").rows() == [
        (f"gitops-api-prod-{bump[:12]}", "prod", first, utc("2026-03-02T10:00:00"))]


def test_rollbacks_without_a_commit_graph_go_by_first_deployment():
    rows = [{"id": f"d{i}", "service": "s", "environment": "prod", "revision": rev,
             "status": "success", "finished_at": utc(f"2026-01-0{i}T00:00:00"),
             "rollback_of": None} for i, rev in enumerate("ABAB", start=1)]
    link_rollbacks(rows, lambda *_: None)
    # A→B, back to A (first deployed before B: a rollback of d2), forward to B again (not one).
    assert [r["rollback_of"] for r in rows] == [None, None, "d2", None]


def test_file_patterns():
    pattern = FilePattern("envs/{environment}/**")
    assert pattern.match("envs/prod/apps/api.yaml") == ("prod", None)
    assert pattern.match("envs/prod") is None
    assert pattern.pathspec == ":(glob)envs/*/**"
    helm = FilePattern("apps/{service}/values-{environment}.yaml")
    assert helm.match("apps/api/values-staging.yaml") == ("staging", "api")
    assert helm.match("apps/api/sub/values-staging.yaml") is None
    with pytest.raises(ValueError, match="environment"):
        FilePattern("envs/**")


def test_image_shapes():
    text = (
        b"containers:\n  - image: registry:5000/acme/api:1.10@sha256:abc\n"
        b"images:\n  - {name: acme/api, newName: ghcr.io/acme/api, newTag: '7'}\n"
        b"---\nimage: {registry: ghcr.io, repository: acme/web, tag: 1.10}\n"
    )
    assert set(parse_images(text)) == {
        ImageRef("registry:5000/acme/api", "1.10", MANIFEST),
        ImageRef("acme/api", "7", KUSTOMIZE),
        ImageRef("ghcr.io/acme/api", "7", KUSTOMIZE),
        ImageRef("ghcr.io/acme/web", "1.10", HELM),  # `1.10` stays text, not the number 1.1
    }
    assert parse_images(b"image: {{ .Values.image }}\n") == []  # a Helm template: not data
    with pytest.raises(BadYaml) as bad:
        parse_images(b"a: 1\nb: [\n")
    assert bad.value.line == 3


def test_yaml_aliases_are_walked_once():
    lines = ["a: &a [{image: 'x:1'}, {image: 'x:1'}]"]
    lines += [f"{c}: &{c} [*{p}, *{p}, *{p}, *{p}, *{p}, *{p}]"
              for p, c in zip("abcdefgh", "bcdefghi", strict=True)]
    refs = parse_images("\n".join(lines).encode())  # 2 × 6^8 references if expanded
    assert refs == [ImageRef("x", "1", MANIFEST)] * 2
