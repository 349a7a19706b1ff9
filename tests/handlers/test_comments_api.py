"""Comments REST API: every route's success path and every rejection (with no write)."""

from __future__ import annotations

import json
import re

import pytest
from events import FakeLambdaContext, comments_path, http_event
from handler_helpers import seed_comments
from handlers import comments_api

ISO_Z = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$")


def call(method, post_id="post-1", comment_id=None, **kwargs):
    path, route, params = comments_path(post_id, comment_id)
    event = http_event(method, path, route=route, path_parameters=params, **kwargs)
    response = comments_api.handler(event, FakeLambdaContext())
    body = json.loads(response["body"]) if response.get("body") else None
    return response["statusCode"], body, response


def post(content="hello", user_id="alice", post_id="post-1", **kwargs):
    return call("POST", post_id, body={"content": content}, user_id=user_id, **kwargs)


def assert_error(body, code=None):
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message"}
    assert body["error"]["message"]
    if code:
        assert body["error"]["code"] == code


# --- POST ---------------------------------------------------------------------------------------
def test_create_returns_201_with_the_comment(tables):
    status, body, response = post("  Hello world  ")
    assert status == 201
    assert response["headers"]["Content-Type"] == "application/json"
    assert set(body) == {"id", "postId", "content", "userId", "createdAt", "seq"}
    assert body["content"] == "Hello world" and body["userId"] == "alice"
    assert body["postId"] == "post-1" and body["seq"] == 1
    assert ISO_Z.match(body["createdAt"])
    stored = [item for item in tables.scan(tables.comments) if item["seq"]["N"] != "0"]
    assert stored[0]["id"] == {"S": body["id"]}


def test_seq_is_per_post_and_ids_are_unique():
    seqs = [post(f"c{i}")[1]["seq"] for i in range(3)]
    other = post("other post", post_id="post-2")[1]
    assert seqs == [1, 2, 3] and other["seq"] == 1
    listed = call("GET")[1]["comments"]
    assert len({comment["id"] for comment in listed}) == 3


def test_user_id_comes_from_the_token_never_from_the_body(tables):
    status, body, _ = call("POST", body={"content": "x", "userId": "mallory"}, user_id="alice")
    assert status == 400  # unknown field: refused outright
    assert_error(body, "VALIDATION_ERROR")


@pytest.mark.parametrize(
    ("kwargs", "expected_status"),
    [
        pytest.param({"body": {"content": ""}}, 400, id="empty"),
        pytest.param({"body": {"content": "   \n\t "}}, 400, id="whitespace"),
        pytest.param({"body": {"content": "x" * 4001}}, 400, id="too-long"),
        pytest.param({"body": {"content": 123}}, 400, id="not-a-string"),
        pytest.param({"body": {}}, 400, id="missing-content"),
        pytest.param({"body": {"content": "ok", "extra": 1}}, 400, id="unknown-field"),
        pytest.param({"raw_body": "not json"}, 400, id="non-json"),
        pytest.param({"raw_body": "[1, 2]"}, 400, id="json-array"),
        pytest.param({"raw_body": ""}, 400, id="empty-body"),
        pytest.param({"body": {"content": "ok"}, "user_id": None}, 401, id="no-claims"),
        pytest.param(
            {"body": {"content": "ok"}, "user_id": None, "claims": {"aud": "x"}}, 401, id="claims-without-sub"
        ),
    ],
)
def test_bad_create_requests_are_rejected_and_write_nothing(tables, kwargs, expected_status):
    kwargs.setdefault("user_id", "alice")
    before = tables.snapshot()
    status, body, _ = call("POST", **kwargs)
    assert status == expected_status
    assert_error(body)
    assert tables.snapshot() == before


def test_content_at_the_limit_is_accepted():
    status, body, _ = post("y" * 4000)
    assert status == 201 and len(body["content"]) == 4000


@pytest.mark.parametrize("post_id", ["a" * 129, "bad%23id", "-leading-dash"])
def test_invalid_post_id_is_rejected(tables, post_id):
    before = tables.snapshot()
    status, body, _ = post(post_id=post_id)
    assert status == 400
    assert_error(body)
    assert tables.snapshot() == before


# --- idempotency --------------------------------------------------------------------------------
def test_idempotency_key_replay_returns_the_first_comment(tables):
    first = post("same", headers={"Idempotency-Key": "key-1"})
    second = post("same", headers={"Idempotency-Key": "key-1"})
    assert first[0] == second[0] == 201
    assert first[1] == second[1]
    comments = [item for item in tables.scan(tables.comments) if item["seq"]["N"] != "0"]
    assert len(comments) == 1


