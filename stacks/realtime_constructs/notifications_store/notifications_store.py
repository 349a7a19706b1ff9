from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_dynamodb as dynamodb
from constructs import Construct

from .._tables import TableOptions

PARTITION_KEY = "userId"
SORT_KEY = "id"
TTL_ATTRIBUTE = "expiresAt"
DEFAULT_RETENTION_DAYS = 30


class NotificationsStore(Construct):
    """DynamoDB table of each user's notifications (replies to their comments).

    Keys: ``userId`` (S) / ``id`` (S, the reply's creation time then its id, so a user's
    notifications come back newest first from one partition); TTL attribute ``expiresAt``.
    Every read and write is keyed by the caller's own ``userId``.

    :param retention: how long a notification lives (written into ``expiresAt`` by the notifier);
        default 30 days.
    :param existing_table / table_options: bring a table with that schema, or build one; not both.

    Attributes: ``table`` (``ITable``), ``retention`` (``Duration``), ``ttl_attribute``.
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        retention: Duration | None = None,
        existing_table: dynamodb.ITable | None = None,
        table_options: TableOptions | None = None,
    ) -> None:
        super().__init__(scope, id)
        if existing_table is not None and table_options is not None:
            raise ValueError("NotificationsStore: pass existing_table or table_options, not both")
        self.retention = retention or Duration.days(DEFAULT_RETENTION_DAYS)
        if self.retention.to_seconds() < 1:
            raise ValueError("NotificationsStore: retention must be at least one second")
        self.ttl_attribute = TTL_ATTRIBUTE
        self.table: dynamodb.ITable
        if existing_table is not None:
            self.table = existing_table
            return
        self.table = dynamodb.Table(
            self,
            "Table",
            partition_key=dynamodb.Attribute(name=PARTITION_KEY, type=dynamodb.AttributeType.STRING),
            sort_key=dynamodb.Attribute(name=SORT_KEY, type=dynamodb.AttributeType.STRING),
            time_to_live_attribute=TTL_ATTRIBUTE,
            **(table_options or TableOptions()).table_kwargs(),
        )
