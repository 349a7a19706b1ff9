"""WebSocket route logic: connect, disconnect, the named actions and the $default echo."""