def test_idempotency_key_is_scoped_per_user_and_post():
    first = post("same", headers={"Idempotency-Key": "k"})[1]
    other_user = post("same", user_id="bob", headers={"Idempotency-Key": "k"})[1]
    other_post = post("same", post_id="post-2", headers={"Idempotency-Key": "k"})[1]
    assert len({first["id"], other_user["id"], other_post["id"]}) == 3


def test_idempotency_key_reused_with_other_content_is_refused(tables):
    post("first", headers={"Idempotency-Key": "key-2"})
    before = tables.snapshot()
    status, body, _ = post("different", headers={"Idempotency-Key": "key-2"})
    assert status == 422
    assert_error(body, "IDEMPOTENCY_KEY_REUSED")
    assert tables.snapshot() == before


def test_without_key_each_post_creates_a_comment():
    assert post("a")[1]["id"] != post("a")[1]["id"]


def test_bad_idempotency_key_is_rejected(tables):
    before = tables.snapshot()
    status, body, _ = post("x", headers={"Idempotency-Key": "k" * 200})
    assert status == 400
    assert_error(body)
    assert tables.snapshot() == before


# --- GET ----------------------------------------------------------------------------------------
def test_list_is_oldest_first_with_count_and_null_cursor_at_end():
    seed_comments("post-1", 3)
    status, body, _ = call("GET")
    assert status == 200
    assert set(body) == {"postId", "comments", "count", "nextCursor"}
    assert [c["seq"] for c in body["comments"]] == [1, 2, 3]
    assert body["count"] == 3 and body["nextCursor"] is None and body["postId"] == "post-1"


def test_list_pages_with_opaque_cursor():
    seed_comments("post-1", 5)
    first = call("GET", query={"limit": "2"})[1]
    assert [c["seq"] for c in first["comments"]] == [1, 2] and first["nextCursor"]
    second = call("GET", query={"limit": "2", "cursor": first["nextCursor"]})[1]
    third = call("GET", query={"limit": "2", "cursor": second["nextCursor"]})[1]
    assert [c["seq"] for c in second["comments"]] == [3, 4]
    assert [c["seq"] for c in third["comments"]] == [5] and third["nextCursor"] is None


def test_list_after_seq():
    seed_comments("post-1", 5)
    body = call("GET", query={"after": "3"})[1]
    assert [c["seq"] for c in body["comments"]] == [4, 5]


def test_list_of_empty_post_and_default_page_size(configure):
    configure(COMMENTS_PAGE_SIZE="2")
    assert call("GET", post_id="empty")[1] == {
        "postId": "empty",
        "comments": [],
        "count": 0,
        "nextCursor": None,
    }
    seed_comments("post-1", 3)
    body = call("GET")[1]
    assert body["count"] == 2 and body["nextCursor"]


def test_list_is_public():
    seed_comments("post-1", 1)
    assert call("GET")[0] == 200  # no claims at all


@pytest.mark.parametrize(
    "query",
    [
        {"limit": "0"},
        {"limit": "101"},
        {"limit": "abc"},
        {"limit": "-1"},
        {"after": "-3"},
        {"after": "x"},
        {"cursor": "garbage!!"},
        {"cursor": "eyJwIjoib3RoZXIiLCJzIjoxfQ"},
    ],
)
def test_bad_list_parameters_are_400(query):
    status, body, _ = call("GET", query=query)
    assert status == 400
    assert_error(body, "VALIDATION_ERROR")


# --- PATCH / DELETE -----------------------------------------------------------------------------
def test_author_can_edit_and_gets_updated_at():
    created = post("original")[1]
    status, body, _ = call("PATCH", comment_id=created["id"], body={"content": " edited "}, user_id="alice")
    assert status == 200
    assert body["content"] == "edited" and ISO_Z.match(body["updatedAt"])
    assert {k: body[k] for k in ("id", "seq", "createdAt", "userId")} == {
        k: created[k] for k in ("id", "seq", "createdAt", "userId")
    }
    assert call("GET")[1]["comments"][0]["updatedAt"] == body["updatedAt"]


def test_only_the_author_may_edit(tables):
    created = post("mine")[1]
    before = tables.snapshot()
    status, body, _ = call("PATCH", comment_id=created["id"], body={"content": "hijack"}, user_id="bob")
    assert status == 403
    assert_error(body, "FORBIDDEN")
    assert tables.snapshot() == before


