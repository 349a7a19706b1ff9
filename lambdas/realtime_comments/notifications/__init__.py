"""Reply notifications: made from the comments stream, stored per user, pushed to the user's
connections, read and marked over REST (docs/contract.md, "Notifications")."""

from realtime_comments.notifications.model import Notification, notification_for_reply
from realtime_comments.notifications.repository import NotificationPage, NotificationsRepository

__all__ = ["Notification", "NotificationPage", "NotificationsRepository", "notification_for_reply"]
