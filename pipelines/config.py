"""The config file of docs/config.md, validated with pydantic.

A wrong file raises `ConfigError` with one message per problem naming the key path and the line,
never a pydantic traceback. Relative paths are resolved against the config file's folder.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import re
import threading
from collections import OrderedDict
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from pipelines import collector

UNASSIGNED = "unassigned"
TEAM_NAME = r"^[^\x00-\x1f]{1,200}$"


class ConfigError(ValueError):
    """A config file that cannot be used; the message names the key and line."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class OwnedService(_Strict):
    """A team's claim on a service, optionally in time (`from` inclusive, `until` exclusive)."""

    name: str = Field(min_length=1)
    from_: dt.date | None = Field(default=None, alias="from")
    until: dt.date | None = None

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    @model_validator(mode="after")
    def _ordered(self) -> OwnedService:
        if self.from_ and self.until and self.until <= self.from_:
            raise ValueError(f"`until` ({self.until}) must be after `from` ({self.from_})")
        return self


class Member(OwnedService):
    """A person (their PR author login) in a team, optionally in time (for the people view)."""


class Team(_Strict):
    """A team, the services it owns, and (optionally) its people."""

    name: str = Field(pattern=TEAM_NAME)
    services: list[OwnedService] = Field(default_factory=list)
    members: list[Member] = Field(default_factory=list)

    @field_validator("services", "members", mode="before")
    @classmethod
    def _names_as_entries(cls, value: Any) -> Any:
        # `services: [payments-api]` is shorthand for `[{name: payments-api}]`; same for members.
        if isinstance(value, list):
            return [{"name": v} if isinstance(v, str) else v for v in value]
        return value

    @field_validator("name")
    @classmethod
    def _not_reserved(cls, value: str) -> str:
        if value == UNASSIGNED:
            raise ValueError(f"`{UNASSIGNED}` is reserved for services no team owns")
        return value


class Service(_Strict):
    """A deployable service: a repo, or a set of path globs inside one."""

    name: str = Field(min_length=1)
    repo: str = Field(min_length=1)
    image: str | None = None
    paths: list[str] | None = None


class Slo(_Strict):
    """A service level objective over SLI good/total counts."""

    name: str = Field(min_length=1)
    service: str = Field(min_length=1)
    objective: float = Field(gt=0, lt=1)


class FilesSource(_Strict):
    """A folder of event files (JSON Lines or CSV)."""

    kind: Literal["files"]
    name: str | None = None
    path: Path
    timezone: str | None = None


class GithubSource(_Strict):
    """GitHub REST/GraphQL through PyGithub."""

    kind: Literal["github"]
    name: str | None = None
    repos: list[str] = Field(min_length=1)
    token_env: str = "GITHUB_TOKEN"
    base_url: str = "https://api.github.com"
    incident_labels: list[str] = Field(default_factory=lambda: ["incident"])
    deployments_from: list[Literal["deployments", "releases", "workflow_runs"]] = Field(
        default_factory=lambda: ["deployments"]
    )
    workflows: list[str] | None = None
    max_rate_limit_wait_seconds: float = Field(default=900, ge=0)
    since: dt.date | None = None


class GitSource(_Strict):
    """A local clone: commits and graph; release tags as production deployments."""

    kind: Literal["git"]
    name: str | None = None
    path: Path
    service: str | None = None
    repo: str | None = None
    branch: str | None = None
    release_tags: str | None = None
    include_prereleases: bool = False


class GitopsSource(_Strict):
    """A GitOps config repo whose image-tag changes are deployments."""

    kind: Literal["gitops"]
    name: str | None = None
    path: Path
    branch: str = "main"
    files: str = "envs/{environment}/**"
    # false: the repo only translates Argo CD / Flux revisions to app commits, so an operator
    # source can be the one deployment record without every bump counting twice.
    deployments: bool = True


class OperatorSource(_Strict):
    """Argo CD / Flux / Argo Rollouts objects saved as JSON."""

    kind: Literal["argocd", "flux", "rollouts"]
    name: str | None = None
    path: Path


