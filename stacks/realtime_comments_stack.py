"""One deployable stage of Realtime Comments: composes the reusable constructs from a
``StageConfig``. All stage logic lives here (and in ``stage_config``), never in the constructs."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from aws_cdk import CfnOutput, CfnResource, Duration, RemovalPolicy, Stack, Tags
from aws_cdk import aws_certificatemanager as acm
from constructs import Construct
from realtime_comments_cdk import (
    IDEMPOTENCY_TABLE_OPTIONS,
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
    NotificationsStore,
    StaticSite,
    StaticSiteOptions,
    TableOptions,
    UserPoolOptions,
    WebSocketApi,
    WebSocketApiOptions,
)

from .nag_suppressions import apply_nag_suppressions
from .stage_config import SITE_ASSETS_CONTEXT_KEY, StageConfig

# Exact versions of the dependencies layer's transitive packages (pip constraints).
LAYER_CONSTRAINTS = Path(__file__).resolve().parent / "layer-constraints.txt"
APP_DIR = Path(__file__).resolve().parent.parent

# Stable logical ids of the stateful resources (asserted by tests/infra): renaming a construct
# must never replace a table or the user pool.
STATEFUL_LOGICAL_IDS = {
    "connections_table": "ConnectionsTable",
    "comments_table": "CommentsTable",
    "idempotency_table": "IdempotencyTable",
    "notifications_table": "NotificationsTable",
    "user_pool": "UserPool",
}
# The page's buckets (staging and prod): the site's files and its access logs, both retained.
SITE_LOGICAL_IDS = {"site_bucket": "SiteBucket", "site_log_bucket": "SiteLogBucket"}


class RealtimeCommentsStack(Stack):
    def __init__(self, scope: Construct, id: str, *, config: StageConfig, **kwargs) -> None:
        kwargs.setdefault("description", f"Realtime Comments ({config.name}): live comments over WebSocket")
        super().__init__(scope, id, **kwargs)
        self.config = config
        Tags.of(self).add("Project", "RealtimeComments")
        Tags.of(self).add("Stage", config.name)

        table_options = TableOptions(
            removal_policy=config.removal_policy,
            deletion_protection=config.deletion_protection,
            point_in_time_recovery=config.point_in_time_recovery,
        )
        log_removal = RemovalPolicy.RETAIN if config.is_prod else RemovalPolicy.DESTROY
        defaults = FunctionDefaults(
            memory_size=config.lambda_memory_mb,
            memory_sizes=config.lambda_memory_sizes,
            architecture=config.lambda_architecture,
            snap_start=config.snap_start,
            log_retention=config.log_retention,
            log_removal_policy=log_removal,
            log_level=config.log_level,
            constraints_file=LAYER_CONSTRAINTS if LAYER_CONSTRAINTS.is_file() else None,
        )

        self.connections = ConnectionsStore(self, "Connections", table_options=table_options)
        self.comments = CommentsStore(self, "Comments", table_options=table_options)
        self.notifications = NotificationsStore(
            self,
            "Notifications",
            retention=Duration.days(config.notification_ttl_days),
            table_options=table_options,
        )
        self.identity = Identity(
            self,
            "Identity",
            user_pool_options=UserPoolOptions(
                removal_policy=config.removal_policy,
                deletion_protection=config.deletion_protection,
                hosted_sign_in=_hosted_sign_in(config),
            ),
        )
        self.websocket = WebSocketApi(
            self,
            "WebSocket",
            connections_table=self.connections.table,
            comments_table=self.comments.table,
            jwt_issuer=self.identity.issuer,
            jwt_audience=self.identity.audience,
            jwks_url=self.identity.jwks_url,
            allowed_origins=config.allowed_origins,
            options=WebSocketApiOptions(
                stage_name=config.name,
                throttle_rate_limit=config.websocket_throttle.rate_limit,
                throttle_burst_limit=config.websocket_throttle.burst_limit,
                connection_ttl=Duration.seconds(config.connection_ttl_seconds),
                comments_page_size=config.comments_page_size,
                access_log_retention=config.log_retention,
                access_log_removal_policy=log_removal,
                create_account_logging_role=config.apigateway_account_logging_role,
                max_subscriptions_per_connection=config.limits.subscriptions_per_connection,
                max_connections_per_user=config.limits.connections_per_user,
                action_rate_limit=config.limits.action_frames_per_second,
                action_burst_limit=config.limits.action_frame_burst,
            ),
            function_defaults=defaults,
        )
        self.broadcaster = Broadcaster(
            self,
            "Broadcaster",
            comments_table=self.comments.table,
            connections_table=self.connections.table,
            websocket=self.websocket,
            notifications=self.notifications,
            options=BroadcasterOptions(
                fanout=config.fanout,
                memory_size=defaults.memory_size_for("handlers.stream_broadcaster.handler"),
                fanout_reserved_concurrency=config.reserved_concurrency.fanout_worker,
                stream_reserved_concurrency=config.reserved_concurrency.stream_broadcaster,
            ),
            function_defaults=defaults,
        )
        # Subscription changes ask for presence flushes on the fan-out queue; typing uses its batches.
        for fn in (
            self.websocket.actions_function,
            self.websocket.disconnect_function,
            self.websocket.default_function,
        ):
            self.broadcaster.attach_fanout(fn)
        self.api = CommentsApi(
            self,
            "CommentsApi",
            comments_table=self.comments.table,
            connections_table=self.connections.table,
            jwt_issuer=self.identity.issuer,
            jwt_audience=self.identity.audience,
            websocket=self.websocket,
            allowed_origins=config.allowed_origins,
            broadcast_principals=config.broadcast_principals,
            broadcaster=self.broadcaster,
            notifications=self.notifications,
            idempotency_table_options=dataclasses.replace(
                IDEMPOTENCY_TABLE_OPTIONS,
                # Idempotency records expire within hours: nothing worth retaining or restoring.
                removal_policy=RemovalPolicy.DESTROY if not config.is_prod else RemovalPolicy.RETAIN,
            ),
            options=CommentsApiOptions(
                throttle_rate_limit=config.http_throttle.rate_limit,
                throttle_burst_limit=config.http_throttle.burst_limit,
                comments_page_size=config.comments_page_size,
                access_log_retention=config.log_retention,
                access_log_removal_policy=log_removal,
                fanout=config.fanout,
                comment_write_rate_limit=config.limits.comment_writes_per_second,
                comment_write_burst_limit=config.limits.comment_write_burst,
                broadcast_reserved_concurrency=config.reserved_concurrency.broadcast_endpoint,
            ),
            function_defaults=defaults,
        )
        thresholds = config.alarm_thresholds
        self.monitoring = Monitoring(
            self,
            "Monitoring",
            error_functions={
                "StreamBroadcaster": self.broadcaster.stream_function,
                "FanoutWorker": self.broadcaster.fanout_function,
                "BroadcastEndpoint": self.api.broadcast_function,
                **(
                    {"Notifier": self.broadcaster.notify_function} if self.broadcaster.notify_function else {}
                ),
            },
            stream_functions={
                "StreamBroadcaster": self.broadcaster.stream_function,
                **(
                    {"Notifier": self.broadcaster.notify_function} if self.broadcaster.notify_function else {}
                ),
            },
            http_apis={"HttpApi": self.api.http_api},
            dead_letter_queues={
                name: queue
                for name, queue in (
                    ("StreamDlq", self.broadcaster.stream_dlq),
                    ("FanoutDlq", self.broadcaster.fanout_dlq),
                )
                if queue is not None
            },
            dashboard_functions=[
                self.websocket.authorizer_function,
                self.websocket.connect_function,
                self.websocket.disconnect_function,
                self.websocket.actions_function,
                self.websocket.default_function,
                self.api.comments_function,
                self.api.broadcast_function,
                self.broadcaster.stream_function,
                self.broadcaster.fanout_function,
                *(fn for fn in (self.broadcaster.notify_function, self.api.notifications_function) if fn),
            ],
            thresholds=MonitoringThresholds(
                function_errors=thresholds.broadcaster_errors,
                iterator_age_ms=thresholds.iterator_age_ms,
                http_5xx=thresholds.http_5xx,
                dlq_messages=thresholds.dlq_messages,
            ),
            create_alarm_topic=config.alarm_topic,
            alarm_email=config.alarm_email,
            dashboard_name=f"RealtimeComments-{config.name}",
            alarm_key_removal_policy=log_removal,
        )

        self.site = self._static_site(config) if config.site.enabled else None

        self._pin_stateful_logical_ids()
        self._outputs()
        apply_nag_suppressions(self)

    def _static_site(self, config: StageConfig) -> StaticSite:
        """The page's host: connect-src is this stage's two APIs (and its Cognito domain), and
        runtime-config.json holds their URLs."""
        region, suffix = self.region, self.url_suffix
        connect = [
            f"https://{self.api.http_api.api_id}.execute-api.{region}.{suffix}",
            f"wss://{self.websocket.api.api_id}.execute-api.{region}.{suffix}",
        ]
        runtime_config = {"websocketUrl": self.websocket.url, "apiUrl": self.api.url}
        client = self.identity.user_pool_client
        if self.identity.hosted_sign_in_url and client is not None:
            connect.append(self.identity.hosted_sign_in_url)  # the code flow's POST /oauth2/token
            runtime_config["cognitoDomain"] = self.identity.hosted_sign_in_url
            runtime_config["cognitoClientId"] = client.user_pool_client_id
        assets = self.node.try_get_context(SITE_ASSETS_CONTEXT_KEY)
        site = config.site
        return StaticSite(
            self,
            "Site",
            connect_origins=connect,
            runtime_config=runtime_config,
            site_assets=(APP_DIR / assets) if assets else None,
            options=StaticSiteOptions(
                domain_names=site.domain_names,
                certificate=(
                    acm.Certificate.from_certificate_arn(self, "SiteCertificate", site.certificate_arn)
                    if site.certificate_arn
                    else None
                ),
                web_acl_id=site.web_acl_id,
            ),
        )

    def _pin_stateful_logical_ids(self) -> None:
        pins = {
            STATEFUL_LOGICAL_IDS["connections_table"]: self.connections.table,
            STATEFUL_LOGICAL_IDS["comments_table"]: self.comments.table,
            STATEFUL_LOGICAL_IDS["idempotency_table"]: self.api.idempotency_table,
            STATEFUL_LOGICAL_IDS["notifications_table"]: self.notifications.table,
            STATEFUL_LOGICAL_IDS["user_pool"]: self.identity.user_pool,
        }
        if self.site is not None:
            pins[SITE_LOGICAL_IDS["site_bucket"]] = self.site.bucket
            pins[SITE_LOGICAL_IDS["site_log_bucket"]] = self.site.log_bucket
        for logical_id, resource in pins.items():
            cfn = resource.node.default_child if resource is not None else None
            if isinstance(cfn, CfnResource):  # built here, not imported
                cfn.override_logical_id(logical_id)

    def _outputs(self) -> None:
        CfnOutput(self, "WebSocketUrl", value=self.websocket.url, description="wss:// URL (add ?token=<JWT>)")
        CfnOutput(
            self,
            "WebSocketCallbackUrl",
            value=self.websocket.callback_url,
            description="@connections management endpoint",
        )
        CfnOutput(self, "HttpApiUrl", value=self.api.url, description="REST API base URL")
        user_pool, client = self.identity.user_pool, self.identity.user_pool_client
        assert user_pool is not None and client is not None  # this stack always uses Cognito
        CfnOutput(self, "UserPoolId", value=user_pool.user_pool_id)
        CfnOutput(self, "UserPoolClientId", value=client.user_pool_client_id)
        if self.identity.hosted_sign_in_url:
            CfnOutput(
                self,
                "CognitoDomainUrl",
                value=self.identity.hosted_sign_in_url,
                description="Hosted sign-in base URL (the frontend's cognitoDomain)",
            )
        if self.site is not None:
            CfnOutput(self, "SiteUrl", value=self.site.url, description="The page (CloudFront)")
            CfnOutput(self, "SiteBucketName", value=self.site.bucket.bucket_name)
            CfnOutput(self, "SiteDistributionId", value=self.site.distribution.distribution_id)
        CfnOutput(
            self,
            "BroadcastEndpointUrl",
            value=self.api.broadcast_endpoint_url,
            description="IAM (SigV4) authorized POST endpoint for other services",
        )


def _hosted_sign_in(config: StageConfig) -> HostedSignIn | None:
    if not config.cognito_domain_prefix:
        return None
    site_urls = tuple(origin.rstrip("/") + "/" for origin in config.allowed_origins)
    return HostedSignIn(domain_prefix=config.cognito_domain_prefix, callback_urls=site_urls)
