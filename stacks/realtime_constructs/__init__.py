"""Realtime Comments' application constructs: each ships its Lambda functions' code (the
infrastructure and the runtime code in one package, as the CDK guide describes application
constructs), with typed props and documented defaults, existing resources accepted where a team
brings its own, built resources exposed as attributes, no stage logic or environment lookups
inside, and its own cdk-nag acknowledgments.

Installed as ``realtime_comments_cdk`` (``pip install "realtime-comments[cdk]"``; the folder in
this repository is ``stacks/realtime_constructs/``). Each construct lives in its own sub-package
with a README (``<name>/README.md``)::

    from realtime_comments_cdk import ConnectionsStore
"""

if __name__ != "realtime_comments_cdk":  # one import path per module
    raise ImportError(f"import realtime_comments_cdk, not {__name__} (pip install -e . maps the folder)")

__version__ = "0.3.0"

from .broadcaster import Broadcaster, BroadcasterOptions
from .comments_api import IDEMPOTENCY_TABLE_OPTIONS, CommentsApi, CommentsApiOptions
from .comments_store import CommentsStore
from .connections_store import ConnectionsStore, TableOptions
from .identity import HostedSignIn, Identity, OidcIssuer, UserPoolOptions
from .lambda_defaults import DependenciesLayer, FunctionDefaults, ServiceFunction
from .monitoring import Monitoring, MonitoringThresholds
from .notifications_store import NotificationsStore
from .static_site import StaticSite, StaticSiteOptions
from .websocket_api import WebSocketApi, WebSocketApiOptions

__all__ = [
    "IDEMPOTENCY_TABLE_OPTIONS",
    "__version__",
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
    "StaticSite",
    "StaticSiteOptions",
    "TableOptions",
    "UserPoolOptions",
    "WebSocketApi",
    "WebSocketApiOptions",
]
