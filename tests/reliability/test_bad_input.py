"""Bad input, property-based: whatever arrives, no handler answers 5xx or raises (except the
authorizer's documented ``Unauthorized``), rejected input writes nothing, and every rejection
carries a clear message (REST: ``{"error": {"code", "message"}}``; WebSocket: an ``error``
envelope with ``action`` and ``message``).

Every text the strategies produce may hold what JSON can carry but DynamoDB or a WebSocket frame
cannot: lone surrogates (``"\\ud800"`` escapes, or raw in a str), NUL and other control
characters, and JSON escapes of all of those; bodies come both escaped (``ensure_ascii``) and raw.

Each test runs a bounded number of examples against one module's tables on the moto server.
"""

from __future__ import annotations

import base64
import json
import string
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from benchmarks.events import (
    FakeContext,
    authorizer_event,
    broadcast_event,
    comments_event,
    connect_event,
    http_event,
    sqs_record,
    stream_record,
    ws_event,
)

EXAMPLES = 60
SETTINGS = settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

# --- strategies ----------------------------------------------------------------------------------
# Text that JSON can carry but DynamoDB (UTF-8) or a frame cannot, or that a comment must not hold.
TRICKY_TEXTS = [
    "\ud800",  # a lone high surrogate
    "\udfff",  # a lone low surrogate
    "a\udc00b",
    "\udc00\ud800",  # a pair in the wrong order
    "\ud83d\ude00",  # a correct pair as two code points: still not UTF-8 encodable in Python
    "😀",
    "\x00",
    "nul\x00inside",
    "\x1b[31mred\x1b[0m",
    "\x07\x08\x0b\x0c\x7f",
    "\x85\x9f",  # C1 controls
    "\u2028\u2029",  # JSON-legal line separators
    "\ufeff",
    "\ufffe\uffff",
    "\\u0000",  # the six characters of an escape, not the escape itself
    "\t\n\r",
]
# Raw JSON bodies with the escapes written out, so the handler's own json.loads makes the bad text.
ESCAPED_BODIES = [
    '{"content":"\\ud800"}',
    '{"content":"ok \\udfff"}',
    '{"content":"\\udc00\\ud800"}',
    '{"content":"\\ud83d\\ude00"}',
    '{"content":"\\u0000"}',
    '{"content":"a\\u0000b"}',
    '{"content":"\\u001b[2J"}',
    '{"content":"\\u2028"}',
    '{"\\ud800":"x"}',
    '{"content":"x","\\u0000":1}',
]
tricky_text = st.one_of(
    st.sampled_from(TRICKY_TEXTS),
    st.text(alphabet=st.characters(codec=None, exclude_categories=()), max_size=12),
    st.lists(st.sampled_from(TRICKY_TEXTS + ["a", " ", "é"]), max_size=4).map("".join),
)
any_text = st.one_of(st.text(max_size=40), tricky_text)
json_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    any_text,
)
json_values = st.recursive(
    json_scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.dictionaries(st.one_of(st.text(max_size=10), tricky_text), inner, max_size=4),
    ),
    max_leaves=12,
)
ids_text = st.one_of(
    st.text(max_size=30),
    tricky_text,
    st.sampled_from(
        ["", " ", "p1", "../x", "a" * 600, "p\x00", "🙂", "post-1", "%2F", "<script>", "#stats#00"]
    ),
)
content_values = st.one_of(
    json_values,
    any_text,
    st.sampled_from(["", "   ", "\n\t", "x" * 4001, "x" * 4000, "ok", "ok\ud800", "x" * 3999 + "\x00"]),
)
raw_bodies = st.one_of(
    st.none(),
    st.text(max_size=60),
    st.binary(max_size=40).map(lambda b: b.decode("latin-1")),
    st.sampled_from(
        [
            "{",
            "[]",
            "null",
            "1",
            '"x"',
            "{}",
            '{"content": }',
            "\ufeff{}",
            '{"content":"a","content":"b"}',
            "[" * 2000 + "]" * 2000,
            *ESCAPED_BODIES,
        ]
    ),
)


