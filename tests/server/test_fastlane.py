"""The /graphql request path: raw-request cache keys, hits before any GraphQL work, and the fast lane."""

from __future__ import annotations

import json

import httpx

from server.bench import PROFILE_QUERY
from tests.server.conftest import copy_published
from tests.server.harness import ApiServer, server_config


def profile_body(account: str) -> bytes:
    return json.dumps({"query": PROFILE_QUERY, "operationName": "Customer360", "variables": {"id": account}}).encode()


def raw_post(api: ApiServer, body: bytes, role: str = "viewer", **headers: str) -> httpx.Response:
    return api.client.post("/graphql", content=body, headers={"Content-Type": "application/json", **api.headers(role), **headers})


def accounts(api: ApiServer, n: int) -> list[str]:
    return list(api.services.holder.get().metrics.index[:n])


def test_a_query_strawberry_ran_cleanly_is_answered_by_the_lane_with_the_same_bytes(published, tmp_path):
    with ApiServer(copy_published(published, tmp_path), config=server_config(cache={"enabled": False})) as api:
        view = api.app.state.graphql
        calls = []
        execute = view.lane.execute
        view.lane.execute = lambda *a: calls.append(a[0]) or execute(*a)
        a, b = accounts(api, 2)
        first = raw_post(api, profile_body(a))
        assert first.status_code == 200 and "errors" not in first.json() and calls == []  # Strawberry ran it
        assert view.lane.knows(PROFILE_QUERY, "Customer360")
        again = raw_post(api, profile_body(a))
        assert calls == [PROFILE_QUERY] and again.content == first.content
        assert again.headers["content-type"] == first.headers["content-type"] == "application/json"
        other = raw_post(api, profile_body(b))
        assert other.status_code == 200 and other.json()["data"]["customer"]["id"] == b and len(calls) == 2


def test_the_lane_hands_errors_to_strawberry(published, tmp_path):
    with ApiServer(copy_published(published, tmp_path), config=server_config(cache={"enabled": False})) as api:
        view = api.app.state.graphql
        (a,) = accounts(api, 1)
        q = "query T($id: ID!, $first: Int!) { customer(id: $id) { id timeline(first: $first) { totalCount } } }"
        body = lambda first: json.dumps({"query": q, "variables": {"id": a, "first": first}}).encode()  # noqa: E731
        assert "errors" not in raw_post(api, body(5)).json() and view.lane.knows(q, None)
        too_many = raw_post(api, body(100_000)).json()  # a resolver's client error: Strawberry's answer
        assert too_many["data"]["customer"] is None and too_many["errors"][0]["path"] == ["customer", "timeline"]
        bad_variable = raw_post(api, json.dumps({"query": q, "variables": {"id": a}}).encode()).json()
        assert bad_variable["data"] is None and bad_variable["errors"]  # Strawberry reports (and masks) it, as before
        failing = "{ linkReviewQueue { totalCount } }"  # viewers may not: never admitted
        assert api.post(failing, "viewer").json()["errors"][0]["extensions"]["code"] == "FORBIDDEN"
        assert not view.lane.knows(failing, None)
        mutation = "mutation { acknowledgeAlert(id: \"nope\") { __typename } }"
        api.post(mutation, "operator")
        assert not view.lane.knows(mutation, None)


def test_cache_keys_are_the_raw_request_and_only_plain_json_is_cached(published, tmp_path):
    with ApiServer(copy_published(published, tmp_path)) as api:
        (a,) = accounts(api, 1)
        body = profile_body(a)
        first, second = raw_post(api, body), raw_post(api, body)
        assert first.headers["x-cache"] == "MISS" and second.headers["x-cache"] == "HIT" and second.content == first.content
        assert raw_post(api, body, role="operator").headers["x-cache"] == "MISS"  # the role is part of the key
        spaced = body.replace(b'"variables"', b' "variables"')
        assert raw_post(api, spaced).headers["x-cache"] == "MISS"  # other bytes, another entry (same answer)
        not_json = api.client.post("/graphql", content=body, headers={"Content-Type": "text/plain", **api.headers("viewer")})
        assert not_json.status_code == 400 and "x-cache" not in not_json.headers
        stream = raw_post(api, body, Accept="text/event-stream")
        assert "x-cache" not in stream.headers
        get = lambda: api.client.get("/graphql", params={"query": "{ snapshot { customers } }"}, headers=api.headers("viewer"))  # noqa: E731
        assert get().headers["x-cache"] == "MISS" and get().headers["x-cache"] == "HIT"
