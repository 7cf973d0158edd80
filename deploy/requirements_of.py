"""Print the dependencies pyproject.toml declares, one per line, with those of the given extras.

    python deploy/requirements_of.py postgres k8s s3 gcs > requirements.txt

The image (deploy/Dockerfile) installs them in a layer of their own, before the code is copied,
so a code change does not reinstall every dependency. Building the project itself for that (as
`pip install '.[extras]'` does) would need every package folder of the tree. An extra that
names this project's own extras (`dora-pipeline[postgres,k8s]`) contributes theirs.
"""

from __future__ import annotations

import re
import sys
import tomllib
from pathlib import Path


def requirements(pyproject: dict, extras: list[str]) -> list[str]:
    """The project's dependencies and those of `extras`, in order, without repeats."""
    project = pyproject["project"]
    optional = project.get("optional-dependencies", {})
    own = re.compile(rf"^{re.escape(project['name'])}\[(?P<extras>[^\]]*)\]$")
    out: list[str] = []
    todo, seen = list(extras), set()

    def add(requirement: str) -> None:
        found = own.match(requirement.replace(" ", ""))
        if found:
            todo.extend(e.strip() for e in found.group("extras").split(","))
        elif requirement not in out:
            out.append(requirement)

    for requirement in project.get("dependencies", []):
        add(requirement)
    while todo:
        extra = todo.pop(0)
        if extra in seen:
            continue
        if extra not in optional:
            raise SystemExit(f"pyproject.toml has no extra {extra!r}: {', '.join(optional)}")
        seen.add(extra)
        for requirement in optional[extra]:
            add(requirement)
    return out


def main() -> None:
    path = Path(__file__).resolve().parent / "pyproject.toml"
    if not path.exists():  # run from the checkout rather than the image's build folder
        path = Path(__file__).resolve().parent.parent / "pyproject.toml"
    pyproject = tomllib.loads(path.read_text(encoding="utf-8"))
    print("\n".join(requirements(pyproject, sys.argv[1:])))


if __name__ == "__main__":
    main()
