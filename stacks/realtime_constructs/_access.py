"""DynamoDB actions each function needs (least privilege). ``ITable.grant`` adds the table's
``/index/*`` ARN for tables with indexes, which the GSI/LSI queries need.

Keep in step with the data access in ``lambdas/realtime_comments`` (tests/infra checks that every
DynamoDB call there is covered)."""

from __future__ import annotations

# Connections table
# $connect: put the connection and its registry entry, ADD 1 to the counter shard.
CONNECTION_PUT = ("dynamodb:PutItem", "dynamodb:UpdateItem")
# $disconnect and 410 Gone after a send: delete the connection item (returning it), Query the
# rest of its items, batch-delete them with the registry entry, ADD -1 to the counter shard.
CONNECTION_CLEANUP = (
    "dynamodb:DeleteItem",
    "dynamodb:Query",
    "dynamodb:BatchWriteItem",
    "dynamodb:UpdateItem",
)
# subscribe / unsubscribe: read the connection, put or delete a subscription item.
SUBSCRIPTIONS = ("dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:DeleteItem")
# Recipients of a post (Query on byPost) and of broadcast_to_all (Query per registry shard) are
# covered by CONNECTION_CLEANUP's Query. The health route reads the counter shards.
CONNECTION_COUNT = ("dynamodb:BatchGetItem",)

# Comments table
COMMENTS_READ = ("dynamodb:GetItem", "dynamodb:Query")
COMMENTS_WRITE = ("dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem")

# Powertools idempotency table
IDEMPOTENCY = ("dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem")

# Notifications table
# The notifier: a conditional PutItem per reply. Its push finds the user's connections with one
# Query on the connections table's byUser GSI (CONNECTION_CLEANUP's Query covers it).
NOTIFICATIONS_WRITE = ("dynamodb:PutItem",)
# The notification routes: Query the caller's partition (list, count, mark all), UpdateItem to mark read.
NOTIFICATIONS_READ = ("dynamodb:Query", "dynamodb:UpdateItem")
