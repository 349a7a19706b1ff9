"""Each construct alone in a bare Stack: its contract, existing-resource vs props, ValueError."""

from __future__ import annotations

import json

import pytest
from aws_cdk import Duration, RemovalPolicy, Stack
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sqs as sqs
from aws_cdk.assertions import Match, Template
from infra_helpers import manage_connections_resources, websocket_api
from realtime_comments_cdk import (
    Broadcaster,
    BroadcasterOptions,
    CommentsApi,
    CommentsApiOptions,
    CommentsStore,
    ConnectionsStore,
    FunctionDefaults,
    HostedSignIn,
    Identity,
    Monitoring,
    MonitoringThresholds,
    OidcIssuer,
    ServiceFunction,
    TableOptions,
    UserPoolOptions,
    WebSocketApi,
    WebSocketApiOptions,
)

ISSUER = "https://issuer.example.com"
AUDIENCE = "client-123"
JWKS = "https://issuer.example.com/.well-known/jwks.json"


def _tables(stack):
    return (
        ConnectionsStore(stack, "Connections").table,
        CommentsStore(stack, "Comments").table,
    )


# --------------------------------------------------------------------------- ConnectionsStore
def test_connections_store_schema(bare_stack):
    stack = bare_stack()
    store = ConnectionsStore(stack, "Connections")
    t = Template.from_stack(stack)
    t.resource_count_is("AWS::DynamoDB::Table", 1)
    t.has_resource(
        "AWS::DynamoDB::Table",
        {
            "Properties": {
                "KeySchema": [
                    {"AttributeName": "connectionId", "KeyType": "HASH"},
                    {"AttributeName": "sk", "KeyType": "RANGE"},
                ],
                "BillingMode": "PAY_PER_REQUEST",
                "TimeToLiveSpecification": {"AttributeName": "expiresAt", "Enabled": True},
                "SSESpecification": {"SSEEnabled": True},
                "GlobalSecondaryIndexes": [
                    {
                        "IndexName": "byPost",
                        "KeySchema": [
                            {"AttributeName": "postId", "KeyType": "HASH"},
                            {"AttributeName": "connectionId", "KeyType": "RANGE"},
                        ],
                        "Projection": {"ProjectionType": "KEYS_ONLY"},
                    },
                    {
                        "IndexName": "byUser",
                        "KeySchema": [
                            {"AttributeName": "connectedUserId", "KeyType": "HASH"},
                            {"AttributeName": "connectionId", "KeyType": "RANGE"},
                        ],
                        "Projection": {"ProjectionType": "KEYS_ONLY"},
                    },
                    {
                        "IndexName": "byShard",
                        "KeySchema": [
                            {"AttributeName": "registryShard", "KeyType": "HASH"},
                            {"AttributeName": "connectionId", "KeyType": "RANGE"},
                        ],
                        "Projection": {"ProjectionType": "KEYS_ONLY"},
                    },
                ],
            },
            # Safe default without options: keep the data.
            "DeletionPolicy": "Retain",
            "UpdateReplacePolicy": "Retain",
        },
    )
    assert store.by_post_index_name == "byPost"
    assert store.by_user_index_name == "byUser"
    assert store.by_shard_index_name == "byShard"
    assert store.ttl_attribute == "expiresAt"


def test_connections_store_options(bare_stack):
    stack = bare_stack()
    ConnectionsStore(
        stack,
        "Connections",
        table_options=TableOptions(
            removal_policy=RemovalPolicy.DESTROY, deletion_protection=True, point_in_time_recovery=True
        ),
    )
    Template.from_stack(stack).has_resource(
        "AWS::DynamoDB::Table",
        {
            "DeletionPolicy": "Delete",
            "Properties": Match.object_like(
                {
                    "DeletionProtectionEnabled": True,
                    "PointInTimeRecoverySpecification": {"PointInTimeRecoveryEnabled": True},
                }
            ),
        },
    )


def test_connections_store_existing_table(bare_stack):
    stack = bare_stack()
    existing = dynamodb.Table.from_table_name(stack, "Existing", "team-connections")
    store = ConnectionsStore(stack, "Connections", existing_table=existing)
    assert store.table is existing
    sqs.Queue(stack, "Placeholder")  # a template needs one resource
    Template.from_stack(stack).resource_count_is("AWS::DynamoDB::Table", 0)


def test_connections_store_rejects_both(bare_stack):
    stack = bare_stack()
    existing = dynamodb.Table.from_table_name(stack, "Existing", "team-connections")
    with pytest.raises(ValueError, match="not both"):
        ConnectionsStore(stack, "Connections", existing_table=existing, table_options=TableOptions())


# --------------------------------------------------------------------------- CommentsStore
def test_comments_store_schema(bare_stack):
    stack = bare_stack()
    CommentsStore(stack, "Comments")
    Template.from_stack(stack).has_resource_properties(
        "AWS::DynamoDB::Table",
        {
            "KeySchema": [
                {"AttributeName": "postId", "KeyType": "HASH"},
                {"AttributeName": "seq", "KeyType": "RANGE"},
            ],
            "AttributeDefinitions": Match.array_with(
                [
                    {"AttributeName": "postId", "AttributeType": "S"},
                    {"AttributeName": "seq", "AttributeType": "N"},
                    {"AttributeName": "id", "AttributeType": "S"},
                ]
            ),
            "StreamSpecification": {"StreamViewType": "NEW_AND_OLD_IMAGES"},
            "BillingMode": "PAY_PER_REQUEST",
            "LocalSecondaryIndexes": [
                {
                    "IndexName": "byCommentId",
                    "KeySchema": [
                        {"AttributeName": "postId", "KeyType": "HASH"},
                        {"AttributeName": "id", "KeyType": "RANGE"},
                    ],
                    "Projection": {"ProjectionType": "KEYS_ONLY"},
                }
            ],
        },
    )