def test_edit_of_absent_comment_is_404(tables):
    before = tables.snapshot()
    status, body, _ = call("PATCH", comment_id="nope", body={"content": "x"}, user_id="alice")
    assert status == 404
    assert_error(body, "NOT_FOUND")
    assert tables.snapshot() == before


@pytest.mark.parametrize(
    "kwargs",
    [
        {"body": {"content": "  "}},
        {"body": {"content": "x", "id": "y"}},
        {"raw_body": "{"},
        {"user_id": None},
    ],
)
def test_bad_edits_are_rejected_and_write_nothing(tables, kwargs):
    created = post("keep")[1]
    kwargs = {"body": {"content": "new"}, "user_id": "alice", **kwargs}
    before = tables.snapshot()
    status, body, _ = call("PATCH", comment_id=created["id"], **kwargs)
    assert status in (400, 401)
    assert_error(body)
    assert tables.snapshot() == before


def test_author_can_delete():
    created = post("bye")[1]
    status, body, response = call("DELETE", comment_id=created["id"], user_id="alice")
    assert status == 204 and body is None
    assert call("GET")[1]["comments"] == []
    assert call("DELETE", comment_id=created["id"], user_id="alice")[0] == 404


def test_only_the_author_may_delete(tables):
    created = post("mine")[1]
    before = tables.snapshot()
    assert call("DELETE", comment_id=created["id"], user_id="bob")[0] == 403
    assert call("DELETE", comment_id=created["id"])[0] == 401
    assert tables.snapshot() == before


def test_seq_keeps_growing_after_a_delete():
    first = post("one")[1]
    call("DELETE", comment_id=first["id"], user_id="alice")
    assert post("two")[1]["seq"] == 2


# --- health, routing, errors --------------------------------------------------------------------
def test_connection_count(tables):
    from handler_helpers import seed_subscribers

    seed_subscribers("post-1", ["c1", "c2", "c3"])
    event = http_event("GET", "/api/v1/websocket/connections")
    response = comments_api.handler(event, None)
    assert response["statusCode"] == 200
    assert json.loads(response["body"]) == {"status": "ok", "count": 3}


def test_unknown_route_is_404_in_contract_shape():
    response = comments_api.handler(http_event("GET", "/api/v1/nothing"), None)
    assert response["statusCode"] == 404
    assert_error(json.loads(response["body"]), "NOT_FOUND")


def test_unexpected_failure_is_500_without_stack(monkeypatch):
    from realtime_comments.comments import service

    def explode(*args, **kwargs):
        raise RuntimeError("database on fire at /secret/path")

    monkeypatch.setattr(service, "create_comment", explode)
    status, body, _ = post("x")
    assert status == 500
    assert body == {"error": {"code": "INTERNAL_ERROR", "message": "internal error"}}


def test_limit_with_non_ascii_digits_is_400():
    assert call("GET", query={"limit": "\u00b2"})[0] == 400


def test_cursor_with_absurd_seq_is_400():
    from realtime_comments.comments.cursor import encode_cursor

    assert call("GET", query={"cursor": encode_cursor("post-1", 10**30)})[0] == 400


def test_base64_body_that_is_not_utf8_is_400(tables):
    import base64

    path, route, params = comments_path("post-1")
    event = http_event("POST", path, route=route, path_parameters=params, user_id="alice")
    event["body"] = base64.b64encode(b"\xff\xfe{").decode()
    event["isBase64Encoded"] = True
    before = tables.snapshot()
    response = comments_api.handler(event, None)
    assert response["statusCode"] == 400
    assert_error(json.loads(response["body"]), "INVALID_JSON")
    assert tables.snapshot() == before


def test_base64_json_body_is_accepted():
    import base64

    path, route, params = comments_path("post-1")
    event = http_event("POST", path, route=route, path_parameters=params, user_id="alice")
    event["body"] = base64.b64encode(json.dumps({"content": "from base64"}).encode()).decode()
    event["isBase64Encoded"] = True
    response = comments_api.handler(event, None)
    assert response["statusCode"] == 201 and json.loads(response["body"])["content"] == "from base64"


def test_overlong_comment_id_is_400(tables):
    before = tables.snapshot()
    status, body, _ = call("PATCH", comment_id="x" * 500, body={"content": "x"}, user_id="alice")
    assert status == 400
    assert_error(body)
    assert tables.snapshot() == before
