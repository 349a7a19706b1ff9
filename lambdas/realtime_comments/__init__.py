"""Plain modules behind the Lambda handlers: settings, data access, delivery and the comment service."""

if __name__ != "realtime_comments":  # one import path per module (the Lambda asset's root is lambdas/)
    raise ImportError(f"import realtime_comments, not {__name__}")