def test_comments_store_existing_and_both(bare_stack):
    stack = bare_stack()
    existing = dynamodb.Table.from_table_attributes(
        stack,
        "Existing",
        table_name="team-comments",
        table_stream_arn="arn:aws:dynamodb:eu-west-1:1:table/x/stream/y",
    )
    assert CommentsStore(stack, "Comments", existing_table=existing).table is existing
    with pytest.raises(ValueError):
        CommentsStore(stack, "Comments2", existing_table=existing, table_options=TableOptions())
    sqs.Queue(stack, "Placeholder")  # a template needs one resource
    Template.from_stack(stack).resource_count_is("AWS::DynamoDB::Table", 0)


# --------------------------------------------------------------------------- Identity
def test_identity_builds_user_pool_and_client(bare_stack):
    stack = bare_stack()
    identity = Identity(stack, "Identity")
    t = Template.from_stack(stack)
    t.has_resource_properties(
        "AWS::Cognito::UserPool",
        {
            "Policies": {
                "PasswordPolicy": Match.object_like(
                    {
                        "MinimumLength": 12,
                        "RequireLowercase": True,
                        "RequireUppercase": True,
                        "RequireNumbers": True,
                        "RequireSymbols": True,
                    }
                )
            },
            "MfaConfiguration": "OPTIONAL",
        },
    )
    t.has_resource_properties(
        "AWS::Cognito::UserPoolClient",
        {"GenerateSecret": False, "ExplicitAuthFlows": Match.array_with(["ALLOW_USER_SRP_AUTH"])},
    )
    resolved = stack.resolve(identity.jwks_url)
    assert "/.well-known/jwks.json" in str(resolved)
    assert stack.resolve(identity.issuer) == {
        "Fn::GetAtt": [stack.resolve(identity.user_pool.node.default_child.logical_id), "ProviderURL"]
    }
    assert identity.user_pool is not None and identity.user_pool_client is not None


def test_identity_without_hosted_sign_in_has_no_domain_and_no_oauth(bare_stack):
    stack = bare_stack()
    identity = Identity(stack, "Identity")
    t = Template.from_stack(stack)
    t.resource_count_is("AWS::Cognito::UserPoolDomain", 0)
    t.has_resource_properties("AWS::Cognito::UserPoolClient", {"AllowedOAuthFlows": Match.absent()})
    assert identity.hosted_sign_in_url is None


def test_identity_with_hosted_sign_in_adds_domain_and_only_the_code_flow(bare_stack):
    stack = bare_stack()
    identity = Identity(
        stack,
        "Identity",
        user_pool_options=UserPoolOptions(
            hosted_sign_in=HostedSignIn(
                domain_prefix="comments-example", callback_urls=("https://comments.example.com/",)
            )
        ),
    )
    t = Template.from_stack(stack)
    t.has_resource_properties("AWS::Cognito::UserPoolDomain", {"Domain": "comments-example"})
    t.has_resource_properties(
        "AWS::Cognito::UserPoolClient",
        {
            "AllowedOAuthFlows": ["code"],
            "AllowedOAuthScopes": Match.array_with(["openid"]),
            "CallbackURLs": ["https://comments.example.com/"],
            "LogoutURLs": ["https://comments.example.com/"],
        },
    )
    assert identity.hosted_sign_in_url is not None


def test_identity_with_oidc_issuer(bare_stack):
    stack = bare_stack()
    identity = Identity(stack, "Identity", oidc_issuer=OidcIssuer(issuer_url=ISSUER + "/", audience=AUDIENCE))
    assert identity.issuer == ISSUER + "/"
    assert identity.audience == AUDIENCE
    assert identity.jwks_url == JWKS
    assert identity.user_pool is None
    sqs.Queue(stack, "Placeholder")  # a template needs one resource
    t = Template.from_stack(stack)
    t.resource_count_is("AWS::Cognito::UserPool", 0)
    t.resource_count_is("AWS::Cognito::UserPoolClient", 0)
    custom = OidcIssuer(issuer_url=ISSUER, audience=AUDIENCE, jwks_url="https://keys.example.com/jwks")
    assert custom.resolved_jwks_url() == "https://keys.example.com/jwks"


def test_identity_rejects_two_sources(bare_stack):
    stack = bare_stack()
    with pytest.raises(ValueError):
        Identity(stack, "A", user_pool_options=UserPoolOptions(), oidc_issuer=OidcIssuer(ISSUER, AUDIENCE))


