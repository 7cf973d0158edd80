"""Build real git repositories in a temp folder, with fixed author/committer times and offsets.

Tests describe history the way it happened (who committed when, in which timezone) and get real
commit SHAs back, so expected values can be worked out by hand from the dates written in the test.
Every git call runs with an isolated config (no user or system settings leak in).

    repo = GitRepo.init(tmp_path / "app")
    a = repo.commit("add api", {"api.py": "v1"}, at="2026-01-05T09:00:00+01:00")
    repo.tag("v1.0.0", message="release 1.0.0", at="2026-01-05T10:00:00+00:00")
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

_ISOLATED = {
    "GIT_CONFIG_NOSYSTEM": "1",
    "GIT_CONFIG_GLOBAL": os.devnull,
    "GIT_TERMINAL_PROMPT": "0",
}


class GitRepo:
    """A working repository whose commits, merges and tags carry the dates the test chooses."""

    def __init__(self, path: Path, author: str = "Ada Lovelace <ada@example.com>") -> None:
        self.path = path
        self.author = author

    @classmethod
    def init(cls, path: Path, branch: str = "main", **kwargs: str) -> GitRepo:
        path.mkdir(parents=True, exist_ok=True)
        repo = cls(path, **kwargs)
        repo.git("init", "-q", "-b", branch)
        return repo

    def git(self, *args: str, at: str | None = None, committed: str | None = None,
            author: str | None = None) -> str:
        """Run git in the repo; `at` is the author time, `committed` the committer time
        (default: `at`). Both are ISO 8601 with an offset, and the offset is kept in the commit."""
        name, email = (author or self.author).rsplit(" <", 1)
        env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")} | _ISOLATED | {
            "GIT_AUTHOR_NAME": name, "GIT_AUTHOR_EMAIL": email.rstrip(">"),
            "GIT_COMMITTER_NAME": "CI", "GIT_COMMITTER_EMAIL": "ci@example.com",
        }
        if at is not None:
            env["GIT_AUTHOR_DATE"] = at
            env["GIT_COMMITTER_DATE"] = committed or at
        out = subprocess.run(["git", "-C", str(self.path), *args], env=env, check=True,
                             capture_output=True, text=True)
        return out.stdout.strip()

    def write(self, files: dict[str, str | None]) -> None:
        """Write (or, for None, delete) files relative to the repo and stage them."""
        for rel, text in files.items():
            target = self.path / rel
            if text is None:
                self.git("rm", "-q", "--", rel)
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text, encoding="utf-8")
            self.git("add", "--", rel)

    def commit(self, message: str, files: dict[str, str | None], at: str,
               committed: str | None = None, author: str | None = None) -> str:
        """Commit `files` on the current branch; returns the new commit's SHA."""
        self.write(files)
        self.git("commit", "-q", "--allow-empty", "-m", message, at=at, committed=committed,
                 author=author)
        return self.head()

    def head(self, ref: str = "HEAD") -> str:
        return self.git("rev-parse", f"{ref}^{{commit}}")

    def branch(self, name: str, start: str = "HEAD") -> None:
        """Create branch `name` at `start` and switch to it."""
        self.git("checkout", "-q", "-b", name, start)

    def checkout(self, name: str) -> None:
        self.git("checkout", "-q", name)

    def merge(self, branch: str, message: str, at: str) -> str:
        """A merge commit (`--no-ff`), as a merged pull request leaves on the main branch."""
        self.git("merge", "-q", "--no-ff", "-m", message, branch, at=at)
        return self.head()

    def squash(self, branch: str, message: str, at: str, author: str | None = None) -> str:
        """A squash merge: one new single-parent commit with the branch's changes."""
        self.git("merge", "-q", "--squash", branch, at=at)
        self.git("commit", "-q", "-m", message, at=at, author=author)
        return self.head()

    def revert(self, sha: str, at: str) -> str:
        """`git revert` of `sha`: a new commit that undoes it."""
        self.git("revert", "--no-edit", sha, at=at)
        return self.head()

    def tag(self, name: str, ref: str = "HEAD", message: str | None = None,
            at: str | None = None) -> None:
        """A lightweight tag, or an annotated one (with `message`) dated `at`."""
        if message is None:
            self.git("tag", name, ref)
        else:
            self.git("tag", "-a", name, "-m", message, ref, at=at)