def _json_body(value: Any, escaped: bool = True) -> str:
    """JSON text of `value`: with `escaped`, lone surrogates and controls become \\uXXXX escapes
    (what a client sends); without, they stay raw characters in the str."""
    try:
        return json.dumps(value, ensure_ascii=escaped)
    except (ValueError, TypeError):
        return "null"


def _json_bodies(values: st.SearchStrategy[Any]) -> st.SearchStrategy[str]:
    return st.tuples(values, st.booleans()).map(lambda pair: _json_body(*pair))


body_objects = st.fixed_dictionaries(
    {},
    optional={
        "content": content_values,
        "extra": json_values,
        "userId": json_values,
        "id": json_values,
        "seq": json_values,
        "postId": json_values,
    },
)
body_objects = _json_bodies(body_objects)
any_body = st.one_of(raw_bodies, body_objects, _json_bodies(json_values))
header_maps = st.dictionaries(
    st.sampled_from(
        ["Idempotency-Key", "content-type", "Authorization", "X-Other", "idempotency-key", "Origin"]
    ),
    st.one_of(st.text(alphabet=string.printable + "é\x00\ud800\x1b", max_size=80), tricky_text),
    max_size=3,
)
query_maps = st.dictionaries(
    st.sampled_from(["limit", "after", "cursor", "since", "x"]),
    st.one_of(
        st.text(max_size=20),
        tricky_text,
        st.sampled_from(["-1", "0", "51", "1e3", "99999999999999", "abc", "", " 5", "٣", "5\x00"]),
    ),
    max_size=3,
)
claims_maps = st.one_of(
    st.none(),
    st.just({}),
    st.just({"sub": "alice"}),
    st.just({"sub": ""}),
    st.dictionaries(st.sampled_from(["sub", "aud", "x"]), json_values, max_size=2),
)


def _check_rest(response: dict[str, Any]) -> dict[str, Any] | None:
    assert isinstance(response, dict), response
    status = response["statusCode"]
    assert status < 500, response
    if status >= 400:
        body = json.loads(response["body"])
        error = body["error"]
        assert isinstance(error["code"], str) and error["code"], body
        assert isinstance(error["message"], str) and error["message"].strip(), body
        return body
    return None


# --- comments_api --------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def comments_api(rel_env: Any) -> Any:
    from handlers import comments_api

    return comments_api


@SETTINGS
@given(
    method=st.sampled_from(["POST", "GET", "PATCH", "DELETE", "PUT", "HEAD", "OPTIONS"]),
    post_id=ids_text,
    comment_id=st.one_of(st.none(), ids_text),
    body=any_body,
    headers=header_maps,
    query=query_maps,
    claims=claims_maps,
    base64_body=st.booleans(),
)
def test_comments_api_never_5xx_and_rejections_write_nothing(
    rel_env: Any,
    comments_api: Any,
    method: str,
    post_id: str,
    comment_id: str | None,
    body: str | None,
    headers: dict[str, str],
    query: dict[str, str],
    claims: dict | None,
    base64_body: bool,
) -> None:
    before = rel_env.snapshot()
    raw = body
    if base64_body and body is not None:
        raw = base64.b64encode(body.encode("utf-8", "surrogatepass")).decode()
    event = comments_event(
        method,
        post_id or "p",
        comment_id=comment_id,
        body=raw,
        claims=claims,
        headers=headers,
        query=query,
        is_base64=base64_body and body is not None,
    )
    if post_id:
        event["pathParameters"]["postId"] = post_id
    response = comments_api.handler(event, FakeContext())
    error = _check_rest(response)
    if error is not None:
        assert rel_env.snapshot() == before, f"a rejected request wrote: {error}"


