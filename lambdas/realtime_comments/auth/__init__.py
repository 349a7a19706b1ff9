"""Authentication for WebSocket connections: JWT verification, Origin check, IAM policy."""
