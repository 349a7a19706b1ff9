from __future__ import annotations

from dataclasses import dataclass, field

from aws_cdk import Duration
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_lambda_event_sources as sources
from aws_cdk import aws_sqs as sqs
from constructs import Construct
from realtime_comments.settings import (
    BroadcastSettings,
    FanoutOptions,
    FanoutWorkerSettings,
    NotifierSettings,
    fanout_path_env,
)

from .. import _access as access
from .._nag import acknowledge, acknowledge_function_wildcards
from ..lambda_defaults import STREAM_UNRESERVED, FunctionDefaults, ServiceFunction, invocation_target
from ..notifications_store import NotificationsStore
from ..websocket_api import WebSocketApi

# Stream records of the per-post counter item (seq = 0) never reach the function.
SKIP_COUNTER_ITEMS = {"dynamodb": {"Keys": {"seq": {"N": [{"anything-but": ["0"]}]}}}}
# Only new replies (which carry their parent's author) reach the notifier.
NEW_REPLIES = {"eventName": ["INSERT"], "dynamodb": {"NewImage": {"parentUserId": {"S": [{"exists": True}]}}}}


@dataclass(frozen=True)
class BroadcasterOptions:
    """Tuning of ``Broadcaster``.

    Stream event source: ``batch_size`` (default 100), ``max_batching_window`` (default none),
    ``retry_attempts`` (default 5, bounded), ``max_record_age`` (default 1 hour),
    ``parallelization_factor`` (default 1: keeps per-post order); bisect on error and
    ``ReportBatchItemFailures`` are always on; failed batches go to ``stream_dlq``.
    Fan-out: ``fanout`` (``FanoutOptions``: inline limit 2000, 1000 ids per queue message,
    128 concurrent sends), ``fanout_worker_batch_size`` (SQS messages per invocation, 1),
    ``fanout_max_receive_count`` (3, then the fan-out DLQ), ``broadcaster_timeout`` (60 s),
    ``worker_timeout`` (60 s), ``memory_size`` (512 MiB), ``dlq_retention`` (14 days).
    Concurrency: ``fanout_reserved_concurrency`` (default none) reserves and caps the fan-out
    worker, whose SQS poller otherwise scales with the queue's depth (each invocation runs
    ``send_concurrency`` sends) and can take the account's concurrency from the request path; the
    queue's event source then polls with at most that many concurrent invocations, so throttling
    never counts receives towards the DLQ. ``stream_reserved_concurrency`` (default none)
    guarantees the stream broadcaster capacity under a flood elsewhere. Leave at least 100
    executions of the account unreserved.
    """

    batch_size: int = 100
    max_batching_window: Duration | None = None
    retry_attempts: int = 5
    max_record_age: Duration = field(default_factory=lambda: Duration.hours(1))
    parallelization_factor: int = 1
    fanout: FanoutOptions = field(default_factory=FanoutOptions)
    fanout_worker_batch_size: int = 1
    fanout_max_receive_count: int = 3
    broadcaster_timeout: Duration = field(default_factory=lambda: Duration.seconds(60))
    worker_timeout: Duration = field(default_factory=lambda: Duration.seconds(60))
    memory_size: int = 512
    dlq_retention: Duration = field(default_factory=lambda: Duration.days(14))
    fanout_reserved_concurrency: int | None = None
    stream_reserved_concurrency: int | None = None