@SETTINGS
@given(
    path=st.one_of(
        st.text(max_size=40),
        st.sampled_from(
            ["/", "/api/v1", "/api/v1/posts//comments", "/api/v1/posts/p/comments/c/x", "/api/v2/broadcast"]
        ),
    ),
    method=st.sampled_from(["GET", "POST", "PATCH", "DELETE"]),
    body=any_body,
)
def test_comments_api_unknown_routes_are_4xx(
    rel_env: Any, comments_api: Any, path: str, method: str, body: str | None
) -> None:
    before = rel_env.snapshot()
    response = comments_api.handler(http_event(method, "/" + path.lstrip("/"), body=body), FakeContext())
    _check_rest(response)
    if response["statusCode"] >= 400:
        assert rel_env.snapshot() == before


def test_comments_api_valid_post_still_works(rel_env: Any, comments_api: Any) -> None:
    """The properties above must not pass because everything is rejected."""
    response = comments_api.handler(
        comments_event("POST", "rel-ok", body={"content": "hello"}, claims={"sub": "alice"}), FakeContext()
    )
    assert response["statusCode"] == 201, response
    assert json.loads(response["body"])["content"] == "hello"


def _seqs(rel_env: Any, post_id: str) -> list[int]:
    items = rel_env.client.query(
        TableName=rel_env.comments,
        KeyConditionExpression="postId = :p AND seq > :zero",
        ExpressionAttributeValues={":p": {"S": post_id}, ":zero": {"N": "0"}},
        ConsistentRead=True,
    )["Items"]
    return sorted(int(item["seq"]["N"]) for item in items)


def _post(comments_api: Any, post_id: str, body: str, headers: dict[str, str] | None = None) -> Any:
    return comments_api.handler(
        comments_event("POST", post_id, body=body, claims={"sub": "alice"}, headers=headers or {}),
        FakeContext(),
    )


@pytest.mark.parametrize(
    "bad_body",
    [
        '{"content":"\\ud800"}',  # the escape as a client sends it
        json.dumps({"content": "\ud800"}, ensure_ascii=False),  # the raw surrogate in the text
        '{"content":"fine until \\udfff"}',
        '{"content":"\\u0000"}',
        '{"content":"bell \\u0007"}',
    ],
)
def test_refused_text_leaves_no_gap_in_seq(rel_env: Any, comments_api: Any, bad_body: str) -> None:
    """POST ok, POST with bad text -> 400 VALIDATION_ERROR, POST ok: the post holds seq 1 and 2."""
    import uuid

    post_id = f"rel-gap-{uuid.uuid4().hex[:8]}"
    assert _post(comments_api, post_id, '{"content":"first"}')["statusCode"] == 201
    before = rel_env.snapshot()
    refused = _post(comments_api, post_id, bad_body)
    assert refused["statusCode"] == 400, refused
    assert json.loads(refused["body"])["error"]["code"] == "VALIDATION_ERROR"
    assert rel_env.snapshot() == before  # the counter item (seq 0, lastSeq) included
    # The same with an Idempotency-Key: refused before the idempotency record is written.
    keyed = _post(comments_api, post_id, bad_body, headers={"Idempotency-Key": "k-" + post_id})
    assert keyed["statusCode"] == 400
    assert rel_env.snapshot() == before
    second = _post(comments_api, post_id, '{"content":"second"}')
    assert second["statusCode"] == 201
    assert json.loads(second["body"])["seq"] == 2
    assert _seqs(rel_env, post_id) == [1, 2]


def test_refused_patch_text_leaves_the_comment_unchanged(rel_env: Any, comments_api: Any) -> None:
    created = json.loads(_post(comments_api, "rel-patch-text", '{"content":"original"}')["body"])
    before = rel_env.snapshot()
    for body in ('{"content":"\\ud800"}', '{"content":"\\u0000"}'):
        response = comments_api.handler(
            comments_event(
                "PATCH", "rel-patch-text", comment_id=created["id"], body=body, claims={"sub": "alice"}
            ),
            FakeContext(),
        )
        assert response["statusCode"] == 400, response
        assert json.loads(response["body"])["error"]["code"] == "VALIDATION_ERROR"
    assert rel_env.snapshot() == before


