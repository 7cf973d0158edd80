"""Retries and waits: PyGithub's `GithubRetry` (urllib3) for HTTP, bounded and counted.

`GithubRetry` already retries 5xx, dropped connections, 403 secondary limits (with `Retry-After` or
the secondary-limit message) and 403 primary limits (until `X-RateLimit-Reset`). `BoundedRetry`
adds what it lacks for this pipeline:

- 429 without `Retry-After` (a primary limit GitHub may also answer with 429) waits for the reset;
- every wait goes through an injectable `sleep` (tests record waits instead of sleeping) and is
  bounded by `max_wait`: a rate-limit wait above it raises `RateLimitWaitTooLong` at once, a plain
  exponential backoff is capped at it;
- every retried attempt is counted in `RequestStats`, so "requests used" includes retries.

GraphQL `RATE_LIMITED` errors arrive with HTTP 200, where urllib3 cannot see them; the client
handles those with `rate_limit_wait` below (see client.py).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from github import GithubRetry

from pipelines.sources.github.errors import RateLimitWaitTooLong

RESOURCE_HEADER = "x-ratelimit-resource"


@dataclass
class RequestStats:
    """What a client spent: requests (retries included), waits, and the rate limit left."""

    requests: int = 0
    retries: int = 0
    waited_seconds: float = 0.0
    remaining: dict[str, int] = field(default_factory=dict)
    saw_rate_limit: bool = False

    def record_headers(self, headers: Mapping[str, Any]) -> None:
        """Keep the remaining budget per resource (`core`, `graphql`) from response headers."""
        lower = {k.lower(): v for k, v in headers.items()}
        remaining = lower.get("x-ratelimit-remaining")
        if remaining is None:
            return
        self.saw_rate_limit = True
        resource = str(lower.get(RESOURCE_HEADER) or "core")
        try:
            self.remaining[resource] = int(float(remaining))
        except ValueError:
            pass


def rate_limit_wait(headers: Mapping[str, Any], now: dt.datetime, secondary_wait: float) -> float:
    """Seconds to wait before retrying a rate-limited request, from its response headers.

    `Retry-After` wins; else, when the budget is spent (`X-RateLimit-Remaining: 0`), the time to
    `X-RateLimit-Reset` plus one second (GitHub's reset second is not precise); else it is a
    secondary limit without advice, and GitHub asks for at least a minute (`secondary_wait`).
    """
    lower = {k.lower(): v for k, v in headers.items()}
    retry_after = lower.get("retry-after")
    if retry_after is not None and str(retry_after).strip().isdigit():
        return float(str(retry_after).strip())
    reset = lower.get("x-ratelimit-reset")
    if str(lower.get("x-ratelimit-remaining", "")).strip() == "0" and reset is not None:
        try:
            return max(float(reset) - now.timestamp(), 0.0) + 1.0
        except ValueError:
            pass
    return secondary_wait


class BoundedRetry(GithubRetry):
    """`GithubRetry` with bounded, injectable, counted waits and 429 handling (module doc)."""

    def __init__(
        self,
        *,
        max_wait: float,
        sleep: Callable[[float], None],
        stats: RequestStats,
        clock: Callable[[], dt.datetime],
        **kwargs: Any,
    ) -> None:
        self.max_wait = max_wait
        self.stats = stats
        self._sleep = sleep
        self._clock = clock
        # `new()` hands GithubRetry's own keyword back to us; the cap is ours to set.
        kwargs.pop("max_rate_limit_wait", None)
        kwargs.setdefault("status_forcelist", [*range(500, 600), 429])
        super().__init__(max_rate_limit_wait=max_wait, **kwargs)

    def new(self, **kw: Any) -> BoundedRetry:
        kw.update(max_wait=self.max_wait, sleep=self._sleep, stats=self.stats, clock=self._clock)
        return super().new(**kw)

    def increment(self, method=None, url=None, response=None, error=None, _pool=None,  # type: ignore[override]  # noqa: E501
                  _stacktrace=None):
        retry = super().increment(method, url, response, error, _pool, _stacktrace)
        if response is not None and response.status == 429 and not response.headers.get(
            "Retry-After"
        ):
            wait = rate_limit_wait(response.headers, self._clock(), self.secondary_rate_wait)
            if wait > self.max_wait:
                raise RateLimitWaitTooLong(wait, status=429)
            retry.get_backoff_time = lambda: wait  # type: ignore[method-assign]
        # Reaching here means urllib3 will send the request again: count that attempt.
        self.stats.requests += 1
        self.stats.retries += 1
        return retry

    def sleep(self, response=None) -> None:  # type: ignore[override]
        wait = self.get_retry_after(response) if response is not None else None
        if wait:
            # The server named the wait (Retry-After): honour it, or stop if it is too long.
            if wait > self.max_wait:
                raise RateLimitWaitTooLong(wait, status=getattr(response, "status", 403))
        else:
            wait = min(self.get_backoff_time(), self.max_wait)
        if wait > 0:
            self.stats.waited_seconds += wait
            self._sleep(wait)
