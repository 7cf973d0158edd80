"""The `git` source against a real repository with merges, a squash, and tags of every kind.

History of the app repo (times as committed, UTC worked out by hand):

    c1  initial            2026-01-05T09:00+01:00  = 08:00Z
    c2  feature a (branch) 2026-01-05T14:30-05:00  = 19:30Z
    m1  merge feat-a       2026-01-06T10:00+00:00      parents c1, c2
        tag v1.0.0 (annotated, 2026-01-06T12:00+02:00 = 10:00Z)
    b1  feature b (branch, never on main: squashed)
    s1  squash feat-b      2026-01-08T09:00+09:00  = 00:00Z on 01-08, author Bob
        tags v1.1.0-rc.1 and v1.1.0 (lightweight)
    c3  authored 2026-01-10T10:00+05:30 (04:30Z), committed 2026-01-10T12:00Z
        tag nightly-2026 (does not match v*)
    h1  hotfix on release-1.0 (from m1), 2026-01-09T10:00-08:00 = 18:00Z
        tag v1.0.1 (annotated, 2026-01-09T20:00Z)
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from gitrepo import GitRepo

from pipelines.config import load_config
from pipelines.sources import git as source
from pipelines.sources.git import GitError, is_prerelease, read_git, version_candidates


def utc(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text).replace(tzinfo=dt.UTC)


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    repo = GitRepo.init(tmp_path_factory.mktemp("git") / "payments-api")
    shas = {"c1": repo.commit("initial", {"README.md": "hi"}, at="2026-01-05T09:00:00+01:00")}
    repo.branch("feat-a")
    shas["c2"] = repo.commit("feature a", {"api.py": "a"}, at="2026-01-05T14:30:00-05:00")
    repo.checkout("main")
    shas["m1"] = repo.merge("feat-a", "Merge pull request #1", at="2026-01-06T10:00:00+00:00")
    repo.tag("v1.0.0", message="release 1.0.0", at="2026-01-06T12:00:00+02:00")
    repo.branch("feat-b")
    shas["b1"] = repo.commit("feature b", {"b.py": "b"}, at="2026-01-07T08:00:00+00:00")
    repo.checkout("main")
    shas["s1"] = repo.squash("feat-b", "feature b (#2)", at="2026-01-08T09:00:00+09:00",
                             author="Bob <bob@example.com>")
    repo.tag("v1.1.0-rc.1")
    repo.tag("v1.1.0")
    shas["c3"] = repo.commit("tune", {"api.py": "a2"}, at="2026-01-10T10:00:00+05:30",
                             committed="2026-01-10T12:00:00+00:00")
    repo.tag("nightly-2026")
    repo.branch("release-1.0", shas["m1"])
    shas["h1"] = repo.commit("hotfix", {"api.py": "fix"}, at="2026-01-09T10:00:00-08:00")
    repo.tag("v1.0.1", message="release 1.0.1", at="2026-01-09T20:00:00+00:00")
    repo.checkout("main")
    shas["path"] = str(repo.path)
    return shas


def config_for(tmp_path: Path, source: str, services: str = "") -> Path:
    path = tmp_path / "dora.yaml"
    path.write_text(
        "services:\n"
        "  - {name: payments-api, repo: acme/payments-api}\n" + services +
        "sources:\n" + source, encoding="utf-8")
    return path


def read(tmp_path: Path, app: dict[str, str], extra: str = "", services: str = ""):
    text = f"  - {{kind: git, name: app, path: {app['path']}{extra}}}\n"
    config = load_config(config_for(tmp_path, text, services))
    return read_git(config.sources[0], config, "app")


def test_commits_on_main_and_release_tags_with_parents_and_utc_times(tmp_path, app):
    result = read(tmp_path, app, ", service: payments-api, release_tags: 'v*'")
    commits = {r["sha"]: r for r in result.frames["commits"].to_dicts()}
    # b1 was squashed: it is on no branch or tag we read. h1 comes in through its tag v1.0.1.
    assert set(commits) == {app[k] for k in ("c1", "c2", "m1", "s1", "c3", "h1")}
    assert commits[app["m1"]]["parents"] == [app["c1"], app["c2"]]
    assert commits[app["s1"]]["parents"] == [app["m1"]]
    assert commits[app["c1"]]["parents"] == []
    assert commits[app["c2"]]["authored_at"] == utc("2026-01-05T19:30:00")
    assert commits[app["s1"]]["committed_at"] == utc("2026-01-08T00:00:00")
    assert commits[app["s1"]]["author"] == "Bob"
    assert commits[app["c3"]]["authored_at"] == utc("2026-01-10T04:30:00")
    assert commits[app["c3"]]["committed_at"] == utc("2026-01-10T12:00:00")
    assert commits[app["m1"]]["message"] == "Merge pull request #1"
    assert {r["repo"] for r in commits.values()} == {"acme/payments-api"}
    assert commits[app["c1"]]["files"] is None  # no service uses paths: not read
    assert result.tally.loaded["commits"] == 6 and result.tally.reconciles


def test_release_tags_become_production_deployments(tmp_path, app):
    result = read(tmp_path, app, ", service: payments-api, release_tags: 'v*'")
    rows = {r["id"]: r for r in result.frames["deployments"].to_dicts()}
    assert set(rows) == {"git-payments-api-v1.0.0", "git-payments-api-v1.1.0",
                         "git-payments-api-v1.0.1"}
    # Annotated: the tag's own date. Lightweight: the tagged commit's committer date.
    assert rows["git-payments-api-v1.0.0"]["finished_at"] == utc("2026-01-06T10:00:00")
    assert rows["git-payments-api-v1.0.0"]["revision"] == app["m1"]
    assert rows["git-payments-api-v1.1.0"]["finished_at"] == utc("2026-01-08T00:00:00")
    assert rows["git-payments-api-v1.1.0"]["revision"] == app["s1"]
    assert rows["git-payments-api-v1.0.1"]["finished_at"] == utc("2026-01-09T20:00:00")
    assert rows["git-payments-api-v1.0.1"]["revision"] == app["h1"]
    assert {(r["service"], r["environment"], r["status"]) for r in rows.values()} == {
        ("payments-api", "production", "success")}


def test_prereleases_can_be_included(tmp_path, app):
    result = read(tmp_path, app, ", service: payments-api, release_tags: 'v1.1*', "
                  "include_prereleases: true")
    ids = sorted(result.frames["deployments"]["id"])
    assert ids == ["git-payments-api-v1.1.0", "git-payments-api-v1.1.0-rc.1"]


def test_without_release_tags_only_commits_of_the_branch(tmp_path, app):
    result = read(tmp_path, app)
    assert result.frames["deployments"].height == 0
    # No tags read: the release-branch hotfix is not on main.
    assert app["h1"] not in set(result.frames["commits"]["sha"])
    assert result.frames["commits"].height == 5
    # Without `repo` or a service, the folder names the repo.
    assert set(result.frames["commits"]["repo"]) == {"payments-api"}


def test_a_fresh_clone_reads_the_same(tmp_path, app):
    """A clone has only `main` locally (release-1.0 is origin's); the tags bring the hotfix."""
    clone = tmp_path / "clone"
    GitRepo(tmp_path).git("clone", "-q", app["path"], str(clone))
    text = f"  - {{kind: git, path: {clone}, service: payments-api, release_tags: 'v*'}}\n"
    config = load_config(config_for(tmp_path, text))
    result = read_git(config.sources[0], config, "git-0")
    assert set(result.frames["commits"]["sha"]) == {
        app[k] for k in ("c1", "c2", "m1", "s1", "c3", "h1")}
    assert sorted(result.frames["deployments"]["revision"]) == sorted(
        [app["m1"], app["s1"], app["h1"]])


def test_branch_option_reads_that_branch(tmp_path, app):
    result = read(tmp_path, app, ", branch: release-1.0")
    assert set(result.frames["commits"]["sha"]) == {app[k] for k in ("c1", "c2", "m1", "h1")}


def test_changed_files_are_read_when_a_service_is_paths(tmp_path, app):
    services = "  - {name: api, repo: acme/payments-api, paths: ['api.py']}\n"
    result = read(tmp_path, app, ", repo: acme/payments-api", services)
    files = {r["sha"]: r["files"] for r in result.frames["commits"].to_dicts()}
    assert files[app["c2"]] == ["api.py"]
    assert files[app["s1"]] == ["b.py"]
    assert files[app["m1"]] == []  # a merge changes nothing by itself


def test_prerelease_rule():
    for tag in ("v1.2.0-rc.1", "v2.0.0-beta", "1.0.0a1", "v3.1-dev", "v1.0.0rc2", "2.0.0-alpha.3"):
        assert is_prerelease(tag), tag
    for tag in ("v1.2.0", "release-1.2", "v1.2.0+build.5", "2026.01.05", "v10"):
        assert not is_prerelease(tag), tag


def test_image_tag_candidates():
    assert version_candidates("1.2.0") == ["refs/tags/1.2.0", "refs/tags/v1.2.0"]
    assert version_candidates("v1.2.0") == ["refs/tags/v1.2.0", "refs/tags/1.2.0"]
    assert version_candidates("sha-3f2a1bc") == ["refs/tags/sha-3f2a1bc", "3f2a1bc"]
    assert version_candidates("v1.2-3-g3f2a1bc")[-1] == "3f2a1bc"
    assert version_candidates("latest") == ["refs/tags/latest"]


def test_resolving_tags_and_short_shas(app):
    repo = source.GitRepo(Path(app["path"]))
    resolved = repo.resolve_versions(["1.0.0", app["s1"][:9], f"sha-{app['c3'][:7]}", "nope"])
    assert resolved == {"1.0.0": app["m1"], app["s1"][:9]: app["s1"],
                        f"sha-{app['c3'][:7]}": app["c3"], "nope": None}
    assert repo.is_ancestor(app["c1"], app["s1"]) is True
    assert repo.is_ancestor(app["h1"], app["s1"]) is False
    assert repo.is_ancestor("0" * 40, app["s1"]) is None


def test_a_branch_that_looks_like_an_option_is_not_one(tmp_path, app):
    with pytest.raises(GitError, match="does not exist"):
        source.GitRepo(Path(app["path"])).head_of(f"--output={tmp_path}/x")
    assert not (tmp_path / "x").exists()


def test_not_a_repository_is_a_clear_error(tmp_path):
    (tmp_path / "empty").mkdir()
    config = load_config(config_for(tmp_path, "  - {kind: git, path: empty}\n"))
    with pytest.raises(GitError, match="not a git repository"):
        read_git(config.sources[0], config, "git-0")


def test_release_tags_need_a_service(tmp_path, app):
    config = load_config(config_for(
        tmp_path, f"  - {{kind: git, path: {app['path']}, release_tags: 'v*'}}\n"))
    with pytest.raises(ValueError, match="needs `service`"):
        read_git(config.sources[0], config, "git-0")
