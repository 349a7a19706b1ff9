"""DynamoDB actions each function needs (least privilege). ``ITable.grant`` adds the table's
``/index/*`` ARN for tables with indexes, which the GSI/LSI queries need.

Keep in step with the data access in ``lambdas/realtime_comments`` (tests/infra checks that every
DynamoDB call there is covered)."""

from __future__ import annotations

# Connections table
CONNECTION_PUT = ("dynamodb:PutItem",)
# Query a connection's items then batch-delete them ($disconnect, 410 Gone after a send).
CONNECTION_CLEANUP = ("dynamodb:Query", "dynamodb:BatchWriteItem")
# subscribe / unsubscribe: read the connection, put or delete a subscription item.
SUBSCRIPTIONS = ("dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:DeleteItem")
# Recipients of a post (Query on byPost) are covered by CONNECTION_CLEANUP's Query;
# every connection (broadcast_to_all, connection count) is a Scan.
CONNECTION_SCAN = ("dynamodb:Scan",)

# Comments table
COMMENTS_READ = ("dynamodb:GetItem", "dynamodb:Query")
COMMENTS_WRITE = ("dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem")

# Powertools idempotency table
IDEMPOTENCY = ("dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem")
