from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from aws_cdk import Duration, RemovalPolicy, Token
from aws_cdk import aws_apigatewayv2 as apigwv2
from aws_cdk import aws_apigatewayv2_authorizers as authorizers
from aws_cdk import aws_apigatewayv2_integrations as integrations
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from constructs import Construct
from realtime_comments.settings import (
    DEFAULT_COMMENT_WRITE_BURST,
    DEFAULT_COMMENT_WRITE_RATE,
    DEFAULT_COMMENTS_PAGE_SIZE,
    BroadcastEndpointSettings,
    CommentsApiSettings,
    FanoutOptions,
    NotificationsApiSettings,
)

from .. import _access as access
from .._access_logs import HTTP_LOG_FIELDS, AccessLogSettings
from .._nag import acknowledge, acknowledge_function_wildcards
from .._origins import check_allowed_origins
from .._tables import TableOptions
from ..broadcaster import Broadcaster
from ..lambda_defaults import FunctionDefaults, ServiceFunction, invocation_target
from ..notifications_store import NotificationsStore
from ..websocket_api import WebSocketApi

# Idempotency records expire within hours: nothing worth restoring, so no point-in-time recovery.
IDEMPOTENCY_TABLE_OPTIONS = TableOptions(point_in_time_recovery=False)

COMMENTS_PATH = "/api/v1/posts/{postId}/comments"
COMMENT_PATH = "/api/v1/posts/{postId}/comments/{commentId}"
CONNECTIONS_PATH = "/api/v1/websocket/connections"
BROADCAST_PATH = "/api/v1/broadcast"
NOTIFICATIONS_PATH = "/api/v1/notifications"
NOTIFICATIONS_READ_PATH = "/api/v1/notifications/read"
# What the broadcast endpoint can send at all (the reference design's WebSocketService methods).
BROADCAST_MESSAGE_TYPES: tuple[str, ...] = (
    "comment.created",
    "comment.updated",
    "comment.deleted",
    "comments.list",
    "test",
)
_PRINCIPAL_ARN = re.compile(r"arn:aws[\w-]*:iam::\d{12}:(role|user)/(?:[^/*]+/)*[^/*]+")


@dataclass(frozen=True)
class CommentsApiOptions:
    """Tuning of ``CommentsApi``.

    :param throttle_rate_limit: ``$default`` stage requests per second, default 100.
    :param throttle_burst_limit: default 200.
    :param comments_page_size: ``COMMENTS_PAGE_SIZE`` (default and maximum GET page), default 50.
    :param access_log_retention: default one month.
    :param access_log_removal_policy: default ``DESTROY``.
    :param fanout: the broadcast endpoint's fan-out (``FanoutOptions``; give it the same value as
        ``BroadcasterOptions.fanout``).
    :param api_name: default generated.
    :param broadcast_message_types: the message types callers of the broadcast endpoint may send
        (``BROADCAST_MESSAGE_TYPES``), a subset of ``comment.created``, ``comment.updated``,
        ``comment.deleted``, ``comments.list`` and ``test``; default all five.
    :param broadcast_reserved_concurrency: reserves and caps the broadcast endpoint's function
        (a broadcast to everyone sends to every connection); default none.
    :param comment_write_rate_limit / comment_write_burst_limit: ``COMMENT_WRITE_RATE`` /
        ``COMMENT_WRITE_BURST``, comment writes (POST, PATCH, DELETE together) per user per second
        and burst, default 5 / 20; beyond that ``429 RATE_LIMITED`` with ``Retry-After``.
    """

    throttle_rate_limit: float = 100
    throttle_burst_limit: int = 200
    comments_page_size: int = DEFAULT_COMMENTS_PAGE_SIZE
    access_log_retention: logs.RetentionDays = logs.RetentionDays.ONE_MONTH
    access_log_removal_policy: RemovalPolicy = RemovalPolicy.DESTROY
    fanout: FanoutOptions = field(default_factory=FanoutOptions)
    api_name: str | None = None
    comment_write_rate_limit: int = DEFAULT_COMMENT_WRITE_RATE
    comment_write_burst_limit: int = DEFAULT_COMMENT_WRITE_BURST
    broadcast_message_types: Sequence[str] = BROADCAST_MESSAGE_TYPES
    broadcast_reserved_concurrency: int | None = None


