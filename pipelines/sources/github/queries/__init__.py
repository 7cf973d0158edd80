"""The GraphQL queries the GitHub source sends, one `.graphql` file per operation.

Fragments live in `fragments.graphql`; `load(name)` appends exactly the fragments a query uses
(transitively), because GitHub rejects a document with an unused fragment.
"""

from __future__ import annotations

import re
from functools import cache
from importlib import resources

HERE = resources.files(__name__)
_SPREAD = re.compile(r"\.\.\.\s*([A-Za-z_]\w*)")
_FRAGMENT = re.compile(r"^fragment\s+(\w+)\s+on\s+\w+\s*\{", re.MULTILINE)

OPERATIONS = ("Overview", "PullRequests", "PullRequestMore", "Deployments", "Releases",
              "Incidents", "Revisit")


@cache
def _fragments() -> dict[str, str]:
    text = HERE.joinpath("fragments.graphql").read_text(encoding="utf-8")
    starts = [(m.group(1), m.start()) for m in _FRAGMENT.finditer(text)]
    ends = [s for _, s in starts[1:]] + [len(text)]
    return {name: text[start:end].strip() for (name, start), end in zip(starts, ends, strict=True)}


@cache
def load(operation: str) -> str:
    """The full document for `operation`: the query and the fragments it needs."""
    if operation not in OPERATIONS:
        raise KeyError(f"no GraphQL operation {operation!r}")
    query = HERE.joinpath(f"{operation}.graphql").read_text(encoding="utf-8").strip()
    fragments = _fragments()
    needed: list[str] = []
    pending = [n for n in _SPREAD.findall(query) if n in fragments]
    while pending:
        name = pending.pop(0)
        if name in needed:
            continue
        needed.append(name)
        pending.extend(n for n in _SPREAD.findall(fragments[name]) if n in fragments)
    return "\n\n".join([query, *(fragments[n] for n in needed)]) + "\n"
