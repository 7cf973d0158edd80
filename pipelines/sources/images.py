"""Which image tag a YAML file of a GitOps config repo sets, and for which service.

Three shapes carry an image tag (docs/config.md, GitOps): a manifest's `image: NAME:TAG`, a
kustomization `images:` entry with `newTag`, and Helm values with `repository` (and optionally
`registry`) plus `tag`. YAML is loaded with the base loader, where every scalar stays text: a Helm
`tag: 1.10` must not become the number 1.1.
"""

from __future__ import annotations

from dataclasses import dataclass

import yaml

from pipelines.config import Service

_Loader = getattr(yaml, "CBaseLoader", yaml.BaseLoader)

# When files of one environment disagree, the most specific setting wins: a kustomization's
# `images:` override is what gets applied, over Helm values, over a plain manifest's `image:`.
KUSTOMIZE, HELM, MANIFEST = 0, 1, 2
MAX_FILE_BYTES = 5_000_000


@dataclass(frozen=True)
class ImageRef:
    """An image tag found in a file; `name` None means "the service the file's path names"."""

    name: str | None
    tag: str
    rank: int


class BadYaml(ValueError):
    """A file that is not valid YAML; `line` is 1-based when the parser knows it."""

    def __init__(self, reason: str, line: int | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.line = line


def split_image(ref: str) -> tuple[str, str | None]:
    """`registry:5000/org/app:1.2@sha256:…` → (`registry:5000/org/app`, `1.2`)."""
    ref = ref.strip().split("@", 1)[0]
    colon = ref.rfind(":")
    if colon > ref.rfind("/"):
        return ref[:colon], ref[colon + 1:] or None
    return ref, None


def normalise(name: str) -> str:
    """Docker Hub names have several spellings: `nginx` = `docker.io/library/nginx`."""
    for prefix in ("index.docker.io/", "docker.io/", "library/"):
        name = name.removeprefix(prefix)
    return name


def parse_images(text: bytes) -> list[ImageRef]:
    """Every image tag the YAML documents of a file set; `BadYaml` when it cannot be read.

    Go-templated files (Helm `templates/`) are not data and carry no tags of their own: they give
    no images rather than an error.
    """
    if len(text) > MAX_FILE_BYTES:
        raise BadYaml(f"file is larger than {MAX_FILE_BYTES} bytes")
    try:
        decoded = text.decode("utf-8")
    except UnicodeDecodeError:
        raise BadYaml("file is not UTF-8") from None
    if "{{" in decoded:
        return []
    try:
        documents = list(yaml.load_all(decoded, Loader=_Loader))  # noqa: S506 - base loader
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise BadYaml(f"not valid YAML: {problem}", mark.line + 1 if mark else None) from None
    refs: list[ImageRef] = []
    seen: set[int] = set()
    for document in documents:
        _walk(document, None, refs, seen)
    return refs


def _walk(node: object, key: str | None, refs: list[ImageRef], seen: set[int]) -> None:
    # YAML aliases share one object: walking each once keeps "billion laughs" files cheap.
    if not isinstance(node, dict | list) or id(node) in seen:
        return
    seen.add(id(node))
    if isinstance(node, list):
        for item in node:
            _walk(item, key, refs, seen)
        return
    images = node.get("images")
    if isinstance(images, list):
        for entry in images:
            if isinstance(entry, dict) and isinstance(entry.get("newTag"), str):
                for name in (entry.get("name"), entry.get("newName")):
                    if isinstance(name, str):
                        refs.append(ImageRef(name, entry["newTag"], KUSTOMIZE))
    tag, repository = node.get("tag"), node.get("repository")
    if isinstance(tag, str) and tag:
        if isinstance(repository, str):
            registry = node.get("registry")
            name = f"{registry}/{repository}" if isinstance(registry, str) else repository
            refs.append(ImageRef(name, tag, HELM))
        elif key == "image" and repository is None:
            refs.append(ImageRef(None, tag, HELM))
    for child_key, value in node.items():
        if child_key == "image" and isinstance(value, str):
            name, image_tag = split_image(value)
            if image_tag:
                refs.append(ImageRef(name, image_tag, MANIFEST))
        elif isinstance(value, dict | list):
            _walk(value, child_key if isinstance(child_key, str) else None, refs, seen)


class ServiceImages:
    """Which configured services an image reference belongs to (dictionary lookups, so a large
    config repo with many services stays linear in its files).

    A service is recognised by its `image`; one without `image` by its name as the image's last
    path segment. With `{service}` in the files pattern, a file only speaks for the service its
    path names, and a Helm `image: {tag: …}` without `repository` belongs to that service.
    """

    def __init__(self, services: list[Service]) -> None:
        self.names = {s.name for s in services}
        self.by_image: dict[str, list[str]] = {}
        self.by_segment: dict[str, list[str]] = {}
        for service in services:
            if service.image:
                self.by_image.setdefault(normalise(service.image), []).append(service.name)
            else:
                self.by_segment.setdefault(service.name, []).append(service.name)

    def services(self, ref: ImageRef, path_service: str | None) -> list[str]:
        if ref.name is None:
            return [path_service] if path_service in self.names else []
        found = (self.by_image.get(normalise(ref.name), [])
                 + self.by_segment.get(ref.name.rsplit("/", 1)[-1], []))
        return [s for s in found if path_service is None or s == path_service]


def pick_tags(files: dict[str, tuple[str | None, list[ImageRef]]],
              index: ServiceImages) -> dict[str, tuple[str, str]]:
    """service → (tag, file) over the files of one environment (path → (path service, refs)).

    The highest-precedence setting wins; between files of equal precedence, the first path.
    """
    best: dict[str, tuple[int, str, str]] = {}
    for path in sorted(files):
        path_service, refs = files[path]
        for ref in refs:
            for service in index.services(ref, path_service):
                current = best.get(service)
                if current is None or ref.rank < current[0]:
                    best[service] = (ref.rank, ref.tag, path)
    return {name: (tag, path) for name, (_, tag, path) in best.items()}
