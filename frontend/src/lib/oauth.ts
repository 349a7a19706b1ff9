/**
 * Cognito hosted sign-in: the authorization code flow with PKCE (S256), `state` and `nonce`.
 *
 * `beginSignIn` keeps a one-time verifier, state and nonce in sessionStorage and sends the
 * browser to /oauth2/authorize. On the way back `completeSignIn` accepts a `?code=` only with the
 * `state` it issued (so an attacker's code cannot sign the victim in: login CSRF), exchanges it at
 * /oauth2/token with the verifier, and keeps the ID token only if its `nonce` is the one it sent.
 * The API takes that ID token (docs/contract.md).
 */

const STORAGE_KEY = "realtime-comments.oauth";
const SCOPE = "openid email profile";

interface PendingSignIn {
  domain: string;
  clientId: string;
  redirectUri: string;
  state: string;
  nonce: string;
  verifier: string;
}

export class SignInError extends Error {}

function base64Url(bytes: Uint8Array): string {
  let text = "";
  for (const byte of bytes) text += String.fromCharCode(byte);
  return btoa(text).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

function randomString(bytes = 32): string {
  return base64Url(globalThis.crypto.getRandomValues(new Uint8Array(bytes)));
}

/** The S256 code challenge of a verifier (RFC 7636). */
export async function codeChallenge(verifier: string): Promise<string> {
  // The verifier is base64url (ASCII), so its bytes are its char codes.
  const bytes = Uint8Array.from(verifier, (c) => c.charCodeAt(0));
  const digest = await globalThis.crypto.subtle.digest("SHA-256", bytes);
  return base64Url(new Uint8Array(digest));
}

function trimDomain(domain: string): string {
  return domain.replace(/\/+$/, "");
}

/** The authorize URL for a new sign-in; remembers what the return must match. */
export async function authorizeUrl(
  domain: string,
  clientId: string,
  redirectUri: string,
  storage: Storage = sessionStorage,
): Promise<string> {
  const pending: PendingSignIn = {
    domain: trimDomain(domain),
    clientId,
    redirectUri,
    state: randomString(),
    nonce: randomString(),
    verifier: randomString(48),
  };
  storage.setItem(STORAGE_KEY, JSON.stringify(pending));
  const params = new URLSearchParams({
    client_id: clientId,
    response_type: "code",
    scope: SCOPE,
    redirect_uri: redirectUri,
    state: pending.state,
    nonce: pending.nonce,
    code_challenge: await codeChallenge(pending.verifier),
    code_challenge_method: "S256",
  });
  return `${pending.domain}/oauth2/authorize?${params.toString()}`;
}

function tokenClaims(token: string): Record<string, unknown> | null {
  const payload = token.split(".")[1];
  if (!payload) return null;
  try {
    const json = atob(payload.replace(/-/g, "+").replace(/_/g, "/"));
    const claims: unknown = JSON.parse(json);
    return claims && typeof claims === "object" ? (claims as Record<string, unknown>) : null;
  } catch {
    return null;
  }
}

/**
 * The ID token of a sign-in that returned to `search` (the page's query string), or null when
 * the page was not opened by a sign-in redirect. Throws SignInError for a return that does not
 * match the sign-in this browser started (unknown or reused state, wrong nonce, failed exchange).
 */
export async function completeSignIn(
  search: string,
  fetchImpl: typeof fetch = fetch,
  storage: Storage = sessionStorage,
): Promise<string | null> {
  const params = new URLSearchParams(search);
  const code = params.get("code");
  const returnedError = params.get("error");
  if (!code && !returnedError) return null;
  const raw = storage.getItem(STORAGE_KEY);
  storage.removeItem(STORAGE_KEY); // one use, whatever happens next
  const pending = raw ? (JSON.parse(raw) as PendingSignIn) : null;
  if (!pending || params.get("state") !== pending.state) {
    throw new SignInError("This sign-in was not started here (state mismatch); sign in again.");
  }
  if (returnedError || !code) throw new SignInError(`Sign-in failed: ${returnedError}`);
  const res = await fetchImpl(`${pending.domain}/oauth2/token`, {
    method: "POST",
    headers: { "Content-Type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams({
      grant_type: "authorization_code",
      client_id: pending.clientId,
      code,
      redirect_uri: pending.redirectUri,
      code_verifier: pending.verifier,
    }).toString(),
  });
  if (!res.ok) throw new SignInError(`Sign-in failed: the token endpoint answered ${res.status}.`);
  const body = (await res.json()) as { id_token?: unknown };
  const idToken = typeof body.id_token === "string" ? body.id_token : null;
  if (!idToken || tokenClaims(idToken)?.nonce !== pending.nonce) {
    throw new SignInError("Sign-in failed: the ID token does not answer this sign-in (nonce mismatch).");
  }
  return idToken;
}
