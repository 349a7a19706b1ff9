"""Property checks: whatever a client sends, no handler crashes, REST never answers 5xx, no write."""

from __future__ import annotations

import json

from events import comments_path, http_event, ws_event
from handlers import comments_api, ws_actions, ws_default
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

PROPERTY_SETTINGS = settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=8), children, max_size=3)
    ),
    max_leaves=8,
)
frames = st.one_of(
    st.text(max_size=200),
    json_values.map(json.dumps),
    st.fixed_dictionaries(
        {"action": st.sampled_from(["subscribe", "unsubscribe", "ping"])},
        optional={"postId": json_values | st.text(max_size=200), "since": json_values},
    ).map(json.dumps),
)


@PROPERTY_SETTINGS
@given(frame=frames)
def test_websocket_routes_never_crash(frame, connections_sink):
    connections_sink.reset()
    for route, module in (("subscribe", ws_actions), ("$default", ws_default)):
        assert module.handler(ws_event(route, "fuzz-conn", raw_body=frame), None) == {"statusCode": 200}
    replies = [json.loads(body) for _, body in connections_sink.posts]
    assert replies and all({"type", "data", "timestamp"} <= set(reply) for reply in replies)


bodies = st.one_of(
    st.text(max_size=100),
    json_values.map(json.dumps),
    st.dictionaries(st.sampled_from(["content", "userId", "id", "x"]), json_values, max_size=3).map(
        json.dumps
    ),
)


@PROPERTY_SETTINGS
@given(body=bodies)
def test_comment_writes_with_bad_bodies_are_4xx_and_write_nothing(body, tables):
    if _is_valid_content(body):
        return
    before = tables.snapshot()
    for method, comment_id in (("POST", None), ("PATCH", "some-id")):
        path, route, params = comments_path("post-1", comment_id)
        event = http_event(method, path, route=route, path_parameters=params, raw_body=body, user_id="alice")
        response = comments_api.handler(event, None)
        assert 400 <= response["statusCode"] < 500
        assert set(json.loads(response["body"])["error"]) == {"code", "message"}
    assert tables.snapshot() == before


def _is_valid_content(body: str) -> bool:
    try:
        parsed = json.loads(body)
    except ValueError:
        return False
    return (
        isinstance(parsed, dict)
        and set(parsed) == {"content"}
        and isinstance(parsed["content"], str)
        and 0 < len(parsed["content"].strip()) <= 4000
    )