# --------------------------------------------------------------------------- ServiceFunction
def test_service_function_defaults(bare_stack):
    stack = bare_stack()
    fn = ServiceFunction(stack, "Fn", handler="handlers.ws_default.handler", environment={"EXTRA_VAR": "1"})
    t = Template.from_stack(stack)
    t.has_resource_properties(
        "AWS::Lambda::Function",
        {
            "Runtime": "python3.14",
            "Architectures": ["arm64"],
            "Handler": "handlers.ws_default.handler",
            "TracingConfig": {"Mode": "Active"},
            "MemorySize": 256,
            "Timeout": 10,
            "Layers": Match.array_with(
                [
                    {
                        "Fn::Sub": "arn:aws:lambda:${AWS::Region}:017000801446:layer:"
                        "AWSLambdaPowertoolsPythonV3-python314-arm64:27"
                    },
                ]
            ),
            "Environment": {
                "Variables": {
                    "EXTRA_VAR": "1",
                    "POWERTOOLS_SERVICE_NAME": "realtime-comments",
                    "POWERTOOLS_METRICS_NAMESPACE": "RealtimeComments",
                    "POWERTOOLS_LOG_LEVEL": "INFO",
                }
            },
            "LoggingConfig": {"LogGroup": Match.any_value()},
        },
    )
    layers = list(t.find_resources("AWS::Lambda::Function").values())[0]["Properties"]["Layers"]
    assert len(layers) == 2 and {"Ref": list(t.find_resources("AWS::Lambda::LayerVersion"))[0]} in layers
    t.has_resource_properties("AWS::Logs::LogGroup", {"RetentionInDays": 30})
    t.has_resource_properties(
        "AWS::Lambda::LayerVersion",
        {"CompatibleRuntimes": ["python3.14"], "CompatibleArchitectures": ["arm64"]},
    )
    # Its own role: no AWS-managed policy.
    t.has_resource_properties("AWS::IAM::Role", {"ManagedPolicyArns": Match.absent()})
    assert isinstance(fn.function, lambda_.Function)


def test_service_function_shares_one_layer_per_stack(bare_stack):
    stack = bare_stack()
    ServiceFunction(stack, "A", handler="handlers.a.handler")
    ServiceFunction(stack, "B", handler="handlers.b.handler", defaults=FunctionDefaults(memory_size=512))
    t = Template.from_stack(stack)
    t.resource_count_is("AWS::Lambda::LayerVersion", 1)
    t.has_resource_properties("AWS::Lambda::Function", {"MemorySize": 512})


def test_service_function_without_requirements_has_no_layer(bare_stack, tmp_path):
    code = tmp_path / "code"
    (code / "handlers").mkdir(parents=True)
    (code / "handlers" / "x.py").write_text("def handler(e, c):\n    return e\n")
    stack = bare_stack()
    ServiceFunction(stack, "Fn", handler="handlers.x.handler", defaults=FunctionDefaults(code_path=code))
    t = Template.from_stack(stack)
    t.resource_count_is("AWS::Lambda::LayerVersion", 0)
    t.has_resource_properties("AWS::Lambda::Function", {"Layers": [{"Fn::Sub": Match.any_value()}]})


# --------------------------------------------------------------------------- WebSocketApi
@pytest.fixture
def websocket(bare_stack):
    stack = bare_stack()
    connections, comments = _tables(stack)
    ws = WebSocketApi(
        stack,
        "WebSocket",
        connections_table=connections,
        comments_table=comments,
        jwt_issuer=ISSUER,
        jwt_audience=AUDIENCE,
        jwks_url=JWKS,
        allowed_origins=("http://localhost:3000", "https://app.example.com"),
        options=WebSocketApiOptions(
            stage_name="test",
            throttle_rate_limit=11,
            throttle_burst_limit=22,
            connection_ttl=Duration.hours(2),
            comments_page_size=25,
        ),
    )
    other = ServiceFunction(stack, "Other", handler="handlers.other.handler").function
    ws.grant_manage_connections(other)
    return stack, ws, Template.from_stack(stack)


def test_websocket_routes_and_selection(websocket):
    _, _, t = websocket
    t.has_resource_properties(
        "AWS::ApiGatewayV2::Api",
        {"ProtocolType": "WEBSOCKET", "RouteSelectionExpression": "$request.body.action"},
    )
    routes = {
        r["Properties"]["RouteKey"]: r["Properties"]
        for r in t.find_resources("AWS::ApiGatewayV2::Route").values()
    }
    assert set(routes) == {
        "$connect",
        "$disconnect",
        "$default",
        "subscribe",
        "unsubscribe",
        "typing",
        "ping",
    }
    assert routes["$connect"]["AuthorizationType"] == "CUSTOM"
    assert "AuthorizerId" in routes["$connect"]
    for key in ("$disconnect", "$default", "subscribe", "unsubscribe", "typing", "ping"):
        assert routes[key].get("AuthorizationType", "NONE") == "NONE"


def test_websocket_authorizer(websocket):
    _, _, t = websocket
    t.has_resource_properties(
        "AWS::ApiGatewayV2::Authorizer",
        {"AuthorizerType": "REQUEST", "IdentitySource": ["route.request.querystring.token"]},
    )
    t.has_resource_properties(
        "AWS::Lambda::Function",
        {
            "Handler": "handlers.authorizer.handler",
            "Environment": {
                "Variables": Match.object_like(
                    {
                        "JWT_ISSUER": ISSUER,
                        "JWT_AUDIENCE": AUDIENCE,
                        "JWKS_URL": JWKS,
                        "ALLOWED_ORIGINS": "http://localhost:3000,https://app.example.com",
                    }
                )
            },
        },
    )


