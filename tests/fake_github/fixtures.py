"""pytest fixtures around `FakeGithub`; a test module enables them with
`pytest_plugins = ["fake_github.fixtures"]`.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from fake_github.helpers import TOKEN_ENV
from fake_github.server import FakeGithub


@pytest.fixture(scope="session")
def _running_fake_github() -> Iterator[FakeGithub]:
    # One server for the session: stopping one takes half a second.
    with FakeGithub() as server:
        yield server


@pytest.fixture
def fake_github(_running_fake_github: FakeGithub,
                monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeGithub]:
    """A started fake GitHub, empty; its token is in $DORA_TEST_GITHUB_TOKEN."""
    server = _running_fake_github
    server.reset()
    monkeypatch.setenv(TOKEN_ENV, server.token)
    yield server
    server.reset()


@pytest.fixture
def waits() -> list[float]:
    """The waits the client asked for, in order (nothing actually sleeps)."""
    return []
