from __future__ import annotations

from dataclasses import dataclass

from aws_cdk import Duration, RemovalPolicy, Stack
from aws_cdk import aws_cognito as cognito
from constructs import Construct

from .._nag import acknowledge


@dataclass(frozen=True)
class OidcIssuer:
    """An existing OpenID Connect issuer (Auth0, Okta, Entra ID, another Cognito pool, ...).

    :param issuer_url: the ``iss`` claim, e.g. ``https://example.eu.auth0.com/`` as the issuer says it.
    :param audience: the expected ``aud`` (or Cognito ``client_id``) of accepted tokens.
    :param jwks_url: default ``issuer_url`` (without trailing slash) + ``/.well-known/jwks.json``.
    """

    issuer_url: str
    audience: str
    jwks_url: str | None = None

    def resolved_jwks_url(self) -> str:
        return self.jwks_url or self.issuer_url.rstrip("/") + "/.well-known/jwks.json"


@dataclass(frozen=True)
class HostedSignIn:
    """Cognito's hosted sign-in page for a browser app (authorization code flow with PKCE; the
    implicit grant is off).

    :param domain_prefix: the Cognito domain ``https://<prefix>.auth.<region>.amazoncognito.com``;
        globally unique across AWS, so it has no default.
    :param callback_urls: where Cognito may send the authorization code back (the site URL exactly, e.g.
        ``https://comments.example.com/``).
    :param logout_urls: where sign-out may return to; default ``callback_urls``.
    """

    domain_prefix: str
    callback_urls: tuple[str, ...]
    logout_urls: tuple[str, ...] = ()


@dataclass(frozen=True)
class UserPoolOptions:
    """How ``Identity`` builds its Cognito user pool (ignored with an existing pool or issuer).

    :param removal_policy: default ``RETAIN``.
    :param deletion_protection: default ``False``.
    :param self_sign_up: default ``True``.
    :param password_min_length: default 12 (upper, lower, digits and symbols are always required).
    :param mfa: default ``OPTIONAL`` (TOTP).
    :param id_token_validity: default 1 hour (also the access token's).
    :param refresh_token_validity: default 30 days.
    :param user_pool_name: default generated.
    :param hosted_sign_in: default ``None``: no Cognito domain and no OAuth on the app client
        (sign-in through SRP from your own UI).
    """

    removal_policy: RemovalPolicy = RemovalPolicy.RETAIN
    deletion_protection: bool = False
    self_sign_up: bool = True
    password_min_length: int = 12
    mfa: cognito.Mfa = cognito.Mfa.OPTIONAL
    id_token_validity: Duration = Duration.hours(1)
    refresh_token_validity: Duration = Duration.days(30)
    user_pool_name: str | None = None
    hosted_sign_in: HostedSignIn | None = None