@pytest.mark.parametrize(
    "text",
    ["😀 fine", "tab\tand\nnewlines\r\n", "line\u2028separator", "\ufeffbom", "ok \\u0000 literally"],
)
def test_unusual_but_valid_text_round_trips(rel_env: Any, comments_api: Any, text: str) -> None:
    """Valid Unicode (emoji, tabs and newlines, U+2028, a BOM) is stored and read back unchanged."""
    response = _post(comments_api, "rel-roundtrip", json.dumps({"content": text}))
    assert response["statusCode"] == 201, response
    created = json.loads(response["body"])
    assert created["content"] == text.strip()
    listed = comments_api.handler(comments_event("GET", "rel-roundtrip"), FakeContext())
    by_id = {c["id"]: c for c in json.loads(listed["body"])["comments"]}
    assert by_id[created["id"]]["content"] == text.strip()


@SETTINGS
@given(content=tricky_text, escaped=st.booleans())
def test_any_refused_content_costs_no_seq(
    rel_env: Any, comments_api: Any, content: str, escaped: bool
) -> None:
    """Whatever the text, a refused POST moves nothing; an accepted one takes exactly the next seq."""
    post_id = "rel-seq-prop"
    before = _seqs(rel_env, post_id)
    body = _json_body({"content": content}, escaped)
    response = _post(comments_api, post_id, body)
    _check_rest(response)
    after = _seqs(rel_env, post_id)
    if response["statusCode"] == 201:
        assert after == [*before, (before[-1] if before else 0) + 1]
        # (an escaped surrogate pair arrives as the one character it stands for)
        assert json.loads(response["body"])["content"] == json.loads(body)["content"].strip()
    else:
        assert after == before
    counter = rel_env.client.get_item(
        TableName=rel_env.comments,
        Key={"postId": {"S": post_id}, "seq": {"N": "0"}},
        ConsistentRead=True,
    ).get("Item")
    assert (int(counter["lastSeq"]["N"]) if counter else 0) == len(after)


# --- broadcast_endpoint --------------------------------------------------------------------------
broadcast_bodies = st.one_of(
    any_body,
    st.fixed_dictionaries(
        {},
        optional={
            "type": st.one_of(
                json_values, st.sampled_from(["comment.created", "test", "comments.list", "other"])
            ),
            "data": json_values,
            "postId": st.one_of(json_values, ids_text),
            "extra": json_values,
        },
    ).flatmap(lambda body: _json_bodies(st.just(body))),
    st.fixed_dictionaries(
        {
            "type": st.sampled_from(["test", "comment.created"]),
            "data": st.dictionaries(any_text, json_values),
        },
        optional={"postId": ids_text},
    ).flatmap(lambda body: _json_bodies(st.just(body))),
    st.sampled_from(
        [
            '{"type":"test","data":{"message":"\\ud800"}}',
            '{"type":"test","data":{"\\udfff":1}}',
            '{"type":"test","data":{"n":NaN}}',
            '{"type":"test","data":{"n":-Infinity}}',
            '{"type":"test","data":{"message":"\\u0000"}}',
            '{"type":"test","data":{},"postId":"\\ud800"}',
            '{"type":"\\ud800","data":{}}',
        ]
    ),
)


@SETTINGS
@given(body=broadcast_bodies)
def test_broadcast_endpoint_never_5xx(rel_env: Any, _sink_server: Any, body: str | None) -> None:
    from handlers import broadcast_endpoint

    before = rel_env.snapshot()
    response = broadcast_endpoint.handler(broadcast_event(body if body is not None else ""), FakeContext())
    _check_rest(response)
    if response["statusCode"] >= 400:
        assert rel_env.snapshot() == before
    else:
        assert response["statusCode"] == 202
        assert json.loads(response["body"])["status"] == "accepted"


# --- WebSocket handlers --------------------------------------------------------------------------
def _replies(sink: Any, connection_id: str) -> list[dict[str, Any]]:
    messages = sink.messages_for(connection_id)
    for message in messages:
        assert set(message) == {"type", "data", "timestamp"}, message
        assert message["timestamp"].endswith("Z")
    return messages


