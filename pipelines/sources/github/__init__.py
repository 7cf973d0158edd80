"""The `github` source: commits, pull requests, deployments, releases, workflow runs and incident
issues of any number of repositories, through PyGithub (REST and GraphQL), incremental per
repository and entity. See docs/github.md.

Public entry points: `sync_repo` (one repository, landing its batches, raw payloads and cursors),
`renormalise` (rebuild the batches from raw payloads, no requests), `read_cursors` (every
repository's cursors as a table, for people and tests).
"""

from pipelines.sources.github.client import ClientSettings
from pipelines.sources.github.cursors import read_cursors
from pipelines.sources.github.errors import GithubSyncError
from pipelines.sources.github.renormalise import renormalise
from pipelines.sources.github.sync import RepoSyncResult, settings_for, sync_repo

__all__ = ["ClientSettings", "GithubSyncError", "RepoSyncResult", "read_cursors", "renormalise",
           "settings_for", "sync_repo"]
