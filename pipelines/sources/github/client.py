"""The HTTP side of the GitHub source: PyGithub's requester, with counted and bounded retries.

`GithubClient` offers three calls, each one request (plus the retries urllib3 makes):
`rest(path)` (a REST GET), `rest_pages(path)` (REST lists, following `Link: rel="next"`) and
`graphql(operation, variables)` (a query from `queries/`). Every failure leaves as a
`GithubSyncError` naming the repository (errors.py); the token is handed to PyGithub's
`Auth.Token` and kept nowhere else.
"""

from __future__ import annotations

import datetime as dt
import json
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import requests
from github import Auth, Github, GithubException
from tenacity import (
    RetryCallState,
    Retrying,
    retry_if_exception,
    retry_if_exception_type,
    stop_after_attempt,
)

from pipelines.sources.github import queries
from pipelines.sources.github.errors import (
    GithubNotFound,
    GithubSyncError,
    RateLimitWaitTooLong,
    describe,
    redact,
)
from pipelines.sources.github.retry import BoundedRetry, RequestStats, rate_limit_wait

USER_AGENT = "dora-pipeline"


def utc_now() -> dt.datetime:
    """The current time, aware, in UTC."""
    return dt.datetime.now(dt.UTC)


@dataclass(frozen=True)
class ClientSettings:
    """How patient the client is. Tests shrink the waits; production keeps GitHub's advice."""

    max_wait: float = 900.0  # the longest single wait for a rate limit (config's max wait)
    retries: int = 6  # attempts after the first, per request
    backoff_factor: float = 1.0  # 5xx / dropped connection: 0, 2, 4, 8 ... seconds
    backoff_max: float = 120.0
    secondary_wait: float = 60.0  # secondary limit without Retry-After (GitHub: at least 1 min)
    seconds_between_requests: float | None = 0.25  # PyGithub's spacing, avoids secondary limits
    timeout: int = 60
    page_size: int = 100
    sleep: Callable[[float], None] = time.sleep
    clock: Callable[[], dt.datetime] = utc_now  # wall clock: rate-limit resets are real times


@dataclass(frozen=True)
class Page:
    """One REST page: the URL it came from, its JSON body and the next page's URL, if any."""

    url: str
    data: Any
    next_url: str | None