ws_bodies = st.one_of(
    raw_bodies,
    st.fixed_dictionaries(
        {},
        optional={
            "action": st.one_of(
                json_values, st.sampled_from(["subscribe", "unsubscribe", "ping", "sendmessage", ""])
            ),
            "postId": st.one_of(json_values, ids_text),
            "since": json_values,
            "extra": json_values,
        },
    ).flatmap(lambda body: _json_bodies(st.just(body))),
    st.sampled_from(
        [
            '{"action":"\\ud800"}',
            '{"action":"subscribe","postId":"\\ud800"}',
            '{"action":"subscribe","postId":"p\\u0000"}',
            '{"action":"subscribe","postId":"p1","since":"\\u0000"}',
            '{"action":"unsubscribe","postId":"\\udc00"}',
            '{"action":"ping","\\ud800":1}',
            '{"action":"\\u0000"}',
        ]
    ),
)


@SETTINGS
@given(
    body=ws_bodies,
    route=st.sampled_from(["subscribe", "unsubscribe", "ping", "$default", "x"]),
    user=st.one_of(st.none(), st.just("alice")),
    binary=st.booleans(),
)
def test_ws_actions_reply_clearly_and_rejections_write_nothing(
    rel_env: Any, _sink_server: Any, body: str | None, route: str, user: str | None, binary: bool
) -> None:
    from handlers import ws_actions

    _sink_server.reset()
    connection_id = "rel-ws-actions"
    before = rel_env.snapshot()
    raw = body
    if binary and body is not None:
        raw = base64.b64encode(body.encode("utf-8", "surrogatepass")).decode()
    event = ws_event(connection_id, route, raw, user_id=user, is_base64=binary and body is not None)
    response = ws_actions.handler(event, FakeContext())
    assert response == {"statusCode": 200}
    replies = _replies(_sink_server, connection_id)
    assert replies, "every frame gets at least one reply"
    errors = [m for m in replies if m["type"] == "error"]
    for error in errors:
        assert isinstance(error["data"].get("action"), str)
        assert isinstance(error["data"].get("message"), str) and error["data"]["message"].strip()
    if errors:
        assert rel_env.snapshot() == before, "a rejected action wrote to a table"
    else:
        assert replies[0]["type"] in {"subscribed", "unsubscribed", "pong"}, replies


@pytest.mark.parametrize(
    ("frame", "action"),
    [('{"action":"\\ud800"}', "\ufffd"), ('{"action":"x\\udc00y"}', "x\ufffdy")],
)
def test_ws_action_name_that_is_not_text_is_echoed_safely(
    rel_env: Any, _sink_server: Any, frame: str, action: str
) -> None:
    from handlers import ws_actions

    _sink_server.reset()
    before = rel_env.snapshot()
    assert ws_actions.handler(ws_event("rel-ws-surrogate", "subscribe", frame), FakeContext()) == {
        "statusCode": 200
    }
    (reply,) = _replies(_sink_server, "rel-ws-surrogate")
    assert reply["type"] == "error" and reply["data"]["action"] == action
    assert rel_env.snapshot() == before


@SETTINGS
@given(body=st.one_of(raw_bodies, ws_bodies), binary=st.booleans())
def test_ws_default_echoes_anything(rel_env: Any, _sink_server: Any, body: str | None, binary: bool) -> None:
    from handlers import ws_default

    _sink_server.reset()
    before = rel_env.snapshot()
    raw = body
    if binary and body is not None:
        raw = base64.b64encode(body.encode("utf-8", "surrogatepass")).decode()
    response = ws_default.handler(
        ws_event("rel-ws-default", "$default", raw, is_base64=binary and body is not None), FakeContext()
    )
    assert response == {"statusCode": 200}
    replies = _replies(_sink_server, "rel-ws-default")
    assert [m["type"] for m in replies] == ["test"]
    assert isinstance(replies[0]["data"]["message"], str)
    if body is not None and not binary:
        # Text echoes verbatim; lone surrogates (which no frame can carry) come back as U+FFFD.
        expected = body.encode("utf-16", "surrogatepass").decode("utf-16", "replace")
        assert replies[0]["data"]["message"] == expected
    assert rel_env.snapshot() == before


