"""The Python client other services use to broadcast to Realtime Comments' WebSocket clients.

    from realtime_comments_client import WebSocketService

Needs only boto3 (``pip install realtime-comments``, no ``[cdk]`` extra): it signs each request
with SigV4 and POSTs it to the IAM-authorized broadcast endpoint.
"""

from importlib.metadata import PackageNotFoundError, version

from .websocket_service import BROADCAST_PATH, BroadcastError, WebSocketService

try:
    __version__ = version("realtime-comments")
except PackageNotFoundError:  # a checkout that was never installed
    __version__ = "0+unknown"

__all__ = ["BROADCAST_PATH", "BroadcastError", "WebSocketService", "__version__"]
