"""Causes named in incident text, and the text of Jira's Atlassian Document Format."""

from __future__ import annotations

import pytest

from pipelines.sources.incidents.common import named_cause
from pipelines.sources.incidents.jira import _time, adf_text


@pytest.mark.parametrize(("text", "deployment", "commit"), [
    ("Deployment: deploy-42.", "deploy-42", None),  # a sentence's full stop is not the id
    ("rolled out\ncommit: 3F2A9C1D", None, "3f2a9c1d"),
    ("deployment: gh:acme/payments@7, commit: abcdef0123456789", "gh:acme/payments@7",
     "abcdef0123456789"),
    ("commit: xyz123 (not hex)", None, None),
    ("redeployment is not a deployment", None, None),
    (None, None, None),
])
def test_named_cause(text, deployment, commit) -> None:
    assert named_cause(text) == {"deployment_id": deployment, "commit_sha": commit}


def test_adf_text_joins_split_nodes_and_ends_blocks() -> None:
    """`deployment: ` and `d-9` in two text nodes of one paragraph are one line; a list item
    and a hard break end lines."""
    doc = {"type": "doc", "content": [
        {"type": "paragraph", "content": [{"type": "text", "text": "deployment: "},
                                          {"type": "text", "text": "d-9",
                                           "marks": [{"type": "code"}]}]},
        {"type": "bulletList", "content": [{"type": "listItem", "content": [
            {"type": "paragraph", "content": [{"type": "text", "text": "a"},
                                              {"type": "hardBreak"},
                                              {"type": "text", "text": "commit: 0a1b2c3"}]}]}]},
    ]}
    assert adf_text(doc) == "deployment: d-9\na\ncommit: 0a1b2c3\n\n"
    assert named_cause(adf_text(doc)) == {"deployment_id": "d-9", "commit_sha": "0a1b2c3"}


def test_jira_offsets_become_iso_offsets() -> None:
    assert _time("2026-03-01T09:12:44.000-0800") == "2026-03-01T09:12:44.000-08:00"
    assert _time("2026-03-01T09:12:44.000+0530") == "2026-03-01T09:12:44.000+05:30"
    assert _time(None) is None
