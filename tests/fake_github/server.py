"""`FakeGithub`: a GitHub API on 127.0.0.1 (pytest-httpserver), with faults and a request log.

    with FakeGithub(token="ghp_x") as gh:
        gh.add_repo(build_repo(prs=10))
        Github(base_url=gh.base_url, ...)          # REST at /api/v3, GraphQL at /api/graphql
        gh.inject(Fault("secondary", match="PullRequests", retry_after=30))
        gh.request_count                           # every request received, faults included

Every answer carries GitHub's rate-limit headers (`x-ratelimit-limit/-remaining/-reset/-used/
-resource`, per resource `core` and `graphql`), unless the server plays a GitHub Enterprise with
rate limiting off (`rate_limit=False`: no headers, `/rate_limit` answers 404).
"""

from __future__ import annotations

import json
import re
import socket
import time
import urllib.parse
from dataclasses import dataclass, field
from typing import Any

from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from fake_github import graphql_api, rest_api
from fake_github.model import FakeRepo

API = "/api/v3"
GRAPHQL = "/api/graphql"
PRIMARY_MESSAGE = "API rate limit exceeded for user ID 1."
SECONDARY_MESSAGE = ("You have exceeded a secondary rate limit. Please wait a few minutes before "
                     "you try again.")


@dataclass
class Fault:
    """A misbehaviour for requests whose label contains `match` (the first `times` of them).

    kinds: `primary` (403/429, budget spent, reset in `reset_in` s), `secondary` (403/429 with the
    secondary-limit message, `Retry-After` when `retry_after` is set), `graphql_rate_limited`
    (HTTP 200 with a RATE_LIMITED error), `status` (answer `status`, e.g. 502), `drop` (close the
    connection without answering), `truncate` (send half the body of a correct answer).
    A label reads like "GET /api/v3/repos/acme/app/commits?..." or "POST /api/graphql Deployments".
    """

    kind: str
    match: str = ""
    times: int = 1
    skip: int = 0  # let this many matching requests through first
    status: int = 403
    retry_after: int | None = None
    reset_in: float = 30.0
    hits: int = 0
    seen: int = 0


@dataclass(frozen=True)
class RequestRecord:
    method: str
    path: str
    query: str
    operation: str | None  # the GraphQL operation name
    status: int

    @property
    def label(self) -> str:
        tail = f"?{self.query}" if self.query else ""
        op = f" {self.operation}" if self.operation else ""
        return f"{self.method} {self.path}{tail}{op}"