def test_websocket_function_environment(websocket):
    _, _, t = websocket
    # Subscriptions expire with their connection item, so only $connect needs the TTL.
    t.has_resource_properties(
        "AWS::Lambda::Function",
        {
            "Handler": "handlers.ws_connect.handler",
            "Environment": {
                "Variables": Match.object_like(
                    {
                        "CONNECTIONS_TABLE_NAME": Match.any_value(),
                        "CONNECTION_TTL_SECONDS": "7200",
                        "MAX_CONNECTIONS_PER_USER": "10",
                    }
                )
            },
        },
    )
    t.has_resource_properties(
        "AWS::Lambda::Function",
        {
            "Handler": "handlers.ws_actions.handler",
            "Environment": {
                "Variables": Match.object_like(
                    {
                        "CONNECTIONS_TABLE_NAME": Match.any_value(),
                        "WEBSOCKET_CALLBACK_URL": Match.any_value(),
                        "COMMENTS_TABLE_NAME": Match.any_value(),
                        "COMMENTS_PAGE_SIZE": "25",
                        "MAX_SUBSCRIPTIONS_PER_CONNECTION": "50",
                        "ACTION_RATE": "10",
                        "ACTION_BURST": "20",
                    }
                )
            },
        },
    )
    handlers = {f["Properties"]["Handler"] for f in t.find_resources("AWS::Lambda::Function").values()}
    assert handlers - {"handlers.other.handler"} == {
        "handlers.authorizer.handler",
        "handlers.ws_connect.handler",
        "handlers.ws_disconnect.handler",
        "handlers.ws_actions.handler",
        "handlers.ws_default.handler",
    }


def test_websocket_stage_logs_and_throttling(websocket):
    stack, ws, t = websocket
    t.has_resource_properties(
        "AWS::ApiGatewayV2::Stage",
        {
            "StageName": "test",
            "AutoDeploy": True,
            "DefaultRouteSettings": {"ThrottlingRateLimit": 11, "ThrottlingBurstLimit": 22},
            "AccessLogSettings": {
                "DestinationArn": {"Fn::GetAtt": [Match.string_like_regexp("AccessLogs"), "Arn"]},
                "Format": Match.string_like_regexp(r"\$context\.requestId"),
            },
        },
    )
    url = stack.resolve(ws.callback_url)
    rendered = str(url)
    assert "execute-api" in rendered and rendered.endswith("/test']}") or "/test" in rendered
    # No account role unless asked for.
    t.resource_count_is("AWS::ApiGateway::Account", 0)


def test_websocket_grants_manage_connections(websocket):
    _, _, t = websocket
    policies = t.find_resources("AWS::IAM::Policy")
    other = [p for k, p in policies.items() if k.startswith("OtherServiceRole")]
    statements = other[0]["Properties"]["PolicyDocument"]["Statement"]
    manage = [s for s in statements if s["Action"] == "execute-api:ManageConnections"]
    assert manage and "/test/POST/@connections/*" in str(manage[0]["Resource"])


def test_every_function_may_only_post_to_connections(synthesized):
    """No function of any stage may GET (read metadata of) or DELETE (close) a connection:
    the code only sends (POST), so that is the only method granted."""
    for stage in ("dev", "staging", "prod"):
        granted = manage_connections_resources(synthesized.templates[stage])
        # actions, default, stream broadcaster, fan-out, broadcast, notifier
        assert len(granted) == 6, granted
        for resources in granted.values():
            assert len(resources) == 1, resources
            assert f"/{stage}/POST/@connections/*" in resources[0], resources
            assert "/*/@connections" not in resources[0]


