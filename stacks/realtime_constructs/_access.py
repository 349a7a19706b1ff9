"""DynamoDB actions each function needs (least privilege). ``ITable.grant`` adds the table's
``/index/*`` ARN for tables with indexes, which the GSI/LSI queries need.

Keep in step with the data access in ``lambdas/realtime_comments`` (tests/infra checks that every
DynamoDB call there is covered)."""

from __future__ import annotations

# Connections table
# $connect: read and write the user's connection slots, put the connection (listed in byShard by
# its registryShard), ADD 1 to the counter shard.
CONNECTION_PUT = ("dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem")
# $disconnect and 410 Gone after a send: delete the connection item (returning it), Query the
# rest of its items, batch-delete them (and a legacy registry entry), ADD -1 to the counter shard,
# give the user's connection slot back.
CONNECTION_CLEANUP = (
    "dynamodb:DeleteItem",
    "dynamodb:Query",
    "dynamodb:BatchWriteItem",
    "dynamodb:UpdateItem",
)
# subscribe / unsubscribe: add or remove the post in the connection's set (conditional
# UpdateItem, the limit per connection), put or delete the subscription item.
SUBSCRIPTIONS = ("dynamodb:UpdateItem", "dynamodb:PutItem", "dynamodb:DeleteItem")
# A rate bucket (limits/rate.py): one conditional UpdateItem per request, on the connection item
# (action frames) or on the user's item (comment writes).
RATE_BUCKET = ("dynamodb:UpdateItem",)
# Recipients of a post (Query on byPost) and of broadcast_to_all (Queries per shard of byShard and
# of the legacy registry partition) are covered by CONNECTION_CLEANUP's Query. The health route
# reads the counter shards.
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
