from .identity import Identity, OidcIssuer, UserPoolOptions

__all__ = ["Identity", "OidcIssuer", "UserPoolOptions"]
