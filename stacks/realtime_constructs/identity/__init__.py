from .identity import HostedSignIn, Identity, OidcIssuer, UserPoolOptions

__all__ = ["HostedSignIn", "Identity", "OidcIssuer", "UserPoolOptions"]