class PagerDutySource(_Strict):
    """PagerDuty REST API v2 incidents, through the `pagerduty` package (docs/incidents.md)."""

    kind: Literal["pagerduty"]
    name: str | None = None
    token_env: str = Field(default="PAGERDUTY_TOKEN", min_length=1)
    base_url: str = Field(default="https://api.pagerduty.com", pattern=r"^https://")
    services: dict[str, str] = Field(min_length=1)
    urgencies: list[Literal["high", "low"]] | None = None
    since: dt.date | None = None


class JiraSource(_Strict):
    """Jira Cloud REST v3 issues as incidents (`/search/jql`, docs/incidents.md)."""

    kind: Literal["jira"]
    name: str | None = None
    base_url: str = Field(pattern=r"^https?://")
    email_env: str = Field(default="JIRA_EMAIL", min_length=1)
    token_env: str = Field(default="JIRA_TOKEN", min_length=1)
    jql: str = Field(min_length=1)
    service_field: str = Field(default="components", min_length=1)
    services: dict[str, str] = Field(default_factory=dict)
    severity_field: str | None = None


class CdeventsSource(_Strict):
    """A folder of CDEvents v0.5 JSON events, one per line (docs/incidents.md)."""

    kind: Literal["cdevents"]
    name: str | None = None
    path: Path


class PrometheusSlo(_Strict):
    """One SLO measured by Prometheus: its good and total counts per window (PromQL)."""

    slo: str = Field(min_length=1)
    good: str = Field(min_length=1)
    total: str = Field(min_length=1)


class PrometheusSource(_Strict):
    """SLI windows from a Prometheus server's `query_range` (docs/slos.md)."""

    kind: Literal["prometheus"]
    name: str | None = None
    base_url: str = Field(pattern=r"^https?://")
    window: str = Field(default="1h", pattern=r"^[1-9][0-9]*[mhd]$")
    slos: list[PrometheusSlo] = Field(default_factory=list)
    openslo: Path | None = None

    @model_validator(mode="after")
    def _some_slos(self) -> PrometheusSource:
        if not self.slos and self.openslo is None:
            raise ValueError("give `slos` or an `openslo` folder")
        return self


class CodeOwnersFile(_Strict):
    """Where a repo's CODEOWNERS file is, and how its owners map to the config's teams.

    `path` is a CODEOWNERS file, or a folder (a clone) searched as GitHub does:
    `.github/CODEOWNERS`, `CODEOWNERS`, `docs/CODEOWNERS`, the first found. Without `path`,
    the file is read from the branch of a `kind: git` source of the repo (`source` names it;
    by default the first git source whose repo is `repo`).
    """

    repo: str = Field(min_length=1)
    path: Path | None = None
    source: str | None = None
    aliases: dict[str, Annotated[str, Field(pattern=TEAM_NAME)]] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _one_place(self) -> CodeOwnersFile:
        if self.path is not None and self.source is not None:
            raise ValueError("give `path` or `source`, not both")
        return self


SourceConfig = Annotated[
    FilesSource | GithubSource | GitSource | GitopsSource | OperatorSource | PagerDutySource
    | JiraSource | CdeventsSource | PrometheusSource,
    Field(discriminator="kind"),
]