class Broadcaster(Construct):
    """Delivers committed comment changes to the post's subscribers.

    - ``stream_function`` (``handlers.stream_broadcaster.handler``) on the comments table's stream:
      starting position LATEST, ``ReportBatchItemFailures``, bisect on error, bounded retries,
      maximum record age, on-failure destination ``stream_dlq`` (SQS); counter items filtered out.
    - Above ``fanout.inline_limit`` recipients it enqueues batches of connection ids on
      ``fanout_queue``; ``fanout_function`` (``handlers.fanout_worker.handler``) delivers them
      (``ReportBatchItemFailures``); poison messages land in ``fanout_dlq``.

    :param comments_table: table with a stream (``CommentsStore.table``).
    :param connections_table: ``ConnectionsStore.table``.
    :param websocket: the ``WebSocketApi`` whose connections receive the messages (its callback
        URL, and ``ManageConnections`` POST on its stage for both functions).
    :param existing_fanout_queue / existing_stream_dlq: bring your own queues (the built ones use
        SQS-managed encryption and enforce TLS).

    - With ``notifications`` (a ``NotificationsStore``), ``notify_function``
      (``handlers.notifier.handler``) is a second consumer of the same stream, filtered to new
      replies: it stores one notification for the parent's author (conditional put, so a
      redelivered record stores none) and pushes ``notification.created`` to that user's open
      connections (Query on the connections table's ``byUser`` GSI). Same retry, bisect and
      on-failure settings as the broadcaster.

    Attributes: ``stream_function``, ``fanout_function``, ``fanout_queue``, ``fanout_dlq``
    (``None`` with an existing fan-out queue), ``stream_dlq``, ``stream_event_source``,
    ``notify_function`` / ``notify_event_source`` (``None`` without ``notifications``).
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        comments_table: dynamodb.ITable,
        connections_table: dynamodb.ITable,
        websocket: WebSocketApi,
        existing_fanout_queue: sqs.IQueue | None = None,
        existing_stream_dlq: sqs.IQueue | None = None,
        notifications: NotificationsStore | None = None,
        options: BroadcasterOptions | None = None,
        function_defaults: FunctionDefaults | None = None,
    ) -> None:
        super().__init__(scope, id)
        opts = options or BroadcasterOptions()
        self.options = opts
        defaults = function_defaults or FunctionDefaults()
        if not 0 <= opts.retry_attempts <= 10_000:
            raise ValueError("retry_attempts must be between 0 and 10000")

        self.stream_dlq: sqs.IQueue = existing_stream_dlq or sqs.Queue(
            self,
            "StreamDeadLetterQueue",
            retention_period=opts.dlq_retention,
            encryption=sqs.QueueEncryption.SQS_MANAGED,
            enforce_ssl=True,
        )
        self.fanout_dlq: sqs.IQueue | None = None
        if existing_fanout_queue is not None:
            self.fanout_queue: sqs.IQueue = existing_fanout_queue
        else:
            self.fanout_dlq = sqs.Queue(
                self,
                "FanoutDeadLetterQueue",
                retention_period=opts.dlq_retention,
                encryption=sqs.QueueEncryption.SQS_MANAGED,
                enforce_ssl=True,
            )
            self.fanout_queue = sqs.Queue(
                self,
                "FanoutQueue",
                # Six times the worker timeout, as Lambda recommends for SQS event sources.
                visibility_timeout=Duration.seconds(int(opts.worker_timeout.to_seconds()) * 6),
                retention_period=Duration.days(1),
                encryption=sqs.QueueEncryption.SQS_MANAGED,
                enforce_ssl=True,
                dead_letter_queue=sqs.DeadLetterQueue(
                    max_receive_count=opts.fanout_max_receive_count, queue=self.fanout_dlq
                ),
            )

        self.stream_function: lambda_.Function = ServiceFunction(
            self,
            "StreamFunction",
            handler="handlers.stream_broadcaster.handler",
            defaults=defaults,
            description="Comments stream -> comment.created/updated/deleted to the post's subscribers",
            timeout=opts.broadcaster_timeout,
            memory_size=opts.memory_size,
            reserved_concurrency=opts.stream_reserved_concurrency,
            unreserved_reason=STREAM_UNRESERVED,
            environment=BroadcastSettings(
                connections_table_name=connections_table.table_name,
                websocket_callback_url=websocket.callback_url,
                fanout_queue_url=self.fanout_queue.queue_url,
                fanout=opts.fanout,
            ).to_env(),
        ).function
        self.stream_event_source = sources.DynamoEventSource(
            comments_table,
            starting_position=lambda_.StartingPosition.LATEST,
            batch_size=opts.batch_size,
            max_batching_window=opts.max_batching_window,
            bisect_batch_on_error=True,
            retry_attempts=opts.retry_attempts,
            max_record_age=opts.max_record_age,
            parallelization_factor=opts.parallelization_factor,
            report_batch_item_failures=True,
            on_failure=sources.SqsDlq(self.stream_dlq),
            filters=[lambda_.FilterCriteria.filter(SKIP_COUNTER_ITEMS)],
        )
        invocation_target(self.stream_function).add_event_source(self.stream_event_source)

        self.fanout_function: lambda_.Function = ServiceFunction(
            self,
            "FanoutFunction",
            handler="handlers.fanout_worker.handler",
            defaults=defaults,
            description="Delivers one fan-out batch of connection ids",
            timeout=opts.worker_timeout,
            memory_size=opts.memory_size,
            environment=FanoutWorkerSettings(
                connections_table_name=connections_table.table_name,
                websocket_callback_url=websocket.callback_url,
            ).to_env(),
            reserved_concurrency=opts.fanout_reserved_concurrency,
            unreserved_reason=(
                "Not reserved in this deployment (BroadcasterOptions.fanout_reserved_concurrency, "
                "StageConfig.reserved_concurrency): accounts with a low concurrency quota cannot "
                "reserve any. Its SQS poller scales with the fan-out queue's depth; staging and prod "
                "reserve it."
            ),
        ).function
        reserved = opts.fanout_reserved_concurrency
        invocation_target(self.fanout_function).add_event_source(
            sources.SqsEventSource(
                self.fanout_queue,
                batch_size=opts.fanout_worker_batch_size,
                report_batch_item_failures=True,
                # SQS pollers allow 2..1000; at or below the reservation, so none is throttled.
                max_concurrency=max(2, reserved) if reserved else None,
            )
        )

        self.fanout_queue.grant_send_messages(self.stream_function)
        senders = [self.stream_function, self.fanout_function]

        self.notify_function: lambda_.Function | None = None
        self.notify_event_source: sources.DynamoEventSource | None = None
        if notifications is not None:
            self.notify_function = ServiceFunction(
                self,
                "NotifyFunction",
                handler="handlers.notifier.handler",
                defaults=defaults,
                description="Comments stream -> reply notifications, pushed to the user's connections",
                timeout=opts.broadcaster_timeout,
                unreserved_reason=STREAM_UNRESERVED,
                environment=NotifierSettings(
                    connections_table_name=connections_table.table_name,
                    websocket_callback_url=websocket.callback_url,
                    notifications_table_name=notifications.table.table_name,
                    notification_ttl_seconds=int(notifications.retention.to_seconds()),
                ).to_env(),
            ).function
            self.notify_event_source = sources.DynamoEventSource(
                comments_table,
                starting_position=lambda_.StartingPosition.LATEST,
                batch_size=opts.batch_size,
                bisect_batch_on_error=True,
                retry_attempts=opts.retry_attempts,
                max_record_age=opts.max_record_age,
                report_batch_item_failures=True,
                on_failure=sources.SqsDlq(self.stream_dlq),
                filters=[lambda_.FilterCriteria.filter(NEW_REPLIES)],
            )
            invocation_target(self.notify_function).add_event_source(self.notify_event_source)
            notifications.table.grant(self.notify_function, *access.NOTIFICATIONS_WRITE)
            senders.append(self.notify_function)

        for fn in (self.fanout_function, self.notify_function):
            if fn is not None:
                self.attach_fanout(fn)
        for fn in senders:
            connections_table.grant(fn, *access.CONNECTION_CLEANUP)
            websocket.grant_manage_connections(fn)
        acknowledge_function_wildcards(self, senders)
        if existing_stream_dlq is None:
            acknowledge(self.stream_dlq, "SQS3", "SQS3")

    def attach_fanout(self, fn: lambda_.Function) -> None:
        """Let ``fn`` use the fan-out path: ``FANOUT_QUEUE_URL`` and its limits in its environment
        and ``sqs:SendMessage`` on the queue. Every function that changes subscriptions (subscribe,
        unsubscribe, disconnect, 410 cleanup after a send) asks for presence flushes there, and
        ``typing`` / ``presence`` above ``fanout.inline_limit`` recipients go out in its batches."""
        for name, value in fanout_path_env(self.fanout_queue.queue_url, self.options.fanout).items():
            fn.add_environment(name, value)
        self.fanout_queue.grant_send_messages(fn)

    def grant_enqueue_fanout(self, grantee: iam.IGrantable) -> iam.Grant:
        """Allow ``grantee`` (e.g. the broadcast endpoint) to enqueue fan-out batches."""
        return self.fanout_queue.grant_send_messages(grantee)