def test_grant_manage_connections_takes_explicit_methods(bare_stack):
    from aws_cdk import aws_iam as iam

    stack = bare_stack()
    connections, comments = _tables(stack)
    ws = WebSocketApi(
        stack,
        "WebSocket",
        connections_table=connections,
        comments_table=comments,
        jwt_issuer=ISSUER,
        jwt_audience=AUDIENCE,
        jwks_url=JWKS,
        allowed_origins=("https://app.example.com",),
        options=WebSocketApiOptions(stage_name="test"),
    )
    role = iam.Role(stack, "Closer", assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"))
    ws.grant_manage_connections(role, methods=("POST", "DELETE"))
    resources = manage_connections_resources(Template.from_stack(stack))
    closer = next(v for k, v in resources.items() if k.startswith("Closer"))
    methods = sorted(m for r in closer for m in ("POST", "GET", "DELETE") if f"/test/{m}/@connections/*" in r)
    assert len(closer) == 2 and methods == ["DELETE", "POST"], closer
    with pytest.raises(ValueError):
        ws.grant_manage_connections(role, methods=("PATCH",))
    with pytest.raises(ValueError):
        ws.grant_manage_connections(role, methods=())


def test_websocket_account_logging_role(bare_stack):
    stack = bare_stack()
    connections, comments = _tables(stack)
    WebSocketApi(
        stack,
        "WebSocket",
        connections_table=connections,
        comments_table=comments,
        jwt_issuer=ISSUER,
        jwt_audience=AUDIENCE,
        jwks_url=JWKS,
        allowed_origins=("https://app.example.com",),
        options=WebSocketApiOptions(create_account_logging_role=True),
    )
    t = Template.from_stack(stack)
    t.resource_count_is("AWS::ApiGateway::Account", 1)
    t.has_resource_properties("AWS::ApiGatewayV2::Stage", {"StageName": "live"})


# --------------------------------------------------------------------------- CommentsApi
@pytest.fixture
def comments_api(bare_stack):
    stack = bare_stack()
    connections, comments = _tables(stack)
    websocket = websocket_api(stack, connections, comments)
    broadcaster = Broadcaster(
        stack, "Broadcaster", comments_table=comments, connections_table=connections, websocket=websocket
    )
    api = CommentsApi(
        stack,
        "CommentsApi",
        comments_table=comments,
        connections_table=connections,
        jwt_issuer=ISSUER,
        jwt_audience=AUDIENCE,
        websocket=websocket,
        broadcaster=broadcaster,
        allowed_origins=("https://app.example.com",),
        broadcast_principals=("arn:aws:iam::123456789012:role/orders-service",),
        options=CommentsApiOptions(throttle_rate_limit=5),
    )
    caller = ServiceFunction(stack, "Caller", handler="handlers.caller.handler").function
    api.grant_invoke_broadcast(caller)
    return stack, api, Template.from_stack(stack)


def test_comments_api_routes_and_auth(comments_api):
    _, _, t = comments_api
    authorizers = t.find_resources("AWS::ApiGatewayV2::Authorizer", {"Properties": {"AuthorizerType": "JWT"}})
    assert len(authorizers) == 1  # the fixture's WebSocketApi adds its own REQUEST authorizer
    ((auth_id, auth),) = authorizers.items()
    assert auth["Properties"]["AuthorizerType"] == "JWT"
    assert auth["Properties"]["JwtConfiguration"] == {"Issuer": ISSUER, "Audience": [AUDIENCE]}
    assert auth["Properties"]["IdentitySource"] == ["$request.header.Authorization"]
    routes = {
        r["Properties"]["RouteKey"]: r["Properties"]
        for r in t.find_resources("AWS::ApiGatewayV2::Route").values()
        if " /" in r["Properties"]["RouteKey"]  # the HTTP API's, not the WebSocketApi's
    }
    expected = {
        "POST /api/v1/posts/{postId}/comments": "JWT",
        "GET /api/v1/posts/{postId}/comments": "NONE",
        "PATCH /api/v1/posts/{postId}/comments/{commentId}": "JWT",
        "DELETE /api/v1/posts/{postId}/comments/{commentId}": "JWT",
        "GET /api/v1/websocket/connections": "NONE",
        "POST /api/v1/broadcast": "AWS_IAM",
    }
    assert {k: v.get("AuthorizationType", "NONE") for k, v in routes.items()} == expected
    for key, kind in expected.items():
        if kind == "JWT":
            assert routes[key]["AuthorizerId"] == {"Ref": auth_id}


def test_comments_api_cors_stage_and_functions(comments_api):
    stack, api, t = comments_api
    t.has_resource_properties(
        "AWS::ApiGatewayV2::Api",
        {
            "ProtocolType": "HTTP",
            "CorsConfiguration": Match.object_like(
                {
                    "AllowOrigins": ["https://app.example.com"],
                    "AllowHeaders": Match.array_with(["Authorization", "Content-Type", "Idempotency-Key"]),
                }
            ),
        },
    )
    t.has_resource_properties(
        "AWS::ApiGatewayV2::Stage",
        {
            "StageName": "$default",
            "DefaultRouteSettings": Match.object_like({"ThrottlingRateLimit": 5}),
            "AccessLogSettings": Match.object_like({"Format": Match.string_like_regexp("requestId")}),
        },
    )
    t.has_resource_properties(
        "AWS::Lambda::Function",
        {
            "Handler": "handlers.comments_api.handler",
            "Environment": {
                "Variables": Match.object_like(
                    {
                        "COMMENTS_TABLE_NAME": Match.any_value(),
                        "CONNECTIONS_TABLE_NAME": Match.any_value(),
                        "IDEMPOTENCY_TABLE_NAME": Match.any_value(),
                        "COMMENTS_PAGE_SIZE": "50",
                    }
                )
            },
        },
    )
    t.has_resource_properties(
        "AWS::Lambda::Function",
        {
            "Handler": "handlers.broadcast_endpoint.handler",
            "Environment": {
                "Variables": Match.object_like(
                    {
                        "WEBSOCKET_CALLBACK_URL": Match.any_value(),
                        "FANOUT_QUEUE_URL": {"Ref": Match.string_like_regexp("^BroadcasterFanoutQueue")},
                        "FANOUT_INLINE_LIMIT": "2000",
                        "FANOUT_BATCH_SIZE": "1000",
                        "SEND_CONCURRENCY": "128",
                    }
                )
            },
        },
    )
    assert "api/v1/broadcast" in str(stack.resolve(api.broadcast_endpoint_url))


def test_comments_api_idempotency_table(comments_api):
    _, _, t = comments_api
    t.has_resource_properties(
        "AWS::DynamoDB::Table",
        {
            "KeySchema": [{"AttributeName": "id", "KeyType": "HASH"}],
            "TimeToLiveSpecification": {"AttributeName": "expiration", "Enabled": True},
        },
    )


def test_comments_api_grant_invoke_broadcast(comments_api):
    _, _, t = comments_api
    policies = t.find_resources("AWS::IAM::Policy")
    caller_policy = [p for k, p in policies.items() if k.startswith("CallerServiceRole")][0]
    text = str(caller_policy["Properties"]["PolicyDocument"])
    assert "execute-api:Invoke" in text and "/POST/api/v1/broadcast" in text


def test_comments_api_existing_idempotency_table(bare_stack):
    stack = bare_stack()
    connections, comments = _tables(stack)
    existing = dynamodb.Table.from_table_name(stack, "Idem", "team-idempotency")
    kwargs = dict(
        comments_table=comments,
        connections_table=connections,
        jwt_issuer=ISSUER,
        jwt_audience=AUDIENCE,
        websocket=websocket_api(stack, connections, comments),
        allowed_origins=("https://app.example.com",),
        broadcast_principals=(),
    )
    api = CommentsApi(stack, "Api", existing_idempotency_table=existing, **kwargs)
    assert api.idempotency_table is existing
    Template.from_stack(stack).resource_count_is("AWS::DynamoDB::Table", 2)
    with pytest.raises(ValueError):
        CommentsApi(
            stack,
            "Api2",
            existing_idempotency_table=existing,
            idempotency_table_options=TableOptions(),
            **kwargs,
        )


def _websocket_kwargs(stack):
    connections, comments = _tables(stack)
    return dict(
        connections_table=connections,
        comments_table=comments,
        jwt_issuer=ISSUER,
        jwt_audience=AUDIENCE,
        jwks_url=JWKS,
    )


def test_origins_are_required_and_a_wildcard_only_when_passed(bare_stack):
    stack = bare_stack()
    kwargs = _websocket_kwargs(stack)
    with pytest.raises(TypeError):
        WebSocketApi(stack, "NoOrigins", **kwargs)  # type: ignore[call-arg]
    for bad in ((), "https://app.example.com", ("*", "https://app.example.com"), ("app.example.com",)):
        with pytest.raises((ValueError, TypeError)):
            WebSocketApi(stack, f"Bad{len(stack.node.children)}", allowed_origins=bad, **kwargs)
    WebSocketApi(stack, "Any", allowed_origins=("*",), **kwargs)
    t = Template.from_stack(stack)
    t.has_resource_properties(
        "AWS::Lambda::Function",
        {
            "Handler": "handlers.authorizer.handler",
            "Environment": {"Variables": Match.object_like({"ALLOWED_ORIGINS": "*"})},
        },
    )


def test_broadcast_principals_are_required_and_checked(bare_stack):
    stack = bare_stack()
    connections, comments = _tables(stack)
    kwargs = dict(
        comments_table=comments,
        connections_table=connections,
        jwt_issuer=ISSUER,
        jwt_audience=AUDIENCE,
        websocket=websocket_api(stack, connections, comments),
        allowed_origins=("https://app.example.com",),
    )
    with pytest.raises(TypeError):
        CommentsApi(stack, "NoPrincipals", **kwargs)  # type: ignore[call-arg]
    for index, bad in enumerate(("*", "arn:aws:iam::123456789012:root", "arn:aws:iam::123456789012:role/*")):
        with pytest.raises(ValueError):
            CommentsApi(stack, f"Bad{index}", broadcast_principals=(bad,), **kwargs)
    with pytest.raises(ValueError):
        CommentsApi(
            stack,
            "BadType",
            broadcast_principals=(),
            options=CommentsApiOptions(broadcast_message_types=("comment.created", "made.up")),
            **kwargs,
        )
    role = "arn:aws:iam::123456789012:role/service/orders"
    CommentsApi(
        stack,
        "Api",
        broadcast_principals=(role,),
        options=CommentsApiOptions(broadcast_message_types=("test",)),
        **kwargs,
    )
    Template.from_stack(stack).has_resource_properties(
        "AWS::Lambda::Function",
        {
            "Handler": "handlers.broadcast_endpoint.handler",
            "Environment": {
                "Variables": Match.object_like(
                    {"BROADCAST_PRINCIPALS": role, "BROADCAST_MESSAGE_TYPES": "test"}
                )
            },
        },
    )


# --------------------------------------------------------------------------- Broadcaster
@pytest.fixture
def broadcaster(bare_stack):
    stack = bare_stack()
    connections, comments = _tables(stack)
    b = Broadcaster(
        stack,
        "Broadcaster",
        comments_table=comments,
        connections_table=connections,
        websocket=websocket_api(stack, connections, comments),
        options=BroadcasterOptions(retry_attempts=3, max_record_age=Duration.minutes(30)),
    )
    return stack, b, Template.from_stack(stack)


def test_broadcaster_stream_event_source(broadcaster):
    _, b, t = broadcaster
    t.has_resource_properties(
        "AWS::Lambda::EventSourceMapping",
        {
            "EventSourceArn": {"Fn::GetAtt": [Match.string_like_regexp("^CommentsTable"), "StreamArn"]},
            "StartingPosition": "LATEST",
            "BatchSize": 100,
            "BisectBatchOnFunctionError": True,
            "MaximumRetryAttempts": 3,
            "MaximumRecordAgeInSeconds": 1800,
            "FunctionResponseTypes": ["ReportBatchItemFailures"],
            "DestinationConfig": {
                "OnFailure": {
                    "Destination": {
                        "Fn::GetAtt": [Match.string_like_regexp("^BroadcasterStreamDeadLetterQueue"), "Arn"]
                    }
                }
            },
            "FilterCriteria": {"Filters": [{"Pattern": Match.string_like_regexp("anything-but")}]},
        },
    )


def test_broadcaster_fanout(broadcaster):
    _, b, t = broadcaster
    t.has_resource_properties(
        "AWS::Lambda::EventSourceMapping",
        {
            "EventSourceArn": {"Fn::GetAtt": [Match.string_like_regexp("^BroadcasterFanoutQueue"), "Arn"]},
            "FunctionResponseTypes": ["ReportBatchItemFailures"],
            "BatchSize": 1,
        },
    )
    t.resource_count_is("AWS::SQS::Queue", 3)
    t.has_resource_properties(
        "AWS::SQS::Queue",
        {
            "RedrivePolicy": {
                "deadLetterTargetArn": {
                    "Fn::GetAtt": [Match.string_like_regexp("^BroadcasterFanoutDeadLetterQueue"), "Arn"]
                },
                "maxReceiveCount": 3,
            },
            "VisibilityTimeout": 360,
            "SqsManagedSseEnabled": True,
        },
    )
    t.has_resource_properties(
        "AWS::Lambda::Function",
        {
            "Handler": "handlers.stream_broadcaster.handler",
            "Environment": {
                "Variables": Match.object_like(
                    {
                        "CONNECTIONS_TABLE_NAME": Match.any_value(),
                        "WEBSOCKET_CALLBACK_URL": Match.any_value(),
                        "FANOUT_QUEUE_URL": {"Ref": Match.string_like_regexp("^BroadcasterFanoutQueue")},
                        "FANOUT_INLINE_LIMIT": "2000",
                        "FANOUT_BATCH_SIZE": "1000",
                        "SEND_CONCURRENCY": "128",
                    }
                )
            },
        },
    )
    t.has_resource_properties("AWS::Lambda::Function", {"Handler": "handlers.fanout_worker.handler"})
    granted = manage_connections_resources(t)
    for fn in (b.stream_function, b.fanout_function):
        role_id = Stack.of(fn).resolve(fn.role.node.default_child.logical_id)
        assert granted[role_id] and all("/test/POST/@connections/*" in r for r in granted[role_id])


def test_broadcaster_existing_queues(bare_stack):
    stack = bare_stack()
    connections, comments = _tables(stack)
    queue = sqs.Queue(stack, "TeamFanout")
    dlq = sqs.Queue(stack, "TeamDlq")
    b = Broadcaster(
        stack,
        "Broadcaster",
        comments_table=comments,
        connections_table=connections,
        websocket=websocket_api(stack, connections, comments),
        existing_fanout_queue=queue,
        existing_stream_dlq=dlq,
    )
    assert b.fanout_queue is queue and b.stream_dlq is dlq and b.fanout_dlq is None
    Template.from_stack(stack).resource_count_is("AWS::SQS::Queue", 2)


# --------------------------------------------------------------------------- Monitoring
def test_monitoring_alarms_and_dashboard(bare_stack):
    stack = bare_stack()
    fn = ServiceFunction(stack, "Fn", handler="handlers.x.handler").function
    dlq = sqs.Queue(stack, "Dlq")
    from aws_cdk import aws_apigatewayv2 as apigwv2

    api = apigwv2.HttpApi(stack, "Api")
    m = Monitoring(
        stack,
        "Monitoring",
        error_functions={"Broadcaster": fn},
        stream_functions={"Broadcaster": fn},
        http_apis={"Http": api},
        dead_letter_queues={"Dlq": dlq},
        thresholds=MonitoringThresholds(iterator_age_ms=1234),
        create_alarm_topic=True,
    )
    t = Template.from_stack(stack)
    t.resource_count_is("AWS::CloudWatch::Alarm", 4)
    t.resource_count_is("AWS::CloudWatch::Dashboard", 1)
    t.has_resource_properties(
        "AWS::CloudWatch::Alarm",
        {
            "MetricName": "ApproximateNumberOfMessagesVisible",
            "ComparisonOperator": "GreaterThanThreshold",
            "Threshold": 0,
            "AlarmActions": [{"Ref": Match.string_like_regexp("AlarmTopic")}],
        },
    )
    t.has_resource_properties("AWS::CloudWatch::Alarm", {"MetricName": "IteratorAge", "Threshold": 1234})
    t.has_resource_properties("AWS::CloudWatch::Alarm", {"MetricName": "5xx", "Namespace": "AWS/ApiGateway"})
    t.has_resource_properties("AWS::CloudWatch::Alarm", {"MetricName": "Errors", "Namespace": "AWS/Lambda"})
    assert set(m.alarms) == {"BroadcasterErrors", "BroadcasterIteratorAge", "Http5xx", "DlqDepth"}


def test_alarm_topic_key_lets_cloudwatch_publish(bare_stack):
    """The topic's key is customer-managed, rotated, and its policy lets CloudWatch use it:
    under alias/aws/sns CloudWatch could not publish and alarms would notify no one."""
    stack = bare_stack()
    fn = ServiceFunction(stack, "Fn", handler="handlers.x.handler").function
    m = Monitoring(stack, "Monitoring", error_functions={"Fn": fn}, create_alarm_topic=True)
    t = Template.from_stack(stack)
    keys = t.find_resources("AWS::KMS::Key")
    assert len(keys) == 1
    ((key_id, key),) = keys.items()
    assert key["Properties"]["EnableKeyRotation"] is True
    assert key["DeletionPolicy"] == "Retain"  # the construct's default
    t.has_resource_properties("AWS::SNS::Topic", {"KmsMasterKeyId": {"Fn::GetAtt": [key_id, "Arn"]}})
    assert "alias/aws/sns" not in json.dumps(t.to_json())
    statements = key["Properties"]["KeyPolicy"]["Statement"]
    cloudwatch = [s for s in statements if s.get("Principal") == {"Service": "cloudwatch.amazonaws.com"}]
    assert cloudwatch == [
        {
            "Sid": "AllowCloudWatchAlarmsToPublishToTheEncryptedTopic",
            "Effect": "Allow",
            "Principal": {"Service": "cloudwatch.amazonaws.com"},
            "Action": ["kms:Decrypt", "kms:GenerateDataKey*"],
            "Resource": "*",
        }
    ]
    # The account keeps administering its key (CDK's default statement), nobody else is let in.
    principals = [json.dumps(s["Principal"]) for s in statements]
    assert all("cloudwatch.amazonaws.com" in p or ":root" in p for p in principals), principals
    assert m.alarm_topic_key is not None
    assert stack.resolve(m.alarm_topic_key.key_arn) == {"Fn::GetAtt": [key_id, "Arn"]}


def test_alarm_topic_key_in_every_stage_with_a_topic(synthesized):
    for stage, retained in (("staging", False), ("prod", True)):
        t = synthesized.templates[stage]
        t.resource_count_is("AWS::KMS::Key", 1)
        key_id, key = next(iter(t.find_resources("AWS::KMS::Key").items()))
        assert key["Properties"]["EnableKeyRotation"] is True
        assert (key["DeletionPolicy"] == "Retain") is retained
        t.has_resource_properties("AWS::SNS::Topic", {"KmsMasterKeyId": {"Fn::GetAtt": [key_id, "Arn"]}})
        t.has_resource_properties(
            "AWS::KMS::Key",
            {
                "KeyPolicy": {
                    "Statement": Match.array_with(
                        [
                            Match.object_like(
                                {
                                    "Effect": "Allow",
                                    "Principal": {"Service": "cloudwatch.amazonaws.com"},
                                    "Action": ["kms:Decrypt", "kms:GenerateDataKey*"],
                                }
                            )
                        ]
                    )
                }
            },
        )
    synthesized.templates["dev"].resource_count_is("AWS::KMS::Key", 0)  # dev has no alarm topic


def test_monitoring_rejects_topic_and_create(bare_stack):
    stack = bare_stack()
    topic = sns.Topic(stack, "Topic")
    with pytest.raises(ValueError):
        Monitoring(stack, "M", alarm_topic=topic, create_alarm_topic=True)


def test_identity_with_existing_user_pool(bare_stack):
    from aws_cdk import aws_cognito as cognito

    stack = bare_stack()
    pool = cognito.UserPool.from_user_pool_id(stack, "Pool", "eu-west-1_abc")
    identity = Identity(stack, "Identity", existing_user_pool=pool)
    assert identity.user_pool is pool
    assert stack.resolve(identity.issuer) == {
        "Fn::Join": [
            "",
            [
                "https://cognito-idp.",
                {"Ref": "AWS::Region"},
                ".",
                {"Ref": "AWS::URLSuffix"},
                "/eu-west-1_abc",
            ],
        ]
    }
    t = Template.from_stack(stack)
    t.resource_count_is("AWS::Cognito::UserPool", 0)
    t.resource_count_is("AWS::Cognito::UserPoolClient", 1)
    with pytest.raises(ValueError):
        Identity(stack, "Other", existing_user_pool_client=identity.user_pool_client)


def test_handler_code_edits_do_not_churn_normalized_templates(tmp_path):
    """Two copies of the code asset that differ only in handler code give the same normalized
    template (what the snapshots store)."""
    import shutil

    import aws_cdk as cdk
    from infra_helpers import cdk_context, normalize_template
    from realtime_comments_cdk.lambda_defaults import default_code_path

    templates = []
    for i in range(2):
        code = tmp_path / f"code{i}"
        shutil.copytree(default_code_path(), code, ignore=shutil.ignore_patterns("__pycache__"))
        (code / "handlers" / "ws_default.py").write_text(f"def handler(event, context):\n    return {i}\n")
        app = cdk.App(outdir=str(tmp_path / f"out{i}"), context=cdk_context())
        stack = cdk.Stack(app, "Churn")
        ServiceFunction(
            stack, "Fn", handler="handlers.ws_default.handler", defaults=FunctionDefaults(code_path=code)
        )
        templates.append(Template.from_stack(stack).to_json())
    raw = [json.dumps(t, sort_keys=True) for t in templates]
    assert raw[0] != raw[1]  # the asset hash did change
    assert normalize_template(templates[0]) == normalize_template(templates[1])


def test_service_function_on_x86_64_takes_the_x86_64_layers(bare_stack):
    stack = bare_stack()
    ServiceFunction(
        stack, "Fn", handler="handlers.ws_default.handler", defaults=FunctionDefaults(architecture="x86_64")
    )
    t = Template.from_stack(stack)
    t.has_resource_properties(
        "AWS::Lambda::Function",
        {
            "Architectures": ["x86_64"],
            "Layers": Match.array_with(
                [
                    {
                        "Fn::Sub": "arn:aws:lambda:${AWS::Region}:017000801446:layer:"
                        "AWSLambdaPowertoolsPythonV3-python314-x86_64:27"
                    }
                ]
            ),
        },
    )
    t.has_resource_properties("AWS::Lambda::LayerVersion", {"CompatibleArchitectures": ["x86_64"]})