class CommentsApi(Construct):
    """HTTP API (API Gateway v2) for comments, the connection-count health route and the
    IAM-authorized broadcast endpoint.

    Routes: ``POST``/``PATCH``/``DELETE`` behind an ``HttpJwtAuthorizer`` (issuer + audience),
    public ``GET`` reads, ``POST /api/v1/broadcast`` behind ``AWS_IAM``. CORS from
    ``allowed_origins``. The ``$default`` stage has throttling and JSON access logs.

    :param comments_table / connections_table: the stores' tables.
    :param jwt_issuer / jwt_audience: the JWT authorizer's issuer and audience (see ``Identity``).
    :param websocket: the ``WebSocketApi`` the broadcast endpoint sends to (its callback URL, and
        ``ManageConnections`` POST on its stage).
    :param allowed_origins: required. The CORS ``Access-Control-Allow-Origin`` values. ``("*",)``
        lets any web page call the API from a browser and is only taken when passed.
    :param broadcast_principals: required. The IAM role or user ARNs that may call the broadcast
        endpoint (``BROADCAST_PRINCIPALS``); a role admits all its sessions. Anyone else gets 403,
        whatever their IAM policy allows (HTTP APIs have no resource policy). ``()`` closes the
        endpoint. Callers also need ``execute-api:Invoke`` (``grant_invoke_broadcast``).
    :param broadcaster: optional ``Broadcaster`` whose fan-out queue takes the endpoint's large
        audiences; without it the endpoint always sends inline.
    :param existing_idempotency_table / idempotency_table_options: bring the Powertools idempotency
        table (partition key ``id``, TTL ``expiration``) or build one; not both. The built table
        defaults to ``IDEMPOTENCY_TABLE_OPTIONS`` (point-in-time recovery off, acknowledged as
        ``AwsSolutions-DDB3``: its records expire within hours).
    :param notifications: optional ``NotificationsStore``: adds ``GET /api/v1/notifications`` and
        ``POST /api/v1/notifications/read`` (JWT) on ``notifications_function``
        (``handlers.notifications_api.handler``), which reads and marks only the caller's partition.

    Attributes: ``http_api``, ``stage``, ``url``, ``broadcast_endpoint_url``,
    ``comments_function``, ``broadcast_function``, ``idempotency_table``, ``jwt_authorizer``,
    ``broadcast_route``, ``access_log_group``, ``notifications_function`` (``None`` without
    ``notifications``). ``grant_invoke_broadcast(grantee)`` lets another
    service call the broadcast endpoint.
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        comments_table: dynamodb.ITable,
        connections_table: dynamodb.ITable,
        jwt_issuer: str,
        jwt_audience: str,
        websocket: WebSocketApi,
        allowed_origins: Sequence[str],
        broadcast_principals: Sequence[str],
        broadcaster: Broadcaster | None = None,
        existing_idempotency_table: dynamodb.ITable | None = None,
        idempotency_table_options: TableOptions | None = None,
        notifications: NotificationsStore | None = None,
        options: CommentsApiOptions | None = None,
        function_defaults: FunctionDefaults | None = None,
    ) -> None:
        super().__init__(scope, id)
        if existing_idempotency_table is not None and idempotency_table_options is not None:
            raise ValueError(
                "CommentsApi: pass existing_idempotency_table or idempotency_table_options, not both"
            )
        opts = options or CommentsApiOptions()
        self.options = opts
        self.allowed_origins = check_allowed_origins("CommentsApi", allowed_origins)
        _check_broadcast_settings(broadcast_principals, opts.broadcast_message_types)
        self.broadcast_principals = tuple(broadcast_principals)
        defaults = function_defaults or FunctionDefaults()

        self.idempotency_table: dynamodb.ITable
        if existing_idempotency_table is not None:
            self.idempotency_table = existing_idempotency_table
        else:
            table_options = idempotency_table_options or IDEMPOTENCY_TABLE_OPTIONS
            self.idempotency_table = dynamodb.Table(
                self,
                "IdempotencyTable",
                partition_key=dynamodb.Attribute(name="id", type=dynamodb.AttributeType.STRING),
                time_to_live_attribute="expiration",
                **table_options.table_kwargs(),
            )
            if not table_options.point_in_time_recovery:
                acknowledge(self.idempotency_table, "DDB3", "DDB3[idempotency]")

        self.comments_function = ServiceFunction(
            self,
            "CommentsFunction",
            handler="handlers.comments_api.handler",
            defaults=defaults,
            description="Comments REST API and connection-count health route",
            environment=CommentsApiSettings(
                comments_table_name=comments_table.table_name,
                connections_table_name=connections_table.table_name,
                idempotency_table_name=self.idempotency_table.table_name,
                comments_page_size=opts.comments_page_size,
                comment_write_rate=opts.comment_write_rate_limit,
                comment_write_burst=opts.comment_write_burst_limit,
            ).to_env(),
        ).function
        comments_table.grant(self.comments_function, *access.COMMENTS_READ, *access.COMMENTS_WRITE)
        connections_table.grant(self.comments_function, *access.CONNECTION_COUNT, *access.RATE_BUCKET)
        self.idempotency_table.grant(self.comments_function, *access.IDEMPOTENCY)

        broadcast_env = BroadcastEndpointSettings(
            connections_table_name=connections_table.table_name,
            websocket_callback_url=websocket.callback_url,
            fanout_queue_url=broadcaster.fanout_queue.queue_url if broadcaster is not None else "",
            fanout=opts.fanout,
            broadcast_principals=self.broadcast_principals,
            broadcast_message_types=tuple(opts.broadcast_message_types),
        ).to_env()
        self.broadcast_function = ServiceFunction(
            self,
            "BroadcastFunction",
            handler="handlers.broadcast_endpoint.handler",
            defaults=defaults,
            description="IAM-authorized broadcast endpoint for other services",
            timeout=Duration.seconds(30),
            environment=broadcast_env,
            reserved_concurrency=opts.broadcast_reserved_concurrency,
            unreserved_reason=(
                "Not reserved in this deployment (CommentsApiOptions.broadcast_reserved_concurrency, "
                "StageConfig.reserved_concurrency): accounts with a low concurrency quota cannot "
                "reserve any. Only the listed IAM principals can invoke it, behind the stage "
                "throttle; staging and prod reserve it."
            ),
        ).function
        connections_table.grant(self.broadcast_function, *access.CONNECTION_CLEANUP)
        if broadcaster is not None:
            broadcaster.grant_enqueue_fanout(self.broadcast_function)
        websocket.grant_manage_connections(self.broadcast_function)

        self.http_api = apigwv2.HttpApi(
            self,
            "Api",
            api_name=opts.api_name,
            description="Realtime Comments HTTP API",
            create_default_stage=False,
            cors_preflight=apigwv2.CorsPreflightOptions(
                allow_origins=list(self.allowed_origins),
                allow_methods=[
                    apigwv2.CorsHttpMethod.GET,
                    apigwv2.CorsHttpMethod.POST,
                    apigwv2.CorsHttpMethod.PATCH,
                    apigwv2.CorsHttpMethod.DELETE,
                    apigwv2.CorsHttpMethod.OPTIONS,
                ],
                allow_headers=["Authorization", "Content-Type", "Idempotency-Key"],
                # A refused write's Retry-After must be readable by the page.
                expose_headers=["Retry-After"],
                max_age=Duration.hours(1),
            ),
        )
        self.jwt_authorizer = authorizers.HttpJwtAuthorizer(
            "JwtAuthorizer", jwt_issuer, jwt_audience=[jwt_audience]
        )
        comments_integration = integrations.HttpLambdaIntegration(
            "CommentsIntegration", invocation_target(self.comments_function)
        )
        self.http_api.add_routes(
            path=COMMENTS_PATH,
            methods=[apigwv2.HttpMethod.POST],
            integration=comments_integration,
            authorizer=self.jwt_authorizer,
        )
        public_reads = self.http_api.add_routes(
            path=COMMENTS_PATH, methods=[apigwv2.HttpMethod.GET], integration=comments_integration
        )
        self.http_api.add_routes(
            path=COMMENT_PATH,
            methods=[apigwv2.HttpMethod.PATCH, apigwv2.HttpMethod.DELETE],
            integration=comments_integration,
            authorizer=self.jwt_authorizer,
        )
        public_reads += self.http_api.add_routes(
            path=CONNECTIONS_PATH, methods=[apigwv2.HttpMethod.GET], integration=comments_integration
        )
        for route in public_reads:
            acknowledge(route, "APIG4", "APIG4[public-read]")
        (self.broadcast_route,) = self.http_api.add_routes(
            path=BROADCAST_PATH,
            methods=[apigwv2.HttpMethod.POST],
            integration=integrations.HttpLambdaIntegration(
                "BroadcastIntegration", invocation_target(self.broadcast_function)
            ),
            authorizer=authorizers.HttpIamAuthorizer(),
        )

        self.notifications_function: lambda_.Function | None = None
        if notifications is not None:
            self.notifications_function = ServiceFunction(
                self,
                "NotificationsFunction",
                handler="handlers.notifications_api.handler",
                defaults=defaults,
                description="Notifications REST API: the caller's own list, unread count and mark-read",
                environment=NotificationsApiSettings(
                    notifications_table_name=notifications.table.table_name
                ).to_env(),
            ).function
            notifications.table.grant(self.notifications_function, *access.NOTIFICATIONS_READ)
            notifications_integration = integrations.HttpLambdaIntegration(
                "NotificationsIntegration", invocation_target(self.notifications_function)
            )
            self.http_api.add_routes(
                path=NOTIFICATIONS_PATH,
                methods=[apigwv2.HttpMethod.GET],
                integration=notifications_integration,
                authorizer=self.jwt_authorizer,
            )
            self.http_api.add_routes(
                path=NOTIFICATIONS_READ_PATH,
                methods=[apigwv2.HttpMethod.POST],
                integration=notifications_integration,
                authorizer=self.jwt_authorizer,
            )

        self.access_log_group = logs.LogGroup(
            self,
            "AccessLogs",
            retention=opts.access_log_retention,
            removal_policy=opts.access_log_removal_policy,
        )
        self.stage = apigwv2.HttpStage(
            self,
            "DefaultStage",
            http_api=self.http_api,
            stage_name="$default",
            auto_deploy=True,
            throttle=apigwv2.ThrottleSettings(
                rate_limit=opts.throttle_rate_limit, burst_limit=opts.throttle_burst_limit
            ),
            access_log_settings=AccessLogSettings(self.access_log_group, HTTP_LOG_FIELDS),
        )
        self.url = self.stage.url  # https://{apiId}.execute-api.{region}.{urlSuffix}/
        self.broadcast_endpoint_url = f"{self.url}{BROADCAST_PATH.lstrip('/')}"
        acknowledge_function_wildcards(
            self, [self.comments_function, self.broadcast_function, self.notifications_function]
        )

    def grant_invoke_broadcast(self, grantee: iam.IGrantable) -> iam.Grant:
        """Allow ``grantee`` to call ``POST /api/v1/broadcast`` (``execute-api:Invoke``)."""
        return self.broadcast_route.grant_invoke(grantee)


def _check_broadcast_settings(principals: Sequence[str], message_types: Sequence[str]) -> None:
    if isinstance(principals, str):
        raise TypeError("CommentsApi: broadcast_principals is a sequence of ARNs, not one string")
    for arn in principals:
        if not Token.is_unresolved(arn) and not _PRINCIPAL_ARN.fullmatch(arn):
            raise ValueError(
                f"CommentsApi: broadcast_principals entry {arn!r} is not an IAM role or user ARN "
                "(arn:aws:iam::<account>:role/<name> or :user/<name>; no wildcards)"
            )
    unknown = set(message_types) - set(BROADCAST_MESSAGE_TYPES)
    if unknown:
        raise ValueError(
            f"CommentsApi: broadcast_message_types {sorted(unknown)} are not among "
            f"{list(BROADCAST_MESSAGE_TYPES)}"
        )
