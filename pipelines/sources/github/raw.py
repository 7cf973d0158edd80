"""The raw API payloads, kept so normalisation can be rerun without a single request.

Layout: ``<landing>/github_raw/<repo>/<folder>/<sequence>-<hash>.jsonl.gz``. A file is one API
page: a header line ``{"kind", "path", "fetched_at", "count"}`` then one item per line. The
sequence (UTC nanoseconds) orders pages by fetch time; the hash (of the items) means fetching the
same page twice after an interrupted run stores it once.
"""

from __future__ import annotations

import datetime as dt
import gzip
import hashlib
import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pipelines.landing import safe_segment

FOLDER = "github_raw"


@dataclass(frozen=True)
class RawPage:
    """One stored API page."""

    kind: str  # what the items are: commit, pull_request, deployment, release, issue, ...
    path: str  # the API path (or GraphQL operation and cursor) it came from
    fetched_at: str
    items: list[dict[str, Any]]
    file: Path


class RawStore:
    """The raw pages of one repository."""

    def __init__(self, landing_root: Path, repo: str) -> None:
        self.root = landing_root / FOLDER / safe_segment(repo)

    def write(self, folder: str, kind: str, path: str, items: list[dict[str, Any]]) -> Path | None:
        """Store a page; returns its file, or None when it is empty or already stored."""
        if not items:
            return None
        body = "\n".join(json.dumps(item, sort_keys=True, ensure_ascii=False) for item in items)
        digest = hashlib.sha256(f"{kind}\n{body}".encode()).hexdigest()[:20]
        target = self.root / safe_segment(folder)
        target.mkdir(parents=True, exist_ok=True)
        if any(target.glob(f"*-{digest}.jsonl.gz")):
            return None
        header = {"kind": kind, "path": path, "count": len(items),
                  "fetched_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds")}
        final = target / f"{time.time_ns():020d}-{digest}.jsonl.gz"
        partial = final.with_suffix(".partial")
        # mtime=0 keeps the gzip bytes a function of the content alone.
        with gzip.GzipFile(partial, "wb", mtime=0) as handle:
            handle.write((json.dumps(header) + "\n" + body + "\n").encode("utf-8"))
        partial.rename(final)
        return final

    def pages(self) -> Iterator[RawPage]:
        """Every stored page of the repository, in fetch order."""
        if not self.root.is_dir():
            return
        files = sorted(self.root.glob("*/*.jsonl.gz"), key=lambda p: (p.name, str(p)))
        for file in files:
            with gzip.open(file, "rt", encoding="utf-8") as handle:
                header = json.loads(handle.readline())
                items = [json.loads(line) for line in handle if line.strip()]
            yield RawPage(kind=header["kind"], path=header["path"],
                          fetched_at=header["fetched_at"], items=items, file=file)
