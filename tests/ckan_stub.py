"""A CKAN Action API on loopback for tests: package_search over a list of real package dicts.

Implements what harvesters use (rows, start, sort by id, fq on metadata_modified,
success:false errors) the way CKAN answers it; packages can change between requests.
"""

from __future__ import annotations

import json
import re

from werkzeug import Request, Response

_RANGE = re.compile(r"metadata_modified:\[(\S+) TO \*\]")


class CkanPortal:
    def __init__(self, packages: list):
        self.packages = list(packages)
        self.requests: list[dict] = []
        self.fail_next: int = 0  # answer this many requests with HTTP 500

    def install(self, httpserver) -> str:
        self._server = httpserver
        httpserver.expect_request("/api/3/action/package_search").respond_with_handler(self.search)
        return httpserver.url_for("/")

    def search(self, request: Request) -> Response:
        args = request.args.to_dict()
        self.requests.append(args)
        if self.fail_next > 0:
            self.fail_next -= 1
            return Response("upstream exploded", status=500)
        try:
            rows, start = int(args.get("rows", 10)), int(args.get("start", 0))
        except ValueError:
            return self._error("Validation Error", "rows and start must be integers", 409)
        found = [p for p in self.packages if self._matches(p, args.get("fq", ""))]
        if args.get("sort", "").startswith("id"):
            found.sort(key=lambda p: str(p.get("id", "")) if isinstance(p, dict) else "")
        body = {
            "success": True,
            "result": {"count": len(found), "results": found[start : start + rows]},
        }
        return Response(json.dumps(body), content_type="application/json")

    @staticmethod
    def _matches(package, fq: str) -> bool:
        match = _RANGE.search(fq)
        if not match or not isinstance(package, dict):
            return True
        return package.get("metadata_modified", "") >= match.group(1).rstrip("Z")

    @staticmethod
    def _error(kind: str, message: str, status: int) -> Response:
        body = {"success": False, "error": {"__type": kind, "message": message}}
        return Response(json.dumps(body), status=status, content_type="application/json")
