from __future__ import annotations

from aws_cdk import aws_dynamodb as dynamodb
from constructs import Construct

from .._tables import TableOptions

PARTITION_KEY = "postId"
SORT_KEY = "seq"
BY_COMMENT_ID_INDEX = "byCommentId"


class CommentsStore(Construct):
    """DynamoDB table of comments, ordered per post.

    Keys: ``postId`` (S) / ``seq`` (N, assigned atomically from the per-post counter item
    ``seq = 0``); stream ``NEW_AND_OLD_IMAGES``; LSI ``byCommentId`` (``postId`` / ``id``, KEYS_ONLY).

    Pass ``existing_table`` (with that schema and a stream) **or** ``table_options``, not both.
    An existing table must expose its stream (``Table.from_table_attributes(..., table_stream_arn=...)``)
    for the Broadcaster.

    Attributes: ``table`` (``ITable``), ``by_comment_id_index_name``.
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
            raise ValueError("CommentsStore: pass existing_table or table_options, not both")
        self.by_comment_id_index_name = BY_COMMENT_ID_INDEX
        self.table: dynamodb.ITable
        if existing_table is not None:
            self.table = existing_table
            return
        options = table_options or TableOptions()
        table = dynamodb.Table(
            self,
            "Table",
            partition_key=dynamodb.Attribute(name=PARTITION_KEY, type=dynamodb.AttributeType.STRING),
            sort_key=dynamodb.Attribute(name=SORT_KEY, type=dynamodb.AttributeType.NUMBER),
            stream=dynamodb.StreamViewType.NEW_AND_OLD_IMAGES,
            **options.table_kwargs(),
        )
        table.add_local_secondary_index(
            index_name=BY_COMMENT_ID_INDEX,
            sort_key=dynamodb.Attribute(name="id", type=dynamodb.AttributeType.STRING),
            projection_type=dynamodb.ProjectionType.KEYS_ONLY,
        )
        self.table = table
