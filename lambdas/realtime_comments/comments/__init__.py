"""Comments: the model, the data access and the service the REST API and WebSocket actions use."""
