"""Faults: rate limits, server errors, dropped connections, bad input — waits, retries, clear
errors, and resuming with nothing lost and nothing doubled. Waits are recorded, never slept."""

from __future__ import annotations

import datetime as dt

import polars as pl
import pytest
from fake_github.generate import build_repo
from fake_github.helpers import FIXED_NOW, TOKEN_ENV, settings, write_config
from fake_github.scenarios import small_repo
from fake_github.server import FakeGithub, Fault

from pipelines.landing import read_entity
from pipelines.sources.github import GithubSyncError, sync_repo

pytest_plugins = ["fake_github.fixtures"]
CLEAN_RUN = 6  # requests of a clean first sync of the small repository


@pytest.fixture
def config(fake_github: FakeGithub, tmp_path):
    fake_github.add_repo(small_repo().repo)
    return write_config(tmp_path, fake_github.base_url, ["acme/app"])


def _sync(config, waits: list[float], repo: str = "acme/app", log=None, **kw):
    return sync_repo(config, config.sources[0], "github-0", repo, settings=settings(waits, **kw),
                     log=log or (lambda _m: None), now=FIXED_NOW)


def _landed(config, entity: str) -> pl.DataFrame:
    return read_entity(config.landing_path, entity)


@pytest.mark.parametrize(("status", "match"), [(403, "PullRequests"), (429, "commits")])
def test_secondary_limit_with_retry_after_waits_that_long(config, fake_github, waits, status,
                                                          match):
    fake_github.inject(Fault("secondary", match=match, status=status, retry_after=30))
    result = _sync(config, waits)
    assert waits == [30.0]
    assert (result.requests, result.retries) == (CLEAN_RUN + 1, 1)
    assert fake_github.request_count == CLEAN_RUN + 1
    assert _landed(config, "pull_requests").height == 3


def test_secondary_limit_without_retry_after_waits_a_minute(config, fake_github, waits):
    fake_github.inject(Fault("secondary", match="Deployments", status=403))
    _sync(config, waits)
    assert waits == [60.0]  # GitHub: wait at least a minute when it does not say how long


@pytest.mark.parametrize("status", [403, 429])
def test_primary_limit_waits_until_the_reset(config, fake_github, waits, status):
    fake_github.inject(Fault("primary", match="commits", status=status, reset_in=40))
    result = _sync(config, waits)
    # Reset in 40 s (whole seconds) plus one second of margin.
    assert len(waits) == 1 and 39.0 <= waits[0] <= 41.5
    assert result.waited_seconds == pytest.approx(waits[0])
    assert _landed(config, "commits")["sha"].n_unique() == 7


def test_graphql_rate_limited_waits_until_the_reset(config, fake_github, waits):
    # GitHub answers 200 with a RATE_LIMITED error, which HTTP retries cannot see.
    fake_github.inject(Fault("graphql_rate_limited", match="Incidents", reset_in=20))
    result = _sync(config, waits)
    assert len(waits) == 1 and 19.0 <= waits[0] <= 21.5
    assert fake_github.labels().count("POST /api/graphql Incidents") == 2
    assert result.requests == CLEAN_RUN + 1
    assert _landed(config, "incidents").height == 1


def test_server_errors_are_retried_with_backoff(config, fake_github, waits):
    fake_github.inject(Fault("status", match="Releases", status=502, times=2))
    result = _sync(config, waits)
    # urllib3: the first retry goes at once, the second after backoff_factor * 2 = 1 s.
    assert waits == [1.0]
    assert (result.requests, result.retries) == (CLEAN_RUN + 2, 2)


@pytest.mark.parametrize("match", ["commits", "Deployments"])
def test_a_dropped_connection_is_retried(config, fake_github, waits, match):
    fake_github.inject(Fault("drop", match=match))
    result = _sync(config, waits)
    assert (result.requests, result.retries) == (CLEAN_RUN + 1, 1)
    assert _landed(config, "deployments").height == 4


def test_a_body_cut_short_is_fetched_again(config, fake_github, waits):
    fake_github.inject(Fault("truncate", match="PullRequests"))
    result = _sync(config, waits)
    assert waits == [0.5]  # the client's own backoff: backoff_factor * 2**0
    assert result.requests == CLEAN_RUN + 1
    assert _landed(config, "pull_requests").height == 3


