"""Errors of the GitHub source: one clear sentence naming the repository, never the token.

PyGithub and requests exceptions carry response bodies, headers and URLs; they are turned into a
`GithubSyncError` whose text is built only from safe parts (status, GitHub's own `message`, the
API path), then scrubbed of the token as a last line of defence. The original exception is not
chained (`from None`), so a traceback cannot leak what it held either.
"""

from __future__ import annotations

from typing import Any

import requests
from github import GithubException
from github.GithubException import (
    BadCredentialsException,
    RateLimitExceededExceedsMaxWait,
    UnknownObjectException,
)

REDACTED = "[token removed]"


class GithubSyncError(RuntimeError):
    """A sync of one repository stopped; the message says which, why, and what to do.

    `partial` carries what the sync had done before it stopped (requests used, records landed).
    """

    partial: object | None = None


class GithubNotFound(GithubSyncError):
    """GitHub answered 404: the repository, or an object a cursor pointed at, is gone."""


class RateLimitWaitTooLong(GithubException):
    """A rate limit asks for a longer wait than `max_rate_limit_wait_seconds` allows."""

    def __init__(self, wait: float, status: int = 403) -> None:
        super().__init__(status, None, None, f"rate limit wait of {wait:.0f} s")
        self.wait = wait


def redact(text: str, secret: str | None) -> str:
    """`text` with every occurrence of `secret` replaced (no-op for an empty secret)."""
    if secret:
        text = text.replace(secret, REDACTED)
    return text


def describe(exc: BaseException, repo: str, what: str, base_url: str, token_env: str,
             max_wait: float) -> str:
    """A one-sentence explanation of `exc`, raised while requesting `what` for `repo`."""
    if isinstance(exc, RateLimitWaitTooLong | RateLimitExceededExceedsMaxWait):
        wait = getattr(exc, "wait", None) or 0.0
        return (
            f"{repo}: GitHub's rate limit asks to wait {wait:.0f} s before {what}, more than "
            f"max_rate_limit_wait_seconds={max_wait:g}; everything synced so far is kept, run "
            "again after the reset to resume"
        )
    if isinstance(exc, BadCredentialsException) or _status(exc) == 401:
        return (
            f"{repo}: GitHub at {base_url} rejected the token in ${token_env} (401 Bad "
            "credentials); set the variable to a valid token that can read this repository"
        )
    if isinstance(exc, UnknownObjectException) or _status(exc) == 404:
        return (
            f"{repo}: repository not found at {base_url} (404 on {what}); check the name in "
            f"`repos`, and that the token in ${token_env} can see it"
        )
    if isinstance(exc, requests.exceptions.RetryError):
        return (
            f"{repo}: GitHub kept failing on {what} ({_reason(exc)}) after every retry; "
            "nothing of this step was stored, run again to resume"
        )
    if isinstance(exc, requests.exceptions.RequestException):
        return (
            f"{repo}: cannot reach {base_url} for {what} ({type(exc).__name__}) after every "
            "retry; run again to resume"
        )
    if isinstance(exc, GithubException):
        message = _message(exc.data)
        if exc.status == 403:
            return (
                f"{repo}: GitHub refused {what} (403{': ' + message if message else ''}); "
                f"the token in ${token_env} may lack a scope or this repository's access"
            )
        return f"{repo}: GitHub answered {exc.status} to {what}" + (
            f": {message}" if message else ""
        )
    return f"{repo}: {what} failed ({type(exc).__name__})"


def _status(exc: BaseException) -> int | None:
    return exc.status if isinstance(exc, GithubException) else None


def _message(data: Any) -> str:
    """GitHub's own explanation from an error body (REST `message` or GraphQL `errors`)."""
    if isinstance(data, dict):
        if isinstance(data.get("message"), str):
            return data["message"][:300]
        errors = data.get("errors")
        if isinstance(errors, list) and errors:
            parts = [
                f"{e.get('type') or 'error'}: {e.get('message', '')}"
                for e in errors[:3] if isinstance(e, dict)
            ]
            return "; ".join(parts)[:300]
    return ""


def _reason(exc: requests.exceptions.RetryError) -> str:
    # The urllib3 reason reads like "too many 502 error responses"; it holds no headers.
    reason = getattr(exc.args[0], "reason", None) if exc.args else None
    return str(reason) if reason is not None else "repeated errors"
