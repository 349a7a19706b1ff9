"""The $connect authorizer and the HTTP API's JWT authorizer, as API Gateway applies them."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import aiohttp
import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from local_runtime.process import RuntimeProcess
from tests.e2e.client import connect_status, post_comment, token, unique


def _resign(tok: str, key: object, **changes: object) -> str:
    header = jwt.get_unverified_header(tok)
    claims = jwt.decode(tok, options={"verify_signature": False})
    claims.update(changes)
    return jwt.encode(claims, key, algorithm="RS256", headers={"kid": header["kid"]})


def _local_key(runtime: RuntimeProcess) -> object:
    return serialization.load_pem_private_key(
        (Path(runtime.state_dir) / "signing-key.pem").read_bytes(), None
    )


def test_websocket_handshake_rejections(runtime: RuntimeProcess, urls: dict[str, str]) -> None:
    async def scenario() -> None:
        async with aiohttp.ClientSession() as s:
            good = await token(s, urls, "dave")
            other_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
            forged = _resign(good, other_key)
            expired = _resign(
                good, _local_key(runtime), exp=int(time.time()) - 60, iat=int(time.time()) - 3700
            )
            wrong_aud = _resign(good, _local_key(runtime), aud="someone-else")
            assert await connect_status(s, urls, good) == 101
            assert await connect_status(s, urls, None) == 401  # identity source missing
            assert await connect_status(s, urls, "not-a-jwt") == 401
            assert await connect_status(s, urls, forged) == 401
            assert await connect_status(s, urls, expired) == 401
            assert await connect_status(s, urls, wrong_aud) == 401
            assert await connect_status(s, urls, good, origin="https://evil.example") == 403
            assert await connect_status(s, urls, good, origin="http://localhost:3000") == 101

    asyncio.run(asyncio.wait_for(scenario(), 30))


def test_rest_writes_need_a_valid_token(runtime: RuntimeProcess, urls: dict[str, str]) -> None:
    async def scenario() -> None:
        post_id = unique()
        async with aiohttp.ClientSession() as s:
            good = await token(s, urls, "erin")
            expired = _resign(good, _local_key(runtime), exp=int(time.time()) - 5)
            forged = _resign(good, rsa.generate_private_key(public_exponent=65537, key_size=2048))
            async with s.post(
                f"{urls['apiUrl']}/api/v1/posts/{post_id}/comments", json={"content": "x"}
            ) as r:
                assert r.status == 401
                assert await r.json() == {"message": "Unauthorized"}
            for bad in (expired, forged, "garbage"):
                status, body = await post_comment(s, urls, bad, post_id, "x")
                assert status == 401, body
            async with s.get(f"{urls['apiUrl']}/api/v1/posts/{post_id}/comments") as r:
                assert r.status == 200
                assert (await r.json())["comments"] == []  # nothing was written
            status, body = await post_comment(s, urls, good, post_id, "ok")
            assert status == 201 and body["userId"] == "erin"

    asyncio.run(asyncio.wait_for(scenario(), 30))


def test_dev_token_validates_username(urls: dict[str, str]) -> None:
    async def scenario() -> None:
        async with aiohttp.ClientSession() as s:
            for bad in ({"username": ""}, {"username": "a" * 65}, {"username": "no spaces"}, {}, "x"):
                async with s.post(urls["tokenUrl"], json=bad) as r:
                    assert r.status == 400, bad
            async with s.post(urls["tokenUrl"], json={"username": "frank.o-k_1"}) as r:
                body = await r.json()
                assert r.status == 200 and body["userId"] == "frank.o-k_1" and body["expiresIn"] == 3600
                claims = jwt.decode(body["token"], options={"verify_signature": False})
                assert claims["sub"] == "frank.o-k_1" and claims["token_use"] == "id"  # noqa: S105
                assert claims["cognito:username"] == "frank.o-k_1"

    asyncio.run(asyncio.wait_for(scenario(), 30))


def test_cors_preflight_for_frontend_origin(urls: dict[str, str]) -> None:
    async def scenario() -> None:
        async with aiohttp.ClientSession() as s:
            url = f"{urls['apiUrl']}/api/v1/posts/p1/comments"
            hdrs = {
                "Origin": "http://localhost:3000",
                "Access-Control-Request-Method": "POST",
                "Access-Control-Request-Headers": "authorization,content-type",
            }
            async with s.options(url, headers=hdrs) as r:
                assert r.status == 204
                assert r.headers["Access-Control-Allow-Origin"] == "http://localhost:3000"
                assert "POST" in r.headers["Access-Control-Allow-Methods"]
            async with s.options(url, headers={**hdrs, "Origin": "https://evil.example"}) as r:
                assert "Access-Control-Allow-Origin" not in r.headers
            async with s.get(url, headers={"Origin": "http://localhost:3000"}) as r:
                assert r.headers["Access-Control-Allow-Origin"] == "http://localhost:3000"

    asyncio.run(asyncio.wait_for(scenario(), 30))


def test_frontend_is_served_and_its_origin_allowed(urls: dict[str, str]) -> None:
    async def scenario() -> None:
        front = urls["frontendUrl"]
        assert front
        async with aiohttp.ClientSession() as s:
            async with s.get(f"{front}/runtime-config.json") as r:
                assert r.status == 200 and await r.json() == urls
            async with s.get(f"{front}/") as r:
                assert r.status == 200 and "home" in await r.text()
            async with s.get(f"{front}/posts/first") as r:
                assert r.status == 200 and "post" in await r.text()
            async with s.get(f"{front}/nope") as r:
                assert r.status == 404 and "missing" in await r.text()
            async with s.get(f"{front}/../../etc/passwd") as r:
                assert r.status == 404
            tok = await token(s, urls, "olga")
            port = front.rsplit(":", 1)[1]
            for origin in (f"http://127.0.0.1:{port}", f"http://localhost:{port}"):
                assert await connect_status(s, urls, tok, origin=origin) == 101
                async with s.get(
                    f"{urls['apiUrl']}/api/v1/posts/p/comments", headers={"Origin": origin}
                ) as r:
                    assert r.headers.get("Access-Control-Allow-Origin") == origin
                async with s.options(
                    urls["tokenUrl"], headers={"Origin": origin, "Access-Control-Request-Method": "POST"}
                ) as r:
                    assert r.headers.get("Access-Control-Allow-Origin") == origin

    asyncio.run(asyncio.wait_for(scenario(), 30))
