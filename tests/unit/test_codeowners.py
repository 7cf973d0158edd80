"""CODEOWNERS parsing and matching: GitHub's pattern rules and "last matching pattern wins"."""

from __future__ import annotations

import pytest

from metrics.codeowners import parse_codeowners, pattern_regex, team_of_owner, teams_of_path


@pytest.mark.parametrize(("pattern", "path", "matches"), [
    # A leading `/` anchors to the root.
    ("/docs/", "docs/guide.md", True),
    ("/docs/", "src/docs/guide.md", False),
    # No slash (or only a trailing one): any depth.
    ("docs/", "src/docs/guide.md", True),
    ("docs", "src/docs/guide.md", True),
    ("*.js", "web/app/main.js", True),
    # A trailing `/` is a directory: not a file of that name.
    ("docs/", "docs", False),
    ("docs", "docs", True),
    # A slash in the middle anchors too.
    ("services/billing", "services/billing/api.py", True),
    ("services/billing", "x/services/billing/api.py", False),
    # `*` stays inside one segment; a lone trailing `*` is exactly one level.
    ("/services/*.py", "services/a.py", True),
    ("/services/*.py", "services/ledger/a.py", False),
    ("docs/*", "docs/getting-started.md", True),
    ("docs/*", "docs/build-app/troubleshooting.md", False),
    # `**` crosses segments.
    ("**/logs", "deeply/nested/logs/today.txt", True),
    ("/services/**/test", "services/ledger/unit/test/a.py", True),
    ("/services/**/test", "services/test/a.py", True),
    ("services/ledger/**", "services/ledger", False),
    # `?` is one character of a segment; a backslash escapes.
    ("f?o.txt", "foo.txt", True),
    ("f?o.txt", "f/o.txt", False),
    ("f\\*o", "f*o", True),
    ("f\\*o", "foo", False),
    # `*` alone owns everything; `/` alone nothing.
    ("*", "a/b/c.txt", True),
    ("/", "a.txt", False),
])
def test_pattern_semantics(pattern: str, path: str, matches: bool) -> None:
    assert (pattern_regex(pattern).fullmatch(path) is not None) is matches


OWNERS = """\
# Default owners
*                 @acme/platform
/services/ledger/ @acme/ledger-devs
*.md              @acme/docs docs@acme.example   # two owners, and an inline comment
/services/ledger/generated/
/apps/\\ spaced/  @acme/spaced
"""


def test_last_matching_pattern_wins() -> None:
    owners = parse_codeowners(OWNERS)
    assert owners.owners_of("Makefile") == ("@acme/platform",)
    assert owners.owners_of("services/ledger/api.py") == ("@acme/ledger-devs",)
    # `*.md` comes after `/services/ledger/`, so it wins for a README inside ledger.
    assert owners.owners_of("services/ledger/README.md") == ("@acme/docs", "docs@acme.example")
    # A matching rule with no owners un-owns the path (even though `*` matched earlier).
    assert owners.owners_of("services/ledger/generated/models.py") == ()
    assert owners.rule_for("services/ledger/generated/models.py").line == 5
    assert owners.owners_of("/apps/ spaced/x.py") == ("@acme/spaced",)


def test_lines_github_rejects_are_reported_and_skipped() -> None:
    owners = parse_codeowners("*.py @acme/py\n!*.py @acme/none\n[ab].py @acme/ab\n"
                              "*.go not-an-owner\n*.rs @acme/rust\n")
    assert [(e.line, e.reason) for e in owners.errors] == [
        (2, "`!` negation does not work in CODEOWNERS"),
        (3, "`[ ]` character ranges do not work in CODEOWNERS"),
        (4, "`not-an-owner` is not a @user, @org/team or e-mail owner"),
    ]
    assert [r.pattern for r in owners.rules] == ["*.py", "*.rs"]
    assert owners.owners_of("a.py") == ("@acme/py",)


def test_owners_map_to_teams_through_aliases_then_team_slugs() -> None:
    aliases = {"@acme/ledger-devs": "core", "@alice": "payments"}
    assert team_of_owner("@ACME/Ledger-Devs", aliases) == "core"   # handles ignore case
    assert team_of_owner("@acme/payments", aliases) == "payments"  # the team's slug
    assert team_of_owner("@alice", aliases) == "payments"          # a user only by alias
    assert team_of_owner("@bob", aliases) is None
    assert team_of_owner("bob@acme.example", aliases) is None
    owners = parse_codeowners("* @acme/platform @bob\n/ledger/ @acme/ledger-devs @alice\n")
    assert teams_of_path(owners, aliases, "ledger/x.py") == ["core", "payments"]
    assert teams_of_path(owners, aliases, "README") == ["platform"]