@SETTINGS
@given(
    context=st.one_of(
        st.none(),
        st.just({}),
        st.dictionaries(
            st.sampled_from(["connectionId", "routeKey", "authorizer", "eventType"]), json_values, max_size=4
        ),
    )
)
def test_ws_connect_and_disconnect_malformed_events(rel_env: Any, context: Any) -> None:
    from handlers import ws_connect, ws_disconnect

    before = rel_env.snapshot()
    for module in (ws_connect, ws_disconnect):
        event: dict[str, Any] = {} if context is None else {"requestContext": context}
        try:
            response = module.handler(event, FakeContext())
        except (ValueError, KeyError, TypeError):
            # API Gateway always sends connectionId; an event without one may fail fast, unanswered,
            # as long as nothing was written.
            assert rel_env.snapshot() == before
            continue
        assert isinstance(response, dict) and response.get("statusCode", 200) < 500, response
        if response.get("statusCode", 200) >= 400:
            assert rel_env.snapshot() == before


def test_ws_connect_without_authorizer_user_is_refused(rel_env: Any) -> None:
    from handlers import ws_connect

    before = rel_env.snapshot()
    response = ws_connect.handler(connect_event("rel-no-user", user_id=None), FakeContext())
    assert response["statusCode"] == 403
    assert rel_env.snapshot() == before


# --- authorizer ----------------------------------------------------------------------------------
tokens = st.one_of(
    st.none(),
    st.text(max_size=80),
    tricky_text,
    st.sampled_from(
        [
            "",
            "a.b.c",
            "eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.",
            "Bearer x",
            "x" * 5000,
            "eyJhbGciOiJSUzI1NiIsImtpZCI6InRlc3Qta2V5LTEifQ.e30.AAAA",
        ]
    ),
)


@SETTINGS
@given(
    token=tokens,
    origin=st.one_of(st.none(), st.text(max_size=30), tricky_text, st.just("https://app.example.com")),
    headers=st.one_of(st.none(), st.dictionaries(st.text(max_size=10), st.text(max_size=10), max_size=3)),
    query=st.one_of(st.none(), st.dictionaries(st.text(max_size=8), st.text(max_size=8), max_size=2)),
)
def test_authorizer_never_allows_garbage(
    rel_env: Any, token: str | None, origin: str | None, headers: dict | None, query: dict | None
) -> None:
    from handlers import authorizer

    before = rel_env.snapshot()
    event = authorizer_event(token, origin=origin, headers=headers, query=query)
    if token is not None:
        event["queryStringParameters"]["token"] = token
    try:
        response = authorizer.handler(event, FakeContext())
    except Exception as exc:  # noqa: BLE001 - only the documented refusal may escape
        assert str(exc) == "Unauthorized", repr(exc)
    else:
        effect = response["policyDocument"]["Statement"][0]["Effect"]
        assert effect == "Deny", f"garbage token allowed: {token!r}"
    assert rel_env.snapshot() == before


@SETTINGS
@given(
    event=st.one_of(
        st.just({}),
        st.fixed_dictionaries(
            {},
            optional={
                "type": st.sampled_from(["REQUEST", "TOKEN", ""]),
                "methodArn": st.text(max_size=20),
                "headers": st.one_of(
                    st.none(), st.dictionaries(st.text(max_size=8), st.text(max_size=8), max_size=3)
                ),
                "queryStringParameters": st.one_of(
                    st.none(),
                    st.dictionaries(st.sampled_from(["token", "x"]), st.text(max_size=20), max_size=2),
                ),
                "requestContext": st.one_of(
                    st.none(),
                    st.just({}),
                    st.dictionaries(st.sampled_from(["connectionId", "x"]), st.text(max_size=8), max_size=2),
                ),
            },
        ),
    )
)
def test_authorizer_malformed_events(rel_env: Any, event: dict) -> None:
    """Missing or empty parts of the event (what a client controls), not wrong JSON types (API Gateway
    always sends objects there)."""
    from handlers import authorizer

    try:
        response = authorizer.handler(event, FakeContext())
    except Exception as exc:  # noqa: BLE001
        assert str(exc) == "Unauthorized", repr(exc)
    else:
        assert response["policyDocument"]["Statement"][0]["Effect"] == "Deny"


