"""A fake GitHub API for tests and the benchmark: real HTTP on 127.0.0.1, GitHub's payload shapes,
its GraphQL schema, `Link` pagination, rate-limit headers, injectable faults and a request log.

    from fake_github import FakeGithub, Fault, build_repo, FakeRepo
"""

from fake_github.generate import build_repo
from fake_github.model import FakeRepo
from fake_github.server import FakeGithub, Fault

__all__ = ["FakeGithub", "FakeRepo", "Fault", "build_repo"]