class DoraConfig(_Strict):
    """The whole config file."""

    warehouse: Path = Path("data/dora.duckdb")
    reports_dir: Path = Path("reports")
    # A local folder, or an object-store URL (`s3://bucket/prefix`, `gs://…`) read through fsspec.
    landing_dir: Path | str | None = None
    production_environments: list[str] = Field(default_factory=lambda: ["production", "prod"])
    incident_attribution_window_hours: float = Field(default=168, gt=0)
    min_sample: int = Field(default=5, ge=1)
    report_year: Literal[2021, 2023, 2024] = 2024
    trend_periods: int = Field(default=12, ge=3)
    teams: list[Team] = Field(default_factory=list)
    services: list[Service] = Field(default_factory=list)
    slos: list[Slo] = Field(default_factory=list)
    sources: list[SourceConfig] = Field(default_factory=list)
    codeowners: list[CodeOwnersFile] = Field(default_factory=list)
    config_dir: Path = Field(default=Path("."), exclude=True)

    @field_validator("landing_dir", mode="before")
    @classmethod
    def _landing_url_or_path(cls, value: Any) -> Any:
        # A URL stays a string (and its storage library must be installed); anything else is a
        # local folder, resolved against the config file's folder like every other path.
        if isinstance(value, str) and value.startswith(("file://", "local://")):
            return Path(value.split("://", 1)[1])
        if isinstance(value, str) and "://" in value:
            return _storage_url(value)
        return Path(value) if isinstance(value, str) else value

    @model_validator(mode="after")
    def _references(self) -> DoraConfig:
        known = {s.name for s in self.services}
        for team in self.teams:
            for owned in team.services:
                if owned.name not in known:
                    raise ValueError(
                        f"team `{team.name}` owns service `{owned.name}`, which is not under "
                        "`services`"
                    )
        for slo in self.slos:
            if slo.service not in known:
                raise ValueError(f"SLO `{slo.name}` names unknown service `{slo.service}`")
        _unique("teams", [t.name for t in self.teams])
        _unique("services", [s.name for s in self.services])
        _unique("slos", [s.name for s in self.slos])
        self._check_codeowners()
        return self

    def _check_codeowners(self) -> None:
        """Each `codeowners` entry names a repo of a service and a place to read the file."""
        repos = {s.repo for s in self.services}
        _unique("codeowners", [c.repo for c in self.codeowners])
        for entry in self.codeowners:
            if entry.repo not in repos:
                raise ValueError(f"`codeowners` names repo `{entry.repo}`, which no service "
                                 "under `services` is built from")
            if entry.path is None and self.git_source_of(entry) is None:
                raise ValueError(
                    f"`codeowners` for `{entry.repo}`: give `path` (the CODEOWNERS file or a "
                    "clone), or name a `kind: git` source of the repo in `source`"
                    if entry.source is None else
                    f"`codeowners` for `{entry.repo}`: `source` `{entry.source}` is not the "
                    "name of a `kind: git` source")

    def git_source_of(self, entry: CodeOwnersFile) -> tuple[GitSource, str] | None:
        """The git source (and its name) a `codeowners` entry without `path` reads from: the
        one `source` names, else the first git source of the entry's repo."""
        by_name, by_repo, _ = self._lookups()
        if entry.source is not None:
            return by_name.get(entry.source)
        return by_repo.get(entry.repo)

    def _lookups(self) -> tuple[dict[str, tuple[GitSource, str]],
                                dict[str, tuple[GitSource, str]], dict[str, Service]]:
        """Git sources by name and by repo, services by name (the first of each), built once
        so that checking every `codeowners` entry stays linear. Kept beside the lists they
        index: a `model_copy` with new `sources` or `services` builds them again."""
        key = (id(self.sources), id(self.services))
        cached = self.__dict__.get("_lookup_cache")
        if cached is not None and cached[0] == key:
            return cached[1]
        services: dict[str, Service] = {}
        for service in self.services:
            services.setdefault(service.name, service)
        self.__dict__["_lookup_cache"] = (key, ({}, {}, services))
        by_name, by_repo, _ = self.__dict__["_lookup_cache"][1]
        for index, source in enumerate(self.sources):
            if source.kind == "git":
                name = source.name or f"git-{index}"
                by_name.setdefault(name, (source, name))
                by_repo.setdefault(self.git_repo_name(source), (source, name))
        return by_name, by_repo, services

    def git_repo_name(self, source: GitSource) -> str:
        """The repo a git source's rows carry: its `repo`, its service's, else the folder."""
        if source.repo:
            return source.repo
        service = self._lookups()[2].get(source.service) if source.service else None
        return service.repo if service else self.resolve(source.path).name.removesuffix(".git")

    def resolve(self, path: Path) -> Path:
        """A path from the config, relative to the config file's folder."""
        return path if path.is_absolute() else (self.config_dir / path).resolve()

    @property
    def warehouse_path(self) -> Path:
        return self.resolve(self.warehouse)

    @property
    def reports_path(self) -> Path:
        return self.resolve(self.reports_dir)

    @property
    def landing_root(self) -> Path | str:
        """Where ingest steps land their immutable batches: a local folder (default: beside the
        warehouse) or an object-store URL (see `pipelines.landing`)."""
        if isinstance(self.landing_dir, str):
            return self.landing_dir
        if self.landing_dir is not None:
            return self.resolve(self.landing_dir)
        return self.warehouse_path.parent / "landing"

    @property
    def landing_path(self) -> Path:
        """The landing as a local folder; code that works with object stores too uses
        `landing_root` (or `pipelines.landing.staged_landing`)."""
        root = self.landing_root
        if isinstance(root, str):
            raise ValueError(f"landing_dir is the object-store URL {root}; this step needs a "
                             "local folder (land through pipelines.landing.staged_landing)")
        return root

    def sources_of(self, kind: str) -> list[Any]:
        return [s for s in self.sources if s.kind == kind]


