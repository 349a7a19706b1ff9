"""Reusable constructs of Realtime Comments, modelled on AWS Solutions Constructs: typed props
with documented defaults, existing resources accepted where a team brings its own, built
resources exposed as attributes, and no stage logic or environment lookups inside.

Each construct lives in its own sub-package with a README (``<name>/README.md``)::

    from stacks.realtime_constructs.connections_store import ConnectionsStore
"""

from .broadcaster import Broadcaster, BroadcasterOptions
from .comments_api import CommentsApi, CommentsApiOptions
from .comments_store import CommentsStore
from .connections_store import ConnectionsStore, TableOptions
from .identity import HostedSignIn, Identity, OidcIssuer, UserPoolOptions
from .lambda_defaults import DependenciesLayer, FunctionDefaults, ServiceFunction
from .monitoring import Monitoring, MonitoringThresholds
from .notifications_store import NotificationsStore
from .websocket_api import WebSocketApi, WebSocketApiOptions

__all__ = [
    "Broadcaster",
    "BroadcasterOptions",
    "CommentsApi",
    "CommentsApiOptions",
    "CommentsStore",
    "ConnectionsStore",
    "DependenciesLayer",
    "FunctionDefaults",
    "HostedSignIn",
    "Identity",
    "Monitoring",
    "MonitoringThresholds",
    "NotificationsStore",
    "OidcIssuer",
    "ServiceFunction",
    "TableOptions",
    "UserPoolOptions",
    "WebSocketApi",
    "WebSocketApiOptions",
]
