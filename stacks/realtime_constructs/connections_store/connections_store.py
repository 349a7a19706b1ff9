from __future__ import annotations

from aws_cdk import aws_dynamodb as dynamodb
from constructs import Construct

from .._tables import TableOptions

PARTITION_KEY = "connectionId"
SORT_KEY = "sk"
TTL_ATTRIBUTE = "expiresAt"
BY_POST_INDEX = "byPost"
BY_USER_INDEX = "byUser"
CONNECTED_USER_ATTRIBUTE = "connectedUserId"
BY_SHARD_INDEX = "byShard"
REGISTRY_SHARD_ATTRIBUTE = "registryShard"


class ConnectionsStore(Construct):
    """DynamoDB table of WebSocket connections and their per-post subscriptions.

    Keys: ``connectionId`` (S) / ``sk`` (S); TTL attribute ``expiresAt``; sparse GSI ``byPost``
    (``postId`` / ``connectionId``, KEYS_ONLY), so a post's subscribers are one Query; sparse GSI
    ``byUser`` (``connectedUserId`` / ``connectionId``, KEYS_ONLY, only connection items carry
    ``connectedUserId``), so a user's open connections are one Query; sparse GSI ``byShard``
    (``registryShard`` / ``connectionId``, KEYS_ONLY, only connection items carry
    ``registryShard``), so every open connection is one Query per shard (``broadcast_to_all``).

    Pass ``existing_table`` (which must have that schema) **or** ``table_options``, not both.

    Attributes: ``table`` (``ITable``), ``by_post_index_name``, ``by_user_index_name``,
    ``by_shard_index_name``, ``ttl_attribute``.
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        existing_table: dynamodb.ITable | None = None,
        table_options: TableOptions | None = None,
    ) -> None:
        super().__init__(scope, id)
        if existing_table is not None and table_options is not None:
            raise ValueError("ConnectionsStore: pass existing_table or table_options, not both")
        self.by_post_index_name = BY_POST_INDEX
        self.by_user_index_name = BY_USER_INDEX
        self.by_shard_index_name = BY_SHARD_INDEX
        self.ttl_attribute = TTL_ATTRIBUTE
        self.table: dynamodb.ITable
        if existing_table is not None:
            self.table = existing_table
            return
        options = table_options or TableOptions()
        table = dynamodb.Table(
            self,
            "Table",
            partition_key=dynamodb.Attribute(name=PARTITION_KEY, type=dynamodb.AttributeType.STRING),
            sort_key=dynamodb.Attribute(name=SORT_KEY, type=dynamodb.AttributeType.STRING),
            time_to_live_attribute=TTL_ATTRIBUTE,
            **options.table_kwargs(),
        )
        # Every index is keyed by one attribute and sorted by the connection id, keys only: the
        # callers read ids, then act on the connection items.
        for index_name, partition_attribute in (
            (BY_POST_INDEX, "postId"),
            (BY_USER_INDEX, CONNECTED_USER_ATTRIBUTE),
            (BY_SHARD_INDEX, REGISTRY_SHARD_ATTRIBUTE),
        ):
            table.add_global_secondary_index(
                index_name=index_name,
                partition_key=dynamodb.Attribute(
                    name=partition_attribute, type=dynamodb.AttributeType.STRING
                ),
                sort_key=dynamodb.Attribute(name=PARTITION_KEY, type=dynamodb.AttributeType.STRING),
                projection_type=dynamodb.ProjectionType.KEYS_ONLY,
            )
        self.table = table