def _storage_url(value: str) -> str:
    """An fsspec URL whose protocol is known and whose library is installed, else ValueError."""
    from fsspec import get_filesystem_class
    from fsspec.registry import known_implementations

    protocol = value.split("://", 1)[0]
    if protocol not in known_implementations:
        raise ValueError(f"`{protocol}://` is not a storage fsspec knows (use a local folder, "
                         "s3://, gs://, az:// …)")
    try:
        get_filesystem_class(protocol)
    except ImportError as exc:
        raise ValueError(f"{value}: {exc} (e.g. pip install 'dora-pipeline[s3]')") from None
    return value.rstrip("/")


def _unique(what: str, names: list[str]) -> None:
    seen: set[str] = set()
    for name in names:
        if name in seen:
            raise ValueError(f"`{what}` lists `{name}` twice")
        seen.add(name)


# Validated configs by (resolved path, content digest). A config is parsed once per process
# however many assets ask for it; the digest, not the mtime, decides, because a file rewritten
# within one kernel clock tick keeps its mtime.
_CACHE: OrderedDict[tuple[str, str], tuple[DoraConfig, str | None]] = OrderedDict()
_CACHE_SIZE = 8
_CACHE_LOCK = threading.Lock()
# libyaml when PyYAML was built with it (about 20 times faster on a 10,000-team file); it
# refuses nesting deeper than 1,000 levels with a YAMLError, as the pure-Python parser's
# RecursionError is caught below.
_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def load_config(path: str | Path) -> DoraConfig:
    """Read and validate a config file; raise `ConfigError` with key and line on any problem.

    The same file (same path and bytes) returns the same validated object; treat it as
    read-only.
    """
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"{path}: config file not found")
    raw = path.read_bytes()
    key = (str(path.resolve()), hashlib.blake2b(raw, digest_size=20).hexdigest())
    with _CACHE_LOCK:
        hit = _CACHE.get(key)
        if hit is not None:
            _CACHE.move_to_end(key)
    # The written paths are checked on every load: the files behind them may have changed
    # since the text was validated (a few stat calls; a problem gets the full message below).
    if hit is not None and not path_problems(*hit):
        return hit[0]
    # Parsing makes hundreds of thousands of objects, none of them garbage: with the collector
    # on, a 10,000-team file took three times as long (it kept scanning the growing tree).
    with collector.paused():
        config, warehouse_text = _validate(path, raw)
    with _CACHE_LOCK:
        _CACHE[key] = (config, warehouse_text)
        while len(_CACHE) > _CACHE_SIZE:
            _CACHE.popitem(last=False)
    return config


def _parse(text: str) -> tuple[yaml.Node | None, Any]:
    """The YAML node tree (for line numbers) and the data it stands for, parsed once.

    A text libyaml refuses is parsed again by PyYAML's own parser, which decides: the two
    differ at the edges (PyYAML accepts a `\\udcff` escape, whose path the path checks then
    name), and its messages are the ones users and tests know.
    """
    try:
        return _parse_with(_LOADER, text)
    except yaml.YAMLError:
        if _LOADER is yaml.SafeLoader:
            raise
        return _parse_with(yaml.SafeLoader, text)


