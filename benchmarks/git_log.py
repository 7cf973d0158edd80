"""Time the `git` source reading a generated repository of 100,000 commits.

    .venv/bin/python benchmarks/git_log.py [--commits 100000] [--repo PATH] [--files]

The repository is built in seconds with `git fast-import` (one file changed per commit, and
every 20th change arriving through a merge of a side branch, so parents are not all single).
It is kept at --repo when given (and reused on the next run). Prints the seconds the read takes.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from pipelines.sources.git import GitRepo, read_commits  # noqa: E402

START = 1_700_000_000  # 2023-11-14, one commit every 10 minutes from there


def _commit(ref: str, mark: int, at: int, message: str, path: str,
            parents: list[int]) -> bytes:
    text = message.encode()
    content = f"change {mark}\n".encode()
    lines = [f"commit {ref}".encode(), f"mark :{mark}".encode()]
    lines.append(f"author Dev {mark % 50} <dev{mark % 50}@example.com> {at} +0100".encode())
    lines.append(f"committer CI <ci@example.com> {at + 60} -0500".encode())
    lines.append(f"data {len(text)}".encode() + b"\n" + text)
    if parents:
        lines.append(f"from :{parents[0]}".encode())
        lines += [f"merge :{p}".encode() for p in parents[1:]]
    lines.append(f"M 100644 inline {path}\ndata {len(content)}".encode() + b"\n" + content)
    return b"\n".join(lines) + b"\n\n"


def build(path: Path, commits: int) -> None:
    """A repository of exactly `commits` commits on `main` (side-branch commits included)."""
    path.mkdir(parents=True, exist_ok=True)
    subprocess.run(["git", "init", "-q", "-b", "main", str(path)], check=True)
    chunks: list[bytes] = []
    mark, main = 0, 0
    while mark < commits:
        mark += 1
        at = START + mark * 600
        if mark % 20 == 0 and main and mark + 1 <= commits:
            side = mark
            chunks.append(_commit("refs/heads/side", side, at, f"side {side}",
                                  f"side/f{side % 10}.py", [main]))
            mark += 1
            chunks.append(_commit("refs/heads/main", mark, at + 30, f"Merge side {side}",
                                  f"src/m{mark % 20}.py", [main, side]))
        else:
            chunks.append(_commit("refs/heads/main", mark, at, f"commit {mark}",
                                  f"src/m{mark % 20}.py", [main] if main else []))
        main = mark
    subprocess.run(["git", "-C", str(path), "fast-import", "--quiet"], input=b"".join(chunks),
                   check=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--commits", type=int, default=100_000)
    parser.add_argument("--repo", type=Path, help="where to keep the generated repository")
    parser.add_argument("--files", action="store_true", help="also read changed paths")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        path = args.repo or Path(scratch) / "big"
        if not (path / ".git").exists():
            began = time.perf_counter()
            build(path, args.commits)
            print(f"built {args.commits} commits in {time.perf_counter() - began:.2f} s",
                  file=sys.stderr)
        repo = GitRepo(path)
        began = time.perf_counter()
        frame = read_commits(repo, "bench/big", [repo.head_of(None) or ""], "bench", args.files)
        seconds = time.perf_counter() - began
        merges = int((frame["parents"].list.len() > 1).sum())
        print(f"read {frame.height} commits ({merges} merges{', with files' if args.files else ''})"
              f" in {seconds:.2f} s on {os.cpu_count()} CPUs")


if __name__ == "__main__":
    main()
