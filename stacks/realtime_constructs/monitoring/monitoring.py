from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_apigatewayv2 as apigwv2
from aws_cdk import aws_cloudwatch as cw
from aws_cdk import aws_cloudwatch_actions as cw_actions
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subs
from aws_cdk import aws_sqs as sqs
from constructs import Construct


@dataclass(frozen=True)
class MonitoringThresholds:
    """Alarm thresholds (all alarms use 5-minute periods and treat missing data as OK).

    :param function_errors: Lambda ``Errors`` >= this (default 1).
    :param iterator_age_ms: stream ``IteratorAge`` maximum >= this (default 60 000 ms).
    :param http_5xx: HTTP API ``5xx`` sum >= this (default 5).
    :param dlq_messages: ``ApproximateNumberOfMessagesVisible`` > this (default 0).
    """

    function_errors: int = 1
    iterator_age_ms: int = 60_000
    http_5xx: int = 5
    dlq_messages: int = 0


class Monitoring(Construct):
    """CloudWatch alarms and a dashboard.

    Alarms: errors of each ``error_functions`` entry, ``IteratorAge`` of each
    ``stream_functions`` entry, ``5xx`` of each ``http_apis`` entry, depth of each
    ``dead_letter_queues`` entry (name -> queue). Alarm actions go to ``alarm_topic`` (existing)
    or, with ``create_alarm_topic=True``, to a new SNS topic (optionally with an e-mail
    subscription ``alarm_email``); not both.

    The new topic is encrypted with its own customer-managed KMS key (rotation on) whose key
    policy lets ``cloudwatch.amazonaws.com`` use it (``kms:Decrypt``, ``kms:GenerateDataKey*``).
    CloudWatch cannot publish to a topic under the AWS-managed ``alias/aws/sns`` key, whose policy
    cannot be changed: alarms would fire and notify no one. An existing ``alarm_topic`` that is
    KMS-encrypted needs the same statement in its key's policy.

    :param alarm_key_removal_policy: of the topic's key; default ``RETAIN`` (CDK's default for keys).

    Attributes: ``alarms`` (name -> ``Alarm``), ``dashboard``, ``alarm_topic`` (or ``None``),
    ``alarm_topic_key`` (the created topic's ``kms.Key``, or ``None``).
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        error_functions: dict[str, lambda_.IFunction] | None = None,
        stream_functions: dict[str, lambda_.IFunction] | None = None,
        http_apis: dict[str, apigwv2.IHttpApi] | None = None,
        dead_letter_queues: dict[str, sqs.IQueue] | None = None,
        dashboard_functions: Sequence[lambda_.IFunction] = (),
        thresholds: MonitoringThresholds | None = None,
        alarm_topic: sns.ITopic | None = None,
        create_alarm_topic: bool = False,
        alarm_email: str | None = None,
        dashboard_name: str | None = None,
        alarm_key_removal_policy: RemovalPolicy = RemovalPolicy.RETAIN,
    ) -> None:
        super().__init__(scope, id)
        if alarm_topic is not None and create_alarm_topic:
            raise ValueError("Monitoring: pass alarm_topic or create_alarm_topic=True, not both")
        t = thresholds or MonitoringThresholds()
        period = Duration.minutes(5)
        self.alarm_topic: sns.ITopic | None = alarm_topic
        self.alarm_topic_key: kms.Key | None = None
        if create_alarm_topic:
            self.alarm_topic_key = kms.Key(
                self,
                "AlarmTopicKey",
                description="Realtime Comments alarm topic: SNS encryption, usable by CloudWatch alarms",
                enable_key_rotation=True,
                removal_policy=alarm_key_removal_policy,
            )
            # https://docs.aws.amazon.com/sns/latest/dg/sns-key-management.html (compatibility
            # between event sources from AWS services and encrypted topics).
            self.alarm_topic_key.add_to_resource_policy(
                iam.PolicyStatement(
                    sid="AllowCloudWatchAlarmsToPublishToTheEncryptedTopic",
                    principals=[iam.ServicePrincipal("cloudwatch.amazonaws.com")],
                    actions=["kms:Decrypt", "kms:GenerateDataKey*"],
                    resources=["*"],
                )
            )
            self.alarm_topic = sns.Topic(
                self,
                "AlarmTopic",
                display_name="Realtime Comments alarms",
                enforce_ssl=True,
                master_key=self.alarm_topic_key,
            )
            if alarm_email:
                self.alarm_topic.add_subscription(subs.EmailSubscription(alarm_email))
        self.alarms: dict[str, cw.Alarm] = {}

        def add(
            name: str, metric: cw.IMetric, threshold: float, op: cw.ComparisonOperator, what: str
        ) -> None:
            alarm = cw.Alarm(
                self,
                f"{name}Alarm",
                metric=metric,
                threshold=threshold,
                evaluation_periods=1,
                comparison_operator=op,
                treat_missing_data=cw.TreatMissingData.NOT_BREACHING,
                alarm_description=what,
            )
            if self.alarm_topic is not None:
                alarm.add_alarm_action(cw_actions.SnsAction(self.alarm_topic))
            self.alarms[name] = alarm

        ge = cw.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD
        for name, fn in (error_functions or {}).items():
            add(
                f"{name}Errors",
                fn.metric_errors(period=period, statistic="Sum"),
                t.function_errors,
                ge,
                f"{name}: Lambda errors >= {t.function_errors} in 5 minutes",
            )
        for name, fn in (stream_functions or {}).items():
            metric = fn.metric("IteratorAge", period=period, statistic="Maximum")
            add(
                f"{name}IteratorAge",
                metric,
                t.iterator_age_ms,
                ge,
                f"{name}: stream iterator age >= {t.iterator_age_ms} ms (broadcasts are falling behind)",
            )
        for name, api in (http_apis or {}).items():
            add(
                f"{name}5xx",
                api.metric_server_error(period=period, statistic="Sum"),
                t.http_5xx,
                ge,
                f"{name}: HTTP API 5xx >= {t.http_5xx} in 5 minutes",
            )
        for name, queue in (dead_letter_queues or {}).items():
            add(
                f"{name}Depth",
                queue.metric_approximate_number_of_messages_visible(period=period, statistic="Maximum"),
                t.dlq_messages,
                cw.ComparisonOperator.GREATER_THAN_THRESHOLD,
                f"{name}: messages in the dead-letter queue (failed deliveries to inspect and redrive)",
            )

        self.dashboard = cw.Dashboard(self, "Dashboard", dashboard_name=dashboard_name)
        fns = list(dashboard_functions) or list((error_functions or {}).values())
        if fns:
            self.dashboard.add_widgets(
                cw.GraphWidget(
                    title="Lambda invocations",
                    left=[f.metric_invocations(period=period) for f in fns],
                    width=12,
                ),
                cw.GraphWidget(
                    title="Lambda errors", left=[f.metric_errors(period=period) for f in fns], width=12
                ),
            )
            self.dashboard.add_widgets(
                cw.GraphWidget(
                    title="Lambda duration p99",
                    left=[f.metric_duration(period=period, statistic="p99") for f in fns],
                    width=12,
                ),
                cw.GraphWidget(
                    title="Lambda throttles", left=[f.metric_throttles(period=period) for f in fns], width=12
                ),
            )
        for name, api in (http_apis or {}).items():
            self.dashboard.add_widgets(
                cw.GraphWidget(
                    title=f"{name} requests and errors",
                    width=12,
                    left=[
                        api.metric_count(period=period),
                        api.metric_client_error(period=period),
                        api.metric_server_error(period=period),
                    ],
                ),
                cw.GraphWidget(
                    title=f"{name} latency p99",
                    width=12,
                    left=[api.metric_latency(period=period, statistic="p99")],
                ),
            )
        if self.alarms:
            self.dashboard.add_widgets(
                cw.AlarmStatusWidget(title="Alarms", alarms=list(self.alarms.values()), width=24)
            )