class Identity(Construct):
    """Who may write comments and open WebSocket connections.

    By default a Cognito user pool (email sign-in, strong password policy, optional TOTP MFA) and a
    public app client (SRP, no secret, no hosted-UI OAuth). Alternatively:

    - ``existing_user_pool`` + ``existing_user_pool_client``: a team's own Cognito pool;
    - ``oidc_issuer``: any OIDC issuer; no Cognito resource is created.

    Combining ``oidc_issuer``, an existing pool and ``user_pool_options`` raises ``ValueError``.

    Attributes: ``issuer`` (the tokens' ``iss``), ``audience`` (``aud``/client id), ``jwks_url``,
    ``user_pool`` and ``user_pool_client`` (``None`` with an OIDC issuer), ``hosted_sign_in_url``
    (the Cognito domain's base URL with ``UserPoolOptions.hosted_sign_in``, else ``None``).
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        user_pool_options: UserPoolOptions | None = None,
        existing_user_pool: cognito.IUserPool | None = None,
        existing_user_pool_client: cognito.IUserPoolClient | None = None,
        oidc_issuer: OidcIssuer | None = None,
    ) -> None:
        super().__init__(scope, id)
        sources = [
            user_pool_options is not None,
            existing_user_pool is not None,
            oidc_issuer is not None,
        ]
        if sum(sources) > 1:
            raise ValueError(
                "Identity: pass one of user_pool_options, existing_user_pool or oidc_issuer, not several"
            )
        if existing_user_pool_client is not None and existing_user_pool is None:
            raise ValueError("Identity: existing_user_pool_client needs existing_user_pool")

        self.user_pool: cognito.IUserPool | None = None
        self.user_pool_client: cognito.IUserPoolClient | None = None
        self.hosted_sign_in_url: str | None = None

        if oidc_issuer is not None:
            self.issuer = oidc_issuer.issuer_url
            self.audience = oidc_issuer.audience
            self.jwks_url = oidc_issuer.resolved_jwks_url()
            return

        if existing_user_pool is not None:
            self.user_pool = existing_user_pool
        else:
            self.user_pool = self._build_user_pool(user_pool_options or UserPoolOptions())
        if existing_user_pool_client is not None:
            self.user_pool_client = existing_user_pool_client
        else:
            opts = user_pool_options or UserPoolOptions()
            hosted = opts.hosted_sign_in
            self.user_pool_client = cognito.UserPoolClient(
                self,
                "UserPoolClient",
                user_pool=self.user_pool,
                generate_secret=False,
                auth_flows=cognito.AuthFlow(user_srp=True),
                disable_o_auth=hosted is None,
                o_auth=None if hosted is None else _hosted_sign_in_oauth(hosted),
                prevent_user_existence_errors=True,
                id_token_validity=opts.id_token_validity,
                access_token_validity=opts.id_token_validity,
                refresh_token_validity=opts.refresh_token_validity,
                enable_token_revocation=True,
            )
        hosted = (user_pool_options or UserPoolOptions()).hosted_sign_in
        if hosted is not None and isinstance(self.user_pool, cognito.UserPool):
            domain = self.user_pool.add_domain(
                "HostedSignInDomain",
                cognito_domain=cognito.CognitoDomainOptions(domain_prefix=hosted.domain_prefix),
            )
            self.hosted_sign_in_url = domain.base_url()
        if isinstance(self.user_pool, cognito.UserPool):
            self.issuer = self.user_pool.user_pool_provider_url
        else:
            # An imported pool: the issuer is derived from its id (the pool must be in this region).
            stack = Stack.of(self)
            self.issuer = (
                f"https://cognito-idp.{stack.region}.{stack.url_suffix}/{self.user_pool.user_pool_id}"
            )
        self.audience = self.user_pool_client.user_pool_client_id
        self.jwks_url = f"{self.issuer}/.well-known/jwks.json"

    def _build_user_pool(self, opts: UserPoolOptions) -> cognito.UserPool:
        pool = self._user_pool(opts)
        if opts.mfa != cognito.Mfa.REQUIRED:
            acknowledge(pool, "COG2", "COG2")
        acknowledge(pool, "COG8", "COG8")
        return pool

    def _user_pool(self, opts: UserPoolOptions) -> cognito.UserPool:
        return cognito.UserPool(
            self,
            "UserPool",
            user_pool_name=opts.user_pool_name,
            self_sign_up_enabled=opts.self_sign_up,
            sign_in_aliases=cognito.SignInAliases(email=True, username=True),
            auto_verify=cognito.AutoVerifiedAttrs(email=True),
            standard_attributes=cognito.StandardAttributes(
                email=cognito.StandardAttribute(required=True, mutable=True)
            ),
            password_policy=cognito.PasswordPolicy(
                min_length=opts.password_min_length,
                require_lowercase=True,
                require_uppercase=True,
                require_digits=True,
                require_symbols=True,
                temp_password_validity=Duration.days(3),
            ),
            mfa=opts.mfa,
            mfa_second_factor=cognito.MfaSecondFactor(otp=True, sms=False),
            account_recovery=cognito.AccountRecovery.EMAIL_ONLY,
            removal_policy=opts.removal_policy,
            deletion_protection=opts.deletion_protection,
        )


def _hosted_sign_in_oauth(hosted: HostedSignIn) -> cognito.OAuthSettings:
    # Authorization code only: the browser app exchanges the code with a PKCE verifier and checks
    # state and nonce (frontend/src/lib/oauth.ts). The implicit grant would hand tokens over in the
    # URL fragment with nothing tying them to the browser that asked (login CSRF).
    return cognito.OAuthSettings(
        flows=cognito.OAuthFlows(implicit_code_grant=False, authorization_code_grant=True),
        scopes=[cognito.OAuthScope.OPENID, cognito.OAuthScope.EMAIL, cognito.OAuthScope.PROFILE],
        callback_urls=list(hosted.callback_urls),
        logout_urls=list(hosted.logout_urls or hosted.callback_urls),
    )
