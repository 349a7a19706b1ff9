"""NotificationsStore alone, the notifier on the comments stream, and the notification routes."""

from __future__ import annotations

import json

import pytest
from aws_cdk import Duration, Stack
from aws_cdk.assertions import Match, Template
from infra_helpers import manage_connections_resources, websocket_api
from realtime_comments_cdk import (
    Broadcaster,
    CommentsApi,
    CommentsStore,
    ConnectionsStore,
    NotificationsStore,
    TableOptions,
)


def test_notifications_store_schema_alone(bare_stack):
    stack = bare_stack()
    store = NotificationsStore(stack, "Notifications")
    t = Template.from_stack(stack)
    t.resource_count_is("AWS::DynamoDB::Table", 1)
    t.has_resource(
        "AWS::DynamoDB::Table",
        {
            "Properties": {
                "KeySchema": [
                    {"AttributeName": "userId", "KeyType": "HASH"},
                    {"AttributeName": "id", "KeyType": "RANGE"},
                ],
                "BillingMode": "PAY_PER_REQUEST",
                "TimeToLiveSpecification": {"AttributeName": "expiresAt", "Enabled": True},
                "SSESpecification": {"SSEEnabled": True},
                "GlobalSecondaryIndexes": Match.absent(),
            },
            "DeletionPolicy": "Retain",
        },
    )
    assert store.retention.to_days() == 30 and store.ttl_attribute == "expiresAt"


def test_notifications_store_options_and_existing_table(bare_stack):
    stack = bare_stack()
    store = NotificationsStore(
        stack,
        "Notifications",
        retention=Duration.days(7),
        table_options=TableOptions(point_in_time_recovery=True),
    )
    assert store.retention.to_days() == 7
    Template.from_stack(stack).has_resource_properties(
        "AWS::DynamoDB::Table", {"PointInTimeRecoverySpecification": {"PointInTimeRecoveryEnabled": True}}
    )
    existing = NotificationsStore(stack, "Imported", existing_table=store.table)
    assert existing.table is store.table
    with pytest.raises(ValueError, match="not both"):
        NotificationsStore(stack, "Both", existing_table=store.table, table_options=TableOptions())
    with pytest.raises(ValueError, match="retention"):
        NotificationsStore(stack, "Zero", retention=Duration.seconds(0))


@pytest.fixture
def wired(bare_stack):
    stack = bare_stack()
    connections = ConnectionsStore(stack, "Connections").table
    comments = CommentsStore(stack, "Comments").table
    notifications = NotificationsStore(stack, "Notifications", retention=Duration.days(10))
    websocket = websocket_api(stack, connections, comments)
    broadcaster = Broadcaster(
        stack,
        "Broadcaster",
        comments_table=comments,
        connections_table=connections,
        websocket=websocket,
        notifications=notifications,
    )
    api = CommentsApi(
        stack,
        "Api",
        comments_table=comments,
        connections_table=connections,
        jwt_issuer="https://issuer.example.com",
        jwt_audience="client",
        websocket=websocket,
        allowed_origins=("https://app.example.com",),
        broadcast_principals=(),
        notifications=notifications,
    )
    template = Template.from_stack(stack)
    granted = manage_connections_resources(template)
    return stack, broadcaster, api, granted, template


def test_notifier_consumes_the_comments_stream_filtered_to_new_replies(wired):
    _, broadcaster, _, granted, t = wired
    assert broadcaster.notify_function is not None
    notifier = broadcaster.notify_function
    role_id = Stack.of(notifier).resolve(notifier.role.node.default_child.logical_id)
    assert granted[role_id] and all("/test/POST/@connections/*" in r for r in granted[role_id])
    mappings = [
        m["Properties"]
        for m in t.find_resources("AWS::Lambda::EventSourceMapping").values()
        if "parentUserId" in json.dumps(m["Properties"].get("FilterCriteria"))
    ]
    (mapping,) = mappings
    pattern = json.loads(mapping["FilterCriteria"]["Filters"][0]["Pattern"])
    assert pattern == {
        "eventName": ["INSERT"],
        "dynamodb": {"NewImage": {"parentUserId": {"S": [{"exists": True}]}}},
    }
    assert mapping["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert mapping["BisectBatchOnFunctionError"] is True and "OnFailure" in mapping["DestinationConfig"]
    t.has_resource_properties(
        "AWS::Lambda::Function",
        {
            "Handler": "handlers.notifier.handler",
            "Environment": {"Variables": Match.object_like({"NOTIFICATION_TTL_SECONDS": str(10 * 86400)})},
        },
    )


def _statements_of(t, handler_fragment):
    roles = {
        lid: fn["Properties"]["Role"]["Fn::GetAtt"][0]
        for lid, fn in t.find_resources("AWS::Lambda::Function").items()
        if handler_fragment in fn["Properties"]["Handler"]
    }
    (role,) = roles.values()
    return [
        statement
        for policy in t.find_resources("AWS::IAM::Policy").values()
        if any(r["Ref"] == role for r in policy["Properties"]["Roles"])
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]
    ]


def _actions_on(statements, table_prefix):
    found = set()
    for statement in statements:
        if table_prefix in json.dumps(statement["Resource"]):
            actions = statement["Action"]
            found |= set(actions if isinstance(actions, list) else [actions])
    return found


def test_least_privilege_on_the_notifications_table(wired):
    t = wired[-1]
    assert _actions_on(_statements_of(t, "notifier"), "NotificationsTable") == {"dynamodb:PutItem"}
    api_statements = _statements_of(t, "notifications_api")
    assert _actions_on(api_statements, "NotificationsTable") == {"dynamodb:Query", "dynamodb:UpdateItem"}
    assert _actions_on(api_statements, "ConnectionsTable") == set()  # nothing else


def test_notification_routes_need_the_jwt(wired):
    t = wired[-1]
    routes = {
        r["Properties"]["RouteKey"]: r["Properties"]
        for r in t.find_resources("AWS::ApiGatewayV2::Route").values()
        if " /" in r["Properties"]["RouteKey"]  # the HTTP API's, not the WebSocketApi's
    }
    for key in ("GET /api/v1/notifications", "POST /api/v1/notifications/read"):
        assert routes[key]["AuthorizationType"] == "JWT", key


def test_without_notifications_nothing_is_added(bare_stack):
    stack = bare_stack()
    connections = ConnectionsStore(stack, "Connections").table
    comments = CommentsStore(stack, "Comments").table
    b = Broadcaster(
        stack,
        "B",
        comments_table=comments,
        connections_table=connections,
        websocket=websocket_api(stack, connections, comments),
    )
    assert b.notify_function is None and b.notify_event_source is None
    assert "notifier" not in json.dumps(Template.from_stack(stack).to_json())