def test_server_errors_beyond_the_retries_are_one_clear_error(config, fake_github, waits):
    fake_github.inject(Fault("status", match="Deployments", status=502, times=99))
    with pytest.raises(GithubSyncError) as caught:
        _sync(config, waits)
    message = str(caught.value)
    assert message.startswith("acme/app: GitHub kept failing on GraphQL Deployments")
    assert "502" in message and "run again to resume" in message
    # 1 try + 4 retries for Deployments, after Overview, commits and pull requests.
    assert fake_github.labels().count("POST /api/graphql Deployments") == 5
    assert caught.value.partial.requests == 3 + 5


def _big(fake_github: FakeGithub, tmp_path):
    start = FIXED_NOW - dt.timedelta(days=30)
    fake_github.add_repo(build_repo(prs=250, deployments=5, incidents=3, releases=1,
                                    start=start))
    return write_config(tmp_path, fake_github.base_url, ["acme/app"])


@pytest.mark.parametrize("kind", ["primary", "graphql_rate_limited"])
def test_a_wait_beyond_the_maximum_stops_and_the_next_run_resumes(fake_github, tmp_path, waits,
                                                                  kind):
    config = _big(fake_github, tmp_path)
    # The second page of pull requests hits a limit that resets in 5000 s (max wait: 900 s).
    fake_github.inject(Fault(kind, match="PullRequests", skip=1, reset_in=5000))
    with pytest.raises(GithubSyncError) as caught:
        _sync(config, waits)
    message = str(caught.value)
    assert "acme/app: GitHub's rate limit asks to wait 500" in message
    assert "more than max_rate_limit_wait_seconds=900" in message
    assert waits == []  # it did not wait at all
    assert _landed(config, "pull_requests").height == 100  # the first page is stored

    fake_github.reset_log()
    _sync(config, waits)
    # The next run continues at page 2: pages 2 and 3 only, no page fetched twice.
    assert fake_github.labels().count("POST /api/graphql PullRequests") == 2
    landed = _landed(config, "pull_requests")
    assert landed.height == 250 and landed["number"].n_unique() == 250


def test_commit_listing_resumes_at_the_page_it_had_not_stored(fake_github, tmp_path, waits):
    config = _big(fake_github, tmp_path)
    fake_github.inject(Fault("status", match="/commits", status=503, times=99, skip=2))
    with pytest.raises(GithubSyncError):
        _sync(config, waits)
    stored = _landed(config, "commits").height
    assert stored == 200  # two pages of 100
    fake_github.faults.clear()
    fake_github.reset_log()
    _sync(config, waits)
    commit_pages = [label for label in fake_github.labels() if "/commits" in label]
    assert "page=3" in commit_pages[0]  # resumed at the third page
    main = _landed(config, "commits").filter(pl.col("sha").is_in(
        fake_github.repos["acme/app"].history(fake_github.repos["acme/app"].head)))
    assert main["sha"].n_unique() == len(fake_github.repos["acme/app"].history(
        fake_github.repos["acme/app"].head))


def test_bad_token_is_one_clear_error(config, fake_github, waits, monkeypatch):
    monkeypatch.setenv(TOKEN_ENV, "ghp_wrongwrongwrong")
    with pytest.raises(GithubSyncError) as caught:
        _sync(config, waits)
    assert str(caught.value) == (
        f"acme/app: GitHub at {fake_github.base_url} rejected the token in "
        "$DORA_TEST_GITHUB_TOKEN (401 Bad credentials); set the variable to a valid token that "
        "can read this repository"
    )
    assert fake_github.request_count == 1  # a 401 is not retried
    assert caught.value.__cause__ is None and caught.value.__suppress_context__


def test_missing_repository_is_one_clear_error(fake_github, tmp_path, waits):
    config = write_config(tmp_path, fake_github.base_url, ["acme/gone"])
    with pytest.raises(GithubSyncError) as caught:
        _sync(config, waits, repo="acme/gone")
    assert str(caught.value) == (
        f"acme/gone: repository not found at {fake_github.base_url} (404 on GraphQL Overview); "
        "check the name in `repos`, and that the token in $DORA_TEST_GITHUB_TOKEN can see it"
    )


def test_enterprise_without_rate_limit_syncs_with_one_message(config, fake_github, waits):
    fake_github.rate_limit = False  # no rate-limit headers; /rate_limit answers 404
    messages: list[str] = []
    result = _sync(config, waits, log=messages.append)
    notes = [m for m in messages if "rate limit" in m]
    assert notes == [f"acme/app: {fake_github.base_url} reports no rate limit (GitHub Enterprise "
                     "with rate limiting off); syncing without rate-limit figures"]
    assert result.rate_limit_remaining is None
    assert result.as_metadata()["rate_limit_reported"] is False
    assert _landed(config, "pull_requests").height == 3