def _parse_with(loader_class: Any, text: str) -> tuple[yaml.Node | None, Any]:
    loader = loader_class(text)
    try:
        root = loader.get_single_node()
        return root, (loader.construct_document(root) if root is not None else None)
    finally:
        loader.dispose()


def _validate(path: Path, raw: bytes) -> tuple[DoraConfig, str | None]:
    """The validated config, and its `warehouse` as written (for the path checks)."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise ConfigError(f"{path}: not a text file (it is not UTF-8)") from None
    try:
        root, data = _parse(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise ConfigError(f"{path}:{where}: not valid YAML: {problem}") from None
    except RecursionError:
        raise ConfigError(f"{path}: not valid YAML: nested too deeply") from None
    except ValueError as exc:  # e.g. an integer of more than 4300 digits
        raise ConfigError(f"{path}: not valid YAML: {str(exc)[:100]}") from None
    _check_nodes(path, root)
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: line 1: the config must be a mapping of keys")
    data["config_dir"] = path.resolve().parent
    try:
        config = DoraConfig.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(_describe(path, root, exc)) from None
    _check_paths(path, root, config)
    return config, _scalar(root, "warehouse")


MAX_PROBLEMS = 50  # problems listed in one error message

# ---- the paths the product writes (docs/config.md, "Paths the product writes") ---------------

# DuckDB files carry these bytes at offset 8.
_DUCKDB_MAGIC = (8, b"DUCK")


def _check_paths(path: Path, root: yaml.Node | None, config: DoraConfig) -> None:
    """Refuse, naming the key and its line, a `warehouse`, `reports_dir` or `landing_dir` the
    product could not use or would harm the user's files with (it replaces the warehouse file
    and writes the two folders)."""
    problems = path_problems(config, _scalar(root, "warehouse"))
    if problems:
        lines = [f"{path}: {len(problems)} problem(s) in the config:"]
        for key, message in problems:
            line = _line_of(root, [key]) if _scalar(root, key) is not None else None
            where = f"line {line}: " if line else ""
            lines.append(f"  {where}`{key}`: {_printable(message, 400)}")
        raise ConfigError("\n".join(lines))


def path_problems(config: DoraConfig, warehouse_text: str | None = None
                  ) -> list[tuple[str, str]]:
    """(key, problem) for each written path that is dangerous or impossible: a warehouse that
    is a folder, has no file name or is some other file; a reports or landing folder that is
    the filesystem root, the home folder, the config's own folder, a file, or the same as or
    inside another written path; a path that cannot be encoded as UTF-8. `warehouse_text` is
    the `warehouse` value as written (a trailing slash means a folder)."""
    given = config.model_fields_set  # keys the file gives (the others are defaults)
    paths: dict[str, Path] = {"warehouse": config.warehouse_path,
                              "reports_dir": config.reports_path}
    if isinstance(config.landing_root, Path):
        paths["landing_dir"] = config.landing_root
    problems = [(key, f"{_printable(str(value), 200)} cannot be encoded as UTF-8 (a folder "
                      "name in it is not UTF-8), and DuckDB and the reports need UTF-8 paths: "
                      "rename the folder or choose another path")
                for key, value in paths.items() if not _encodable(value)
                and (key != "landing_dir" or key in given)]  # else it follows the warehouse
    if problems:
        return problems
    warehouse = _real(config.warehouse_path)
    problems += _warehouse_problems(warehouse, warehouse_text)
    folders = {key: _real(value) for key, value in paths.items() if key != "warehouse"}
    for key, folder in folders.items():
        problem = _folder_problem(folder, _real(config.config_dir))
        if problem:
            example = "reports" if key == "reports_dir" else "data/landing"
            problems.append((key, f"{folder} {problem}: choose a folder of its own, such as "
                                  f"`{example}`"))
    if problems:
        return problems
    for key, folder in folders.items():
        if _within(folder, warehouse):
            problems.append((key, f"{folder} is the warehouse file or inside it: choose a "
                                  "folder of its own"))
    reports, landing = folders["reports_dir"], folders.get("landing_dir")
    landing_name = "`landing_dir`" if "landing_dir" in given else "the default landing folder"
    if landing is not None and (_within(reports, landing) or _within(landing, reports)):
        problems.append(("landing_dir" if "landing_dir" in given else "reports_dir",
                         f"`reports_dir` ({reports}) and {landing_name} ({landing}) are the "
                         "same folder or one is inside the other: give each a folder of its "
                         "own"))
    if _within(warehouse, reports):
        problems.append(("reports_dir" if "reports_dir" in given else "warehouse",
                         f"`reports_dir` ({reports}) would hold the warehouse ({warehouse}), "
                         "and the reports folder is for pages people open and share: give "
                         "each a place of its own"))
    return problems


def _warehouse_problems(warehouse: Path, text: str | None) -> list[tuple[str, str]]:
    """What makes `warehouse` no file the product may create and replace."""
    fix = "give the path of a file, such as `data/dora.duckdb`"
    if text is not None and (text.rstrip().endswith(("/", "\\")) or Path(text).name in
                             ("", ".", "..")):
        return [("warehouse", f"{text!r} names a folder, not a file: {fix}")]
    if warehouse.name == "" or warehouse == Path(warehouse.anchor):
        return [("warehouse", f"{warehouse} has no file name: {fix}")]
    if warehouse.is_dir():
        return [("warehouse", f"{warehouse} is a folder: give the path of a file in it, such "
                              f"as `{warehouse / 'dora.duckdb'}`")]
    for parent in warehouse.parents:
        if parent.exists() and not parent.is_dir():
            return [("warehouse", f"{parent} is a file, so the warehouse's folder cannot be "
                                  f"made: {fix}")]
    if warehouse.is_file() and not _duckdb_or_damaged(warehouse):
        return [("warehouse", f"{warehouse} exists and is not a DuckDB file, and a run "
                              f"replaces the warehouse file: {fix} that is not already taken")]
    return []


def _duckdb_or_damaged(path: Path) -> bool:
    """True for a DuckDB file, and for what a damaged one looks like (empty, zeroed), which a
    run rebuilds; False for any other file (the user's, which a run must not replace)."""
    try:
        with path.open("rb") as handle:
            head = handle.read(4096)
    except OSError:
        return True  # unreadable: the run says why, in one line
    offset, magic = _DUCKDB_MAGIC
    return head[offset:offset + len(magic)] == magic or not head.strip(b"\x00")


def _folder_problem(folder: Path, config_dir: Path) -> str | None:
    if folder == Path(folder.anchor):
        return "is the filesystem root"
    try:
        home = _real(Path.home())
    except (RuntimeError, KeyError):  # no home folder known
        home = None
    if folder == home:
        return "is your home folder"
    if folder == config_dir:
        return "is the config file's own folder"
    if folder.exists() and not folder.is_dir():
        return "is a file, not a folder"
    return None


def _real(path: Path) -> Path:
    """`path` absolute, with `..` and symbolic links resolved (what the OS will write to)."""
    return Path(os.path.realpath(path))


def _within(inner: Path, outer: Path) -> bool:
    return inner == outer or outer in inner.parents


def _encodable(path: Path) -> bool:
    try:
        str(path).encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _scalar(root: yaml.Node | None, key: str) -> str | None:
    """The text of a top-level scalar `key` of the config (None when absent)."""
    if isinstance(root, yaml.MappingNode):
        for key_node, value_node in root.value:
            if key_node.value == key and isinstance(value_node, yaml.ScalarNode):
                return str(value_node.value)
    return None



def _check_nodes(path: Path, root: yaml.Node | None) -> None:
    """What YAML allows but a config never means: a key given twice in one mapping (YAML keeps
    the last one silently) and a NUL character in a value (it would end a path or a name)."""
    stack: list[tuple[yaml.Node, str]] = [(root, "")] if root is not None else []
    seen_nodes: set[int] = set()  # aliases may make the tree a graph
    while stack:
        node, where = stack.pop()
        if id(node) in seen_nodes:
            continue
        seen_nodes.add(id(node))
        line = node.start_mark.line + 1
        if isinstance(node, yaml.MappingNode):
            first: dict[str, int] = {}
            for key_node, value_node in node.value:
                key = str(key_node.value) if isinstance(key_node, yaml.ScalarNode) else "?"
                name = f"{where}.{key}" if where else key
                if isinstance(key_node, yaml.ScalarNode) and key in first:
                    raise ConfigError(f"{path}: line {key_node.start_mark.line + 1}: "
                                      f"`{_printable(name)}` is given twice (first on line "
                                      f"{first[key]})")
                first[key] = key_node.start_mark.line + 1
                stack += [(key_node, where), (value_node, name)]
        elif isinstance(node, yaml.SequenceNode):
            stack += [(item, f"{where}.{i}") for i, item in enumerate(node.value)]
        elif "\x00" in str(node.value):
            raise ConfigError(f"{path}: line {line}: `{_printable(where) or '(top level)'}` "
                              "contains a NUL character")


def _printable(text: str, limit: int = 80) -> str:
    shown = text if text.isprintable() else repr(text)[1:-1]
    return shown if len(shown) <= limit else shown[:limit] + "…"


def _describe(path: Path, root: yaml.Node | None, exc: ValidationError) -> str:
    lines = [f"{path}: {exc.error_count()} problem(s) in the config:"]
    errors = exc.errors()
    for err in errors[:MAX_PROBLEMS]:
        loc = [p for p in err["loc"] if not _is_union_tag(p)]
        # Keys and names come from the file: keep them short and printable.
        key = _printable(".".join(str(p) for p in loc) or "(top level)", 120)
        line = _line_of(root, loc)
        msg = _printable(err["msg"].removeprefix("Value error, "), 300)
        if err["type"] == "extra_forbidden":
            msg = "unknown key (not in docs/config.md)"
        where = f"line {line}: " if line else ""
        lines.append(f"  {where}`{key}`: {msg}")
    if len(errors) > MAX_PROBLEMS:
        lines.append(f"  … and {len(errors) - MAX_PROBLEMS} more")
    return "\n".join(lines)


def _is_union_tag(part: Any) -> bool:
    # pydantic puts the discriminator value (e.g. 'files') into the error location.
    return isinstance(part, str) and part in {"files", "github", "git", "gitops", "argocd",
                                               "flux", "rollouts", "pagerduty", "jira",
                                               "cdevents", "prometheus"} or (
        isinstance(part, str) and bool(re.match(r"^function-", part))
    )


def _line_of(node: yaml.Node | None, loc: list[Any]) -> int | None:
    """The 1-based line of the deepest YAML node that `loc` reaches."""
    line = node.start_mark.line + 1 if node is not None else None
    for part in loc:
        if isinstance(node, yaml.MappingNode):
            match = next((kv for kv in node.value if kv[0].value == str(part)), None)
            if match is None:
                break
            node = match[1]
            line = match[0].start_mark.line + 1
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int):
            if part >= len(node.value):
                break
            node = node.value[part]
            line = node.start_mark.line + 1
        else:
            break
    return line


def team_of_service(config: DoraConfig) -> list[dict[str, Any]]:
    """Ownership rows (team, service, valid_from, valid_until) for the `teams` table."""
    rows = []
    for team in config.teams:
        for owned in team.services:
            rows.append(
                {"team": team.name, "service": owned.name, "valid_from": owned.from_,
                 "valid_until": owned.until}
            )
    return rows


def members_of_teams(config: DoraConfig) -> list[dict[str, Any]]:
    """Membership rows (team, person, valid_from, valid_until) for the people view."""
    return [
        {"team": team.name, "person": member.name, "valid_from": member.from_,
         "valid_until": member.until}
        for team in config.teams for member in team.members
    ]
