"""Plain modules behind the Lambda handlers: settings, data access, delivery and the comment service."""
