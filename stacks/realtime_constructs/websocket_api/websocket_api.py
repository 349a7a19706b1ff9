from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from aws_cdk import Duration, RemovalPolicy, Stack
from aws_cdk import aws_apigateway as apigw
from aws_cdk import aws_apigatewayv2 as apigwv2
from aws_cdk import aws_apigatewayv2_authorizers as authorizers
from aws_cdk import aws_apigatewayv2_integrations as integrations
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from aws_cdk import aws_logs as logs
from constructs import Construct
from realtime_comments.settings import (
    DEFAULT_ACTION_BURST,
    DEFAULT_ACTION_RATE,
    DEFAULT_COMMENTS_PAGE_SIZE,
    DEFAULT_CONNECTION_TTL_SECONDS,
    DEFAULT_MAX_CONNECTIONS_PER_USER,
    DEFAULT_MAX_SUBSCRIPTIONS_PER_CONNECTION,
    ActionsSettings,
    AuthorizerSettings,
    ConnectSettings,
    DefaultRouteSettings,
    DisconnectSettings,
)

from .. import _access as access
from .._access_logs import WEBSOCKET_LOG_FIELDS, AccessLogSettings
from .._nag import acknowledge, acknowledge_function_wildcards
from .._origins import check_allowed_origins
from ..lambda_defaults import FunctionDefaults, ServiceFunction, invocation_target

ACTION_ROUTES: tuple[str, ...] = ("subscribe", "unsubscribe", "typing", "ping")
# The @connections methods: POST sends a message, GET reads a connection's metadata, DELETE
# closes it. The project's functions only POST; grant the others only to code that uses them.
CONNECTION_METHODS = frozenset({"POST", "GET", "DELETE"})
TOKEN_IDENTITY_SOURCE = "route.request.querystring.token"  # noqa: S105 - a query key, not a secret


@dataclass(frozen=True)
class WebSocketApiOptions:
    """Tuning of ``WebSocketApi``.

    :param stage_name: default ``live``; part of the URLs.
    :param api_name: default generated from the construct path.
    :param throttle_rate_limit: steady requests per second for the stage, default 100.
    :param throttle_burst_limit: default 200.
    :param connection_ttl: ``CONNECTION_TTL_SECONDS``, default 24 hours.
    :param comments_page_size: ``COMMENTS_PAGE_SIZE`` (history sent on subscribe), default 50.
    :param access_log_retention: default one month.
    :param access_log_removal_policy: default ``DESTROY``.
    :param create_account_logging_role: set the account-level API Gateway CloudWatch Logs role
        (required once per account and region before WebSocket access logs work). Default ``False``.
    :param max_subscriptions_per_connection: ``MAX_SUBSCRIPTIONS_PER_CONNECTION``, default 50;
        the next ``subscribe`` gets an ``error`` with code ``TOO_MANY_SUBSCRIPTIONS``.
    :param max_connections_per_user: ``MAX_CONNECTIONS_PER_USER``, default 10; the next
        ``$connect`` of that user is refused (HTTP 429) at the handshake.
    :param action_rate_limit / action_burst_limit: ``ACTION_RATE`` / ``ACTION_BURST``, frames per
        second and burst per connection (actions and ``$default`` together), default 10 / 20;
        beyond that a frame gets an ``error`` with code ``RATE_LIMITED`` and is not processed.
    """

    stage_name: str = "live"
    api_name: str | None = None
    throttle_rate_limit: float = 100
    throttle_burst_limit: int = 200
    connection_ttl: Duration = field(default_factory=lambda: Duration.seconds(DEFAULT_CONNECTION_TTL_SECONDS))
    comments_page_size: int = DEFAULT_COMMENTS_PAGE_SIZE
    access_log_retention: logs.RetentionDays = logs.RetentionDays.ONE_MONTH
    access_log_removal_policy: RemovalPolicy = RemovalPolicy.DESTROY
    create_account_logging_role: bool = False
    max_subscriptions_per_connection: int = DEFAULT_MAX_SUBSCRIPTIONS_PER_CONNECTION
    max_connections_per_user: int = DEFAULT_MAX_CONNECTIONS_PER_USER
    action_rate_limit: int = DEFAULT_ACTION_RATE
    action_burst_limit: int = DEFAULT_ACTION_BURST


