"""$connect REQUEST authorizer: signature, issuer, audience / client id, expiry, token use, Origin."""

from __future__ import annotations

import time

import pytest
from events import authorizer_event
from handler_helpers import ALLOWED_ORIGIN
from handlers import authorizer


def _effect(response: dict) -> str:
    return response["policyDocument"]["Statement"][0]["Effect"]


def test_valid_id_token_is_allowed_with_user_context(jwt_issuer):
    event = authorizer_event(jwt_issuer.mint(sub="alice"), ALLOWED_ORIGIN)
    response = authorizer.handler(event, None)
    assert _effect(response) == "Allow"
    assert response["principalId"] == "alice"
    assert response["context"] == {"userId": "alice"}
    assert response["policyDocument"]["Statement"][0]["Resource"] == event["methodArn"]


def test_valid_access_token_is_checked_against_client_id(jwt_issuer):
    token = jwt_issuer.mint(sub="bob", token_use="access", aud=None, client_id=jwt_issuer.audience)  # noqa: S106
    response = authorizer.handler(authorizer_event(token, ALLOWED_ORIGIN), None)
    assert _effect(response) == "Allow"
    assert response["context"]["userId"] == "bob"


def test_absent_origin_is_allowed(jwt_issuer):
    response = authorizer.handler(authorizer_event(jwt_issuer.mint()), None)
    assert _effect(response) == "Allow"


def test_origin_header_is_matched_case_insensitively(jwt_issuer):
    event = authorizer_event(jwt_issuer.mint(), ALLOWED_ORIGIN, header_case="origin")
    assert _effect(authorizer.handler(event, None)) == "Allow"


def test_foreign_origin_is_denied(jwt_issuer):
    response = authorizer.handler(authorizer_event(jwt_issuer.mint(), "https://evil.example.net"), None)
    assert _effect(response) == "Deny"
    assert "context" not in response


def test_lowercase_foreign_origin_header_is_still_checked(jwt_issuer):
    event = authorizer_event(jwt_issuer.mint(), "https://evil.example.net", header_case="origin")
    assert _effect(authorizer.handler(event, None)) == "Deny"


def test_wildcard_allows_any_origin(jwt_issuer, configure):
    configure(ALLOWED_ORIGINS="*")
    response = authorizer.handler(authorizer_event(jwt_issuer.mint(), "https://anything.example"), None)
    assert _effect(response) == "Allow"


@pytest.mark.parametrize(
    "make_token",
    [
        pytest.param(lambda issuer: None, id="missing"),
        pytest.param(lambda issuer: "not-a-jwt", id="garbage"),
        pytest.param(lambda issuer: issuer.mint(key=issuer.foreign_key), id="bad-signature"),
        pytest.param(lambda issuer: issuer.mint(iss="https://other-issuer.example"), id="wrong-issuer"),
        pytest.param(lambda issuer: issuer.mint(aud="another-client"), id="wrong-audience"),
        pytest.param(
            lambda issuer: issuer.mint(token_use="access", aud=None, client_id="another-client"),  # noqa: S106
            id="access-wrong-client-id",
        ),
        pytest.param(lambda issuer: issuer.mint(exp=int(time.time()) - 3600), id="expired"),
        pytest.param(lambda issuer: issuer.mint(token_use="refresh"), id="wrong-token-use"),  # noqa: S106
        pytest.param(lambda issuer: issuer.mint(token_use=None), id="no-token-use"),
        pytest.param(lambda issuer: issuer.mint(sub=None), id="no-sub"),
        pytest.param(lambda issuer: issuer.mint(kid="unknown-kid"), id="unknown-kid"),
    ],
)
def test_invalid_tokens_are_unauthorized(jwt_issuer, make_token):
    with pytest.raises(Exception, match="^Unauthorized$"):
        authorizer.handler(authorizer_event(make_token(jwt_issuer), ALLOWED_ORIGIN), None)


def test_hs256_token_with_public_key_confusion_is_refused(jwt_issuer):
    import jwt as pyjwt

    token = pyjwt.encode(jwt_issuer.claims(), "s" * 64, algorithm="HS256", headers={"kid": jwt_issuer.kid})
    with pytest.raises(Exception, match="^Unauthorized$"):
        authorizer.handler(authorizer_event(token, ALLOWED_ORIGIN), None)


def test_token_within_leeway_is_accepted(jwt_issuer):
    token = jwt_issuer.mint(exp=int(time.time()) - 5)
    assert _effect(authorizer.handler(authorizer_event(token, ALLOWED_ORIGIN), None)) == "Allow"


def test_token_is_never_logged(jwt_issuer, capsys):
    token = jwt_issuer.mint(exp=int(time.time()) - 3600)
    with pytest.raises(Exception, match="Unauthorized"):
        authorizer.handler(authorizer_event(token, ALLOWED_ORIGIN), None)
    captured = capsys.readouterr()
    assert token not in captured.out + captured.err


@pytest.mark.parametrize("malformed", ["token=abc", ["token"], 7])
def test_malformed_query_string_or_headers_are_unauthorized_not_a_crash(jwt_issuer, malformed):
    event = authorizer_event(jwt_issuer.mint(), ALLOWED_ORIGIN)
    event["queryStringParameters"] = malformed
    event["headers"] = malformed
    event["multiValueHeaders"] = {"Origin": malformed}
    with pytest.raises(Exception, match="^Unauthorized$"):
        authorizer.handler(event, None)
