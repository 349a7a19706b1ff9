from .websocket_api import ACTION_ROUTES, TOKEN_IDENTITY_SOURCE, WebSocketApi, WebSocketApiOptions

__all__ = ["ACTION_ROUTES", "TOKEN_IDENTITY_SOURCE", "WebSocketApi", "WebSocketApiOptions"]