class GithubClient:
    """PyGithub's requester for one repository's sync (see module doc)."""

    def __init__(self, base_url: str, token: str, repo: str, token_env: str,
                 settings: ClientSettings | None = None) -> None:
        self.settings = settings or ClientSettings()
        self.repo = repo
        self.base_url = base_url.rstrip("/")
        self.stats = RequestStats()
        self._token_env = token_env
        self._secret = token
        retry = BoundedRetry(
            total=self.settings.retries,
            backoff_factor=self.settings.backoff_factor,
            backoff_max=self.settings.backoff_max,
            secondary_rate_wait=self.settings.secondary_wait,
            max_wait=self.settings.max_wait,
            sleep=self.settings.sleep,
            stats=self.stats,
            clock=self.settings.clock,
        )
        self._github = Github(
            auth=Auth.Token(token),
            base_url=self.base_url,
            retry=retry,
            timeout=self.settings.timeout,
            per_page=self.settings.page_size,
            user_agent=USER_AGENT,
            seconds_between_requests=self.settings.seconds_between_requests,
            seconds_between_writes=None,
        )
        self._requester = self._github.requester

    def close(self) -> None:
        """Close the HTTP connections."""
        self._github.close()

    def rest(self, path: str,
             params: Mapping[str, Any] | None = None) -> tuple[dict[str, Any], Any]:
        """GET `path` (relative to `base_url`, or a full URL GitHub gave): (headers, JSON)."""
        return self._call(
            f"GET {_short(path)}",
            lambda: self._requester.requestJsonAndCheck("GET", path, parameters=dict(params or {})),
        )

    def rest_pages(self, path: str, params: Mapping[str, Any] | None = None,
                   start_url: str | None = None) -> Iterator[Page]:
        """Every page of a REST list, following `Link: rel="next"`; resumes at `start_url`."""
        url, query = (start_url, None) if start_url else (path, dict(params or {}))
        while url:
            headers, data = self._call(
                f"GET {_short(url)}",
                lambda u=url, q=query: self._requester.requestJsonAndCheck(
                    "GET", u, parameters=q
                ),
            )
            next_url = _next_link(headers)
            yield Page(url=_show_url(url, query), data=data, next_url=next_url)
            url, query = next_url, None

    def graphql(self, operation: str, variables: Mapping[str, Any],
                partial: bool = False) -> dict[str, Any]:
        """Run a query from `queries/`; returns its `data`.

        With `partial`, NOT_FOUND errors on some paths (a deleted node in `nodes(ids:)`) are
        tolerated and their nodes come back as null; any other error fails.
        """
        text = queries.load(operation)
        what = f"GraphQL {operation}"
        # HTTP 200 + RATE_LIMITED is invisible to urllib3: wait here, bounded.
        retrying = self._retrying(
            retry_if_exception(lambda e: isinstance(e, _GraphqlRateLimited)
                               and self._limit_wait(e) <= self.settings.max_wait),
            lambda state: self._limit_wait(state.outcome.exception()),
        )
        try:
            _headers, body = retrying(
                self._call, what, lambda: self._requester.graphql_query(text, dict(variables)),
                graphql_errors=partial)
        except _GraphqlRateLimited as limited:
            if self._limit_wait(limited) > self.settings.max_wait:
                raise self._error(RateLimitWaitTooLong(self._limit_wait(limited)), what) from None
            raise GithubSyncError(
                f"{self.repo}: GitHub still answered RATE_LIMITED to {what} after "
                f"{self.settings.retries} waits; run again later to resume") from None
        return body.get("data") or {}

    def rate_limit_remaining(self) -> dict[str, int] | None:
        """The budget left per resource as last reported, or None when the server reports none."""
        return dict(self.stats.remaining) if self.stats.saw_rate_limit else None

    def _call(self, what: str, send: Callable[[], tuple[dict[str, Any], Any]],
              graphql_errors: bool = False) -> tuple[dict[str, Any], Any]:
        # A connection dropped mid-body (or a body cut short by a proxy) surfaces after urllib3
        # handed the response over, where its retries cannot see it: retry here with the same
        # exponential backoff, bounded.
        dropped = (requests.exceptions.ChunkedEncodingError, json.JSONDecodeError)
        retrying = self._retrying(
            retry_if_exception_type(dropped),
            lambda state: min(self.settings.backoff_factor * 2 ** (state.attempt_number - 1),
                              self.settings.backoff_max, self.settings.max_wait),
        )
        try:
            headers, data = retrying(self._counted_send, what, send, graphql_errors)
        except dropped as exc:
            raise self._error(exc, what) from None
        self.stats.record_headers(headers)
        return headers, data

    def _retrying(self, retry: Any, wait: Callable[[RetryCallState], float]) -> Retrying:
        """Up to `settings.retries` retries; every wait counted in `stats`, slept by `settings`."""
        return Retrying(retry=retry, wait=wait, stop=stop_after_attempt(self.settings.retries + 1),
                        sleep=self._counted_sleep, reraise=True)

    def _counted_sleep(self, seconds: float) -> None:
        self.stats.retries += 1
        self.stats.waited_seconds += seconds
        self.settings.sleep(seconds)

    def _limit_wait(self, limited: BaseException | None) -> float:
        """How long GitHub asks us to wait after a GraphQL RATE_LIMITED (worked out once)."""
        assert isinstance(limited, _GraphqlRateLimited)
        if limited.wait is None:
            limited.wait = rate_limit_wait(limited.headers, self.settings.clock(),
                                           self.settings.secondary_wait)
        return limited.wait

    def _counted_send(self, what: str, send: Callable[[], tuple[dict[str, Any], Any]],
                      graphql_errors: bool) -> tuple[dict[str, Any], Any]:
        self.stats.requests += 1
        return self._send(what, send, graphql_errors)

    def _send(self, what: str, send: Callable[[], tuple[dict[str, Any], Any]],
              graphql_errors: bool) -> tuple[dict[str, Any], Any]:
        try:
            return send()
        except GithubException as exc:
            if _has_error_type(exc.data, "RATE_LIMITED"):
                self.stats.record_headers(exc.headers or {})
                raise _GraphqlRateLimited(exc.headers or {}) from None
            if graphql_errors and _only_not_found(exc.data):
                self.stats.record_headers(exc.headers or {})
                return dict(exc.headers or {}), exc.data
            raise self._error(exc, what) from None
        except (requests.exceptions.ChunkedEncodingError, json.JSONDecodeError):
            raise
        except (requests.exceptions.RequestException, ValueError) as exc:
            raise self._error(exc, what) from None

    def _error(self, exc: BaseException, what: str) -> GithubSyncError:
        text = redact(describe(exc, self.repo, what, self.base_url, self._token_env,
                               self.settings.max_wait), self._secret)
        status = getattr(exc, "status", None)
        return GithubNotFound(text) if status == 404 else GithubSyncError(text)


class _GraphqlRateLimited(Exception):
    def __init__(self, headers: Mapping[str, Any]) -> None:
        super().__init__("RATE_LIMITED")
        self.headers = headers
        self.wait: float | None = None


def _has_error_type(data: Any, kind: str) -> bool:
    errors = data.get("errors") if isinstance(data, dict) else None
    return isinstance(errors, list) and any(
        isinstance(e, dict) and e.get("type") == kind for e in errors
    )


def _only_not_found(data: Any) -> bool:
    errors = data.get("errors") if isinstance(data, dict) else None
    return (
        isinstance(errors, list) and bool(errors) and isinstance(data.get("data"), dict)
        and all(isinstance(e, dict) and e.get("type") == "NOT_FOUND" for e in errors)
    )


def _next_link(headers: Mapping[str, Any]) -> str | None:
    link = {k.lower(): v for k, v in headers.items()}.get("link")
    if not link:
        return None
    for entry in requests.utils.parse_header_links(link):
        if entry.get("rel") == "next":
            return entry.get("url")
    return None


def _short(url: str) -> str:
    """An API path for messages: without scheme and host."""
    if "://" in url:
        url = "/" + url.split("://", 1)[1].split("/", 1)[-1]
    return url


def _show_url(url: str, query: Mapping[str, Any] | None) -> str:
    if not query:
        return _short(url)
    pairs = "&".join(f"{k}={v}" for k, v in sorted(query.items()))
    return f"{_short(url)}?{pairs}"
