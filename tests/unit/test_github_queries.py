"""Every GraphQL document the GitHub source sends is valid against GitHub's published schema."""

from __future__ import annotations

import graphql
import pytest
from fake_github.graphql_api import schema

from pipelines.sources.github import queries


@pytest.mark.parametrize("operation", queries.OPERATIONS)
def test_query_is_valid_against_githubs_schema(operation: str) -> None:
    document = graphql.parse(queries.load(operation))
    assert graphql.validate(schema(), document) == []


@pytest.mark.parametrize("operation", queries.OPERATIONS)
def test_query_names_its_operation_and_defines_each_fragment_once(operation: str) -> None:
    document = graphql.parse(queries.load(operation))
    operations = [d for d in document.definitions if isinstance(d, graphql.OperationDefinitionNode)]
    fragments = [d.name.value for d in document.definitions
                 if isinstance(d, graphql.FragmentDefinitionNode)]
    assert [o.name.value for o in operations] == [operation]
    assert len(fragments) == len(set(fragments))


def test_pull_request_query_carries_commits_reviews_and_their_fragments() -> None:
    text = queries.load("PullRequests")
    assert "fragment PullRequestFields on PullRequest" in text
    assert "fragment CommitFields on Commit" in text
    assert "fragment ReviewFields on PullRequestReview" in text
    assert "fragment DeploymentFields" not in text  # unused fragments are rejected by GitHub


def test_unknown_operation_is_refused() -> None:
    with pytest.raises(KeyError):
        queries.load("DropTables")


def test_a_field_github_lacks_fails_validation() -> None:
    # The check is real: a misspelt field is caught exactly as GitHub would catch it.
    bad = queries.load("Releases").replace("tagCommit", "tagCommitSha")
    errors = graphql.validate(schema(), graphql.parse(bad))
    assert any("tagCommitSha" in e.message for e in errors)