def test_authorizer_valid_token_still_allowed(rel_env: Any, jwt_issuer: Any) -> None:
    from handlers import authorizer

    response = authorizer.handler(
        authorizer_event(jwt_issuer.mint(), origin="https://app.example.com"), FakeContext()
    )
    assert response["policyDocument"]["Statement"][0]["Effect"] == "Allow"
    assert response["context"]["userId"] == "alice"


# --- stream broadcaster and fan-out worker: malformed records are reported, never raised ---------
def _record_images() -> st.SearchStrategy[dict[str, Any]]:
    attr = st.one_of(
        st.fixed_dictionaries({"S": st.text(max_size=10)}),
        st.fixed_dictionaries({"N": st.sampled_from(["0", "1", "x", "-1", "1e400", ""])}),
        json_values,
    )
    return st.dictionaries(
        st.sampled_from(["postId", "seq", "id", "content", "userId", "createdAt", "x"]), attr, max_size=7
    )


@SETTINGS
@given(
    event_name=st.one_of(st.sampled_from(["INSERT", "MODIFY", "REMOVE"]), st.text(max_size=8)),
    image=_record_images(),
    drop=st.sets(st.sampled_from(["dynamodb", "eventName", "NewImage", "OldImage"])),
)
def test_stream_broadcaster_reports_malformed_records(
    rel_env: Any, _sink_server: Any, event_name: str, image: dict, drop: set
) -> None:
    from handlers import stream_broadcaster

    record = stream_record("INSERT", {"postId": "rel-stream", "seq": 1}, seq_no=2)
    record["eventName"] = event_name
    record["dynamodb"]["NewImage"] = image
    record["dynamodb"]["OldImage"] = image
    for key in drop:
        record.pop(key, None)
        record.get("dynamodb", {}).pop(key, None)
    good = stream_record(
        "INSERT",
        {
            "postId": "rel-stream",
            "seq": 2,
            "id": "c2",
            "content": "ok",
            "userId": "u",
            "createdAt": "2026-01-01T00:00:00Z",
        },
        seq_no=1,
    )
    before = rel_env.snapshot()
    response = stream_broadcaster.handler({"Records": [good, record]}, FakeContext())
    failures = {f["itemIdentifier"] for f in response["batchItemFailures"]}
    assert good["dynamodb"]["SequenceNumber"] not in failures
    assert failures <= {record["dynamodb"]["SequenceNumber"]} if "dynamodb" in record else True
    assert rel_env.snapshot() == before


def _sqs_text(body: str) -> str:
    """SQS carries only valid Unicode: a raw lone surrogate arrives as its JSON escape instead."""
    return body.encode("utf-8", "backslashreplace").decode("utf-8")


@SETTINGS
@given(
    body=st.one_of(
        any_body.map(lambda b: b if b is not None else ""),
        st.fixed_dictionaries({}, optional={"message": json_values, "connectionIds": json_values}).map(
            _json_body
        ),
    ).map(_sqs_text)
)
def test_fanout_worker_reports_malformed_messages(rel_env: Any, _sink_server: Any, body: str) -> None:
    from handlers import fanout_worker

    good = sqs_record(
        json.dumps({"message": '{"type":"test","data":{},"timestamp":"x"}', "connectionIds": []})
    )
    bad = sqs_record(body)
    response = fanout_worker.handler({"Records": [good, bad]}, FakeContext())
    failures = {f["itemIdentifier"] for f in response["batchItemFailures"]}
    assert good["messageId"] not in failures
