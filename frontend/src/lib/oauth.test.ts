import { createHash } from "node:crypto";
import { beforeEach, describe, expect, it, vi } from "vitest";

import { authorizeUrl, codeChallenge, completeSignIn, SignInError } from "./oauth";

const DOMAIN = "https://rc.auth.eu-west-1.amazoncognito.com/";
const REDIRECT = "https://app.example/";

function idToken(claims: Record<string, unknown>): string {
  const part = (value: unknown) => Buffer.from(JSON.stringify(value)).toString("base64url");
  return `${part({ alg: "RS256" })}.${part(claims)}.signature`;
}

async function begin() {
  const url = new URL(await authorizeUrl(DOMAIN, "client123", REDIRECT));
  return Object.fromEntries(url.searchParams);
}

function tokenEndpoint(body: unknown, status = 200) {
  return vi.fn(async () => new Response(JSON.stringify(body), { status }));
}

describe("Cognito sign-in: authorization code + PKCE, state, nonce", () => {
  beforeEach(() => sessionStorage.clear());

  it("uses the S256 challenge of RFC 7636: base64url(SHA-256(verifier)), unpadded", async () => {
    for (const verifier of ["dBjftJeZ4CVP-mJ92K27uhbUJU1p1r_wW1gFWFOEjXk", "a".repeat(64)]) {
      const expected = createHash("sha256").update(verifier).digest("base64url");
      expect(await codeChallenge(verifier)).toBe(expected);
    }
  });

  it("exchanges the code with the verifier and keeps the ID token whose nonce matches", async () => {
    const query = await begin();
    const token = idToken({ sub: "u1", nonce: query.nonce });
    const fetchImpl = tokenEndpoint({ id_token: token, access_token: "a", token_type: "Bearer" });
    expect(await completeSignIn(`?code=abc&state=${query.state}`, fetchImpl)).toBe(token);
    const [url, init] = fetchImpl.mock.calls[0]! as unknown as [string, RequestInit];
    expect(url).toBe("https://rc.auth.eu-west-1.amazoncognito.com/oauth2/token");
    const form = Object.fromEntries(new URLSearchParams(init.body as string));
    expect(form).toMatchObject({ grant_type: "authorization_code", client_id: "client123", code: "abc", redirect_uri: REDIRECT });
    expect(await codeChallenge(form.code_verifier!)).toBe(query.code_challenge);
    // The pending sign-in is single-use: the same return again is refused.
    await expect(completeSignIn(`?code=abc&state=${query.state}`, fetchImpl)).rejects.toBeInstanceOf(SignInError);
  });

  it("refuses a code with another state (login CSRF) without calling the token endpoint", async () => {
    await begin();
    const fetchImpl = tokenEndpoint({});
    await expect(completeSignIn("?code=attackers&state=forged", fetchImpl)).rejects.toThrow(/state/);
    await expect(completeSignIn("?code=attackers", fetchImpl)).rejects.toThrow(/state/);
    expect(fetchImpl).not.toHaveBeenCalled();
  });

  it("refuses a code when this browser started no sign-in", async () => {
    const fetchImpl = tokenEndpoint({});
    await expect(completeSignIn("?code=abc&state=anything", fetchImpl)).rejects.toThrow(/state/);
    expect(fetchImpl).not.toHaveBeenCalled();
  });

  it("refuses an ID token with another nonce, or none", async () => {
    for (const claims of [{ sub: "u1", nonce: "replayed" }, { sub: "u1" }]) {
      const query = await begin();
      const fetchImpl = tokenEndpoint({ id_token: idToken(claims) });
      await expect(completeSignIn(`?code=abc&state=${query.state}`, fetchImpl)).rejects.toThrow(/nonce/);
    }
  });

  it("reports a failed exchange and a returned error", async () => {
    let query = await begin();
    await expect(completeSignIn(`?code=abc&state=${query.state}`, tokenEndpoint({ error: "invalid_grant" }, 400))).rejects.toThrow(/400/);
    query = await begin();
    await expect(completeSignIn(`?error=access_denied&state=${query.state}`, tokenEndpoint({}))).rejects.toThrow(/access_denied/);
  });

  it("ignores a page that is not a sign-in return", async () => {
    expect(await completeSignIn("?post=post-1", tokenEndpoint({}))).toBeNull();
  });
});