@dataclass
class FakeGithub:
    """The fake server (see module doc)."""

    token: str = "ghp_fakeToken0123456789abcdefABCDEF0000"
    rate_limit: bool = True
    limit: int = 5000
    repos: dict[str, FakeRepo] = field(default_factory=dict)
    faults: list[Fault] = field(default_factory=list)
    log: list[RequestRecord] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.used = {"core": 0, "graphql": 0}
        self.reset_at = int(time.time()) + 3600
        self.server = HTTPServer(host="127.0.0.1", port=0)

    # --- lifecycle -------------------------------------------------------------------------

    def start(self) -> FakeGithub:
        graphql_api.schema()  # build the schema before the first request times anything
        self.server.expect_request(re.compile(r"^/.*")).respond_with_handler(self._handle)
        self.server.start()
        return self

    def stop(self) -> None:
        if self.server.is_running():
            self.server.stop()

    def __enter__(self) -> FakeGithub:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def base_url(self) -> str:
        """What to give PyGithub (and the config's `base_url`)."""
        return self.server.url_for(API)

    # --- test controls ---------------------------------------------------------------------

    def add_repo(self, repo: FakeRepo) -> FakeRepo:
        self.repos[repo.full_name.lower()] = repo
        return repo

    def inject(self, *faults: Fault) -> None:
        self.faults.extend(faults)

    @property
    def request_count(self) -> int:
        return len(self.log)

    def reset_log(self) -> None:
        self.log.clear()

    def reset(self) -> None:
        """Forget repositories, faults, the log and the budget (to reuse one running server)."""
        self.repos.clear()
        self.faults.clear()
        self.log.clear()
        self.used = {"core": 0, "graphql": 0}
        self.rate_limit = True

    def labels(self) -> list[str]:
        return [r.label for r in self.log]

    # --- serving ---------------------------------------------------------------------------

    def _handle(self, request: Request) -> Response:
        operation = None
        payload: dict[str, Any] = {}
        if request.path == GRAPHQL:
            payload = json.loads(request.get_data(as_text=True) or "{}")
            found = re.search(r"\b(?:query|mutation)\s+(\w+)", payload.get("query", ""))
            operation = found.group(1) if found else None
        query = urllib.parse.urlencode(sorted(request.args.items(multi=True)))
        label = RequestRecord(request.method, request.path, query, operation, 0).label
        resource = "graphql" if request.path == GRAPHQL else "core"
        fault = self._fault_for(label)
        if fault is not None:
            response = self._fault(fault, request, resource)
        else:
            response = self._answer(request, payload, resource)
        self.log.append(RequestRecord(request.method, request.path, query, operation,
                                      response.status_code))
        return response

    def _answer(self, request: Request, payload: dict[str, Any], resource: str) -> Response:
        if request.headers.get("Authorization") not in (f"token {self.token}",
                                                         f"Bearer {self.token}"):
            return self._json(401, {"message": "Bad credentials",
                                    "documentation_url": "https://docs.github.com/rest",
                                    "status": "401"}, resource, count=False)
        if request.path == GRAPHQL and request.method == "POST":
            body = graphql_api.execute(self.repos, payload.get("query", ""),
                                       payload.get("variables"))
            return self._json(200, body, resource)
        if not request.path.startswith(API):
            return self._json(404, rest_api.NOT_FOUND, resource)
        path = request.path[len(API):]
        if path == "/rate_limit":
            return self._rate_limit_endpoint()
        base = request.host_url.rstrip("/") + API
        status, body, headers = rest_api.route(self.repos, path, dict(request.args), base)
        return self._json(status, body, resource, headers)

    def _rate_limit_endpoint(self) -> Response:
        if not self.rate_limit:
            return self._json(404, {"message": "Rate limiting is not enabled."}, "core",
                              count=False)
        resources = {name: self._budget(name) for name in self.used}
        return self._json(200, {"resources": resources, "rate": resources["core"]}, "core",
                          count=False)

    def _budget(self, resource: str) -> dict[str, int]:
        return {"limit": self.limit, "used": self.used[resource],
                "remaining": max(self.limit - self.used[resource], 0), "reset": self.reset_at}

    def _json(self, status: int, body: Any, resource: str, headers: dict[str, str] | None = None,
              count: bool = True) -> Response:
        if count:
            self.used[resource] += 1
        all_headers = dict(headers or {})
        if self.rate_limit:
            budget = self._budget(resource)
            all_headers.update({
                "X-RateLimit-Limit": str(budget["limit"]),
                "X-RateLimit-Remaining": str(budget["remaining"]),
                "X-RateLimit-Reset": str(budget["reset"]),
                "X-RateLimit-Used": str(budget["used"]),
                "X-RateLimit-Resource": resource,
            })
        return Response(json.dumps(body), status=status, headers=all_headers,
                        content_type="application/json; charset=utf-8")

    # --- faults ----------------------------------------------------------------------------

    def _fault_for(self, label: str) -> Fault | None:
        for fault in self.faults:
            if fault.match in label and fault.hits < fault.times:
                fault.seen += 1
                if fault.seen > fault.skip:
                    fault.hits += 1
                    return fault
        return None

    def _fault(self, fault: Fault, request: Request, resource: str) -> Response:
        reset = str(int(time.time() + fault.reset_in))
        limit_headers = {"X-RateLimit-Limit": str(self.limit), "X-RateLimit-Remaining": "0",
                         "X-RateLimit-Reset": reset, "X-RateLimit-Used": str(self.limit),
                         "X-RateLimit-Resource": resource}
        if fault.kind == "primary":
            return Response(json.dumps({"message": PRIMARY_MESSAGE,
                                        "documentation_url": "https://docs.github.com/rest"}),
                            status=fault.status, headers=limit_headers,
                            content_type="application/json")
        if fault.kind == "secondary":
            headers = {"Retry-After": str(fault.retry_after)} if fault.retry_after is not None \
                else {}
            return Response(json.dumps({"message": SECONDARY_MESSAGE}), status=fault.status,
                            headers=headers, content_type="application/json")
        if fault.kind == "graphql_rate_limited":
            body = {"errors": [{"type": "RATE_LIMITED", "code": "graphql_rate_limit",
                                "message": "API rate limit already exceeded for user ID 1."}]}
            return Response(json.dumps(body), status=200, headers=limit_headers,
                            content_type="application/json")
        if fault.kind == "status":
            return Response(json.dumps({"message": "Server Error"}), status=fault.status,
                            content_type="application/json")
        if fault.kind == "drop":
            connection = request.environ["werkzeug.socket"]
            connection.shutdown(socket.SHUT_RDWR)
            return Response("", status=500)
        if fault.kind == "truncate":
            good = self._answer(request, json.loads(request.get_data(as_text=True) or "{}")
                                if request.path == GRAPHQL else {}, resource)
            data = good.get_data()
            connection = request.environ["werkzeug.socket"]

            def half_then_hang_up():  # a generator: werkzeug keeps our Content-Length
                yield data[: len(data) // 2]
                connection.shutdown(socket.SHUT_RDWR)

            return Response(half_then_hang_up(), status=good.status_code,
                            headers={"Content-Length": str(len(data))},
                            content_type="application/json")
        raise ValueError(f"unknown fault kind {fault.kind!r}")