class WebSocketApi(Construct):
    """API Gateway v2 WebSocket API for live comments.

    Route selection ``$request.body.action``; ``$connect`` behind a Lambda REQUEST authorizer
    (identity source ``route.request.querystring.token``); ``$disconnect``; ``$default``;
    ``subscribe``, ``unsubscribe`` and ``ping``. One stage with JSON access logs and throttling.

    :param connections_table: the ConnectionsStore table.
    :param comments_table: the CommentsStore table (history replayed on ``subscribe``).
    :param jwt_issuer / jwt_audience / jwks_url: what the authorizer verifies (see ``Identity``).
    :param allowed_origins: required. The browser origins (``scheme://host[:port]``) whose
        handshakes the authorizer accepts (``ALLOWED_ORIGINS``). ``("*",)`` turns the Origin check
        off (any web page may open a socket with a user's token) and is only taken when passed.
    :param options: ``WebSocketApiOptions``.
    :param function_defaults: ``FunctionDefaults`` of the five functions.

    Attributes: ``api``, ``stage``, ``url`` (``wss://``), ``callback_url`` (``https://``, the
    ``@connections`` endpoint), ``authorizer``, ``access_log_group``, and the functions
    ``authorizer_function``, ``connect_function``, ``disconnect_function``,
    ``actions_function``, ``default_function``.
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        connections_table: dynamodb.ITable,
        comments_table: dynamodb.ITable,
        jwt_issuer: str,
        jwt_audience: str,
        jwks_url: str,
        allowed_origins: Sequence[str],
        options: WebSocketApiOptions | None = None,
        function_defaults: FunctionDefaults | None = None,
    ) -> None:
        super().__init__(scope, id)
        opts = options or WebSocketApiOptions()
        self.options = opts
        self.allowed_origins = check_allowed_origins("WebSocketApi", allowed_origins)
        defaults = function_defaults or FunctionDefaults()
        # The callback URL is known before the stage exists; functions need it in their env.
        self.api = apigwv2.WebSocketApi(
            self,
            "Api",
            api_name=opts.api_name,
            description="Realtime Comments WebSocket API",
            route_selection_expression="$request.body.action",
        )
        stack = Stack.of(self)
        self.callback_url = (
            f"https://{self.api.api_id}.execute-api.{stack.region}.{stack.url_suffix}/{opts.stage_name}"
        )

        ttl_seconds = int(opts.connection_ttl.to_seconds())
        frame_rate = {"action_rate": opts.action_rate_limit, "action_burst": opts.action_burst_limit}
        self.authorizer_function = ServiceFunction(
            self,
            "AuthorizerFunction",
            handler="handlers.authorizer.handler",
            defaults=defaults,
            description="WebSocket $connect authorizer: JWT and Origin checks",
            environment=AuthorizerSettings(
                jwt_issuer=jwt_issuer,
                jwt_audience=jwt_audience,
                jwks_url=jwks_url,
                allowed_origins=self.allowed_origins,
            ).to_env(),
        ).function
        self.connect_function = ServiceFunction(
            self,
            "ConnectFunction",
            handler="handlers.ws_connect.handler",
            defaults=defaults,
            description="WebSocket $connect: stores the connection",
            environment=ConnectSettings(
                connections_table_name=connections_table.table_name,
                connection_ttl_seconds=ttl_seconds,
                max_connections_per_user=opts.max_connections_per_user,
            ).to_env(),
        ).function
        self.disconnect_function = ServiceFunction(
            self,
            "DisconnectFunction",
            handler="handlers.ws_disconnect.handler",
            defaults=defaults,
            description="WebSocket $disconnect: removes the connection and its subscriptions",
            environment=DisconnectSettings(connections_table_name=connections_table.table_name).to_env(),
        ).function
        self.actions_function = ServiceFunction(
            self,
            "ActionsFunction",
            handler="handlers.ws_actions.handler",
            defaults=defaults,
            description="WebSocket subscribe / unsubscribe / typing / ping",
            environment=ActionsSettings(
                connections_table_name=connections_table.table_name,
                websocket_callback_url=self.callback_url,
                comments_table_name=comments_table.table_name,
                comments_page_size=opts.comments_page_size,
                max_subscriptions_per_connection=opts.max_subscriptions_per_connection,
                **frame_rate,
            ).to_env(),
        ).function
        self.default_function = ServiceFunction(
            self,
            "DefaultFunction",
            handler="handlers.ws_default.handler",
            defaults=defaults,
            description="WebSocket $default: echoes the frame as a test message",
            environment=DefaultRouteSettings(
                connections_table_name=connections_table.table_name,
                websocket_callback_url=self.callback_url,
                **frame_rate,
            ).to_env(),
        ).function

        self.authorizer = authorizers.WebSocketLambdaAuthorizer(
            "TokenAuthorizer",
            invocation_target(self.authorizer_function),
            identity_source=[TOKEN_IDENTITY_SOURCE],
        )
        self.api.add_route(
            "$connect",
            integration=integrations.WebSocketLambdaIntegration(
                "ConnectIntegration", invocation_target(self.connect_function)
            ),
            authorizer=self.authorizer,
        )
        self.api.add_route(
            "$disconnect",
            integration=integrations.WebSocketLambdaIntegration(
                "DisconnectIntegration", invocation_target(self.disconnect_function)
            ),
        )
        self.api.add_route(
            "$default",
            integration=integrations.WebSocketLambdaIntegration(
                "DefaultIntegration", invocation_target(self.default_function)
            ),
        )
        actions_integration = integrations.WebSocketLambdaIntegration(
            "ActionsIntegration", invocation_target(self.actions_function)
        )
        for route in ACTION_ROUTES:
            self.api.add_route(route, integration=actions_integration)

        self.access_log_group = logs.LogGroup(
            self,
            "AccessLogs",
            retention=opts.access_log_retention,
            removal_policy=opts.access_log_removal_policy,
        )
        self.account_logging_role: iam.Role | None = None
        if opts.create_account_logging_role:
            self.account_logging_role = iam.Role(
                self,
                "ApiGatewayCloudWatchRole",
                assumed_by=iam.ServicePrincipal("apigateway.amazonaws.com"),
                managed_policies=[
                    iam.ManagedPolicy.from_aws_managed_policy_name(
                        "service-role/AmazonAPIGatewayPushToCloudWatchLogs"
                    )
                ],
            )
            # Keep the role: the account setting outlives this stack and other APIs may log with it.
            self.account_logging_role.apply_removal_policy(RemovalPolicy.RETAIN)
            account = apigw.CfnAccount(
                self, "ApiGatewayAccount", cloud_watch_role_arn=self.account_logging_role.role_arn
            )
        self.stage = apigwv2.WebSocketStage(
            self,
            "Stage",
            web_socket_api=self.api,
            stage_name=opts.stage_name,
            auto_deploy=True,
            throttle=apigwv2.ThrottleSettings(
                rate_limit=opts.throttle_rate_limit, burst_limit=opts.throttle_burst_limit
            ),
            access_log_settings=AccessLogSettings(self.access_log_group, WEBSOCKET_LOG_FIELDS),
        )
        if opts.create_account_logging_role:
            self.stage.node.add_dependency(account)
        self.url = self.stage.url

        # Every function that replies to clients sends (POST) through the @connections API.
        for fn in (self.actions_function, self.default_function):
            self.grant_manage_connections(fn)
        self._acknowledge_findings()
        connections_table.grant(self.connect_function, *access.CONNECTION_PUT)
        connections_table.grant(self.disconnect_function, *access.CONNECTION_CLEANUP)
        connections_table.grant(
            self.actions_function, *access.SUBSCRIPTIONS, *access.RATE_BUCKET, *access.CONNECTION_CLEANUP
        )
        connections_table.grant(self.default_function, *access.RATE_BUCKET, *access.CONNECTION_CLEANUP)
        comments_table.grant(self.actions_function, *access.COMMENTS_READ)

    def _acknowledge_findings(self) -> None:
        routes = {"$disconnect", "$default", *ACTION_ROUTES}
        for route in routes:
            acknowledge(self.api.node.find_child(f"{route}-Route"), "APIG4", "APIG4[ws]")
        if self.account_logging_role is not None:
            acknowledge(
                self.account_logging_role,
                "IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AmazonAPIGatewayPushToCloudWatchLogs]",
                "IAM4[apigw-logs]",
            )
        acknowledge_function_wildcards(
            self,
            [
                self.authorizer_function,
                self.connect_function,
                self.disconnect_function,
                self.actions_function,
                self.default_function,
            ],
        )

    def grant_manage_connections(
        self, grantee: iam.IGrantable, methods: Sequence[str] = ("POST",)
    ) -> iam.Grant:
        """Allow ``grantee`` the given ``@connections`` methods on this API's stage:
        ``execute-api:ManageConnections`` on ``{api}/{stage}/{METHOD}/@connections/*``, one ARN
        per method. The default is ``POST`` only (send a message), which is all the project's
        functions do; pass ``("POST", "DELETE")`` etc. for code that also closes connections."""
        wanted = [method.upper() for method in methods]
        unknown = set(wanted) - CONNECTION_METHODS
        if not wanted or unknown:
            raise ValueError(
                f"grant_manage_connections: methods must be some of {sorted(CONNECTION_METHODS)}, "
                f"got {list(methods)}"
            )
        api_arn = Stack.of(self.api).format_arn(service="execute-api", resource=self.api.api_id)
        return iam.Grant.add_to_principal(
            grantee=grantee,
            actions=["execute-api:ManageConnections"],
            resource_arns=[
                f"{api_arn}/{self.stage.stage_name}/{method}/@connections/*"
                for method in dict.fromkeys(wanted)
            ],
        )
