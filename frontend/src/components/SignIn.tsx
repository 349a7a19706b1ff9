"use client";

import { useId, useState, type FormEvent } from "react";

import { fetchDevToken } from "@/lib/api";
import { authorizeUrl } from "@/lib/oauth";
import { authFromToken, useSession } from "@/store/session";

export function redirectUri(configured: string | undefined): string {
  return configured ?? `${window.location.origin}${window.location.pathname}`;
}

/** Who is signed in, with sign out. */
export function SignedInUser() {
  const auth = useSession((s) => s.auth);
  const config = useSession((s) => s.config);
  const signOut = useSession((s) => s.signOut);
  if (!auth) return null;
  const onSignOut = () => {
    signOut();
    if (auth.provider === "cognito" && config?.cognitoDomain && config.cognitoClientId) {
      const params = new URLSearchParams({ client_id: config.cognitoClientId, logout_uri: redirectUri(config.cognitoRedirectUri) });
      window.location.assign(`${config.cognitoDomain.replace(/\/+$/, "")}/logout?${params.toString()}`);
    }
  };
  return (
    <div className="user">
      <span className="user-name">
        Signed in as <strong data-testid="signed-in-user">{auth.username}</strong>
      </span>
      <button type="button" className="btn btn-small btn-ghost" onClick={onSignOut} data-testid="signout">
        Sign out
      </button>
    </div>
  );
}

/** Local development: username -> POST tokenUrl. In the cloud: Cognito hosted sign-in. */
export function SignIn() {
  const config = useSession((s) => s.config);
  const signIn = useSession((s) => s.signIn);
  const [username, setUsername] = useState("");
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const inputId = useId();
  const errorId = useId();

  if (!config) return null;
  const cognito = config.cognitoDomain && config.cognitoClientId;

  const onSubmit = async (e: FormEvent) => {
    e.preventDefault();
    const name = username.trim();
    if (!name) {
      setError("Enter a username.");
      return;
    }
    setBusy(true);
    setError(null);
    try {
      const res = await fetchDevToken(config.tokenUrl, name);
      const auth = authFromToken(res.token, "local", res.expiresIn);
      if (!auth) throw new Error("The token endpoint returned an unreadable token.");
      signIn({ ...auth, userId: res.userId || auth.userId, expiresAt: Date.now() + res.expiresIn * 1000 });
    } catch (err) {
      setError(`Could not sign in: ${err instanceof Error ? err.message : String(err)}`);
    } finally {
      setBusy(false);
    }
  };

  return (
    <section className="card signin" aria-labelledby={`${inputId}-title`}>
      <h2 id={`${inputId}-title`}>Sign in to join the conversation</h2>
      {cognito ? (
        <>
          <p className="muted">You will be sent to the sign-in page and come back here.</p>
          <button
            type="button"
            className="btn btn-primary"
            data-testid="signin-cognito"
            disabled={busy}
            onClick={() => {
              setBusy(true);
              // Authorization code + PKCE, with state and nonce (lib/oauth.ts).
              void authorizeUrl(config.cognitoDomain!, config.cognitoClientId!, redirectUri(config.cognitoRedirectUri))
                .then((url) => window.location.assign(url))
                .catch((err: unknown) => {
                  setError(`Could not sign in: ${err instanceof Error ? err.message : String(err)}`);
                  setBusy(false);
                });
            }}
          >
            Sign in
          </button>
        </>
      ) : (
        <form onSubmit={onSubmit} className="signin-form" noValidate>
          <p className="muted">Local development: any username gets a token from the local token endpoint.</p>
          <div className="field">
            <label htmlFor={inputId}>Username</label>
            <div className="row">
              <input
                id={inputId}
                name="username"
                autoComplete="username"
                value={username}
                onChange={(e) => setUsername(e.target.value)}
                maxLength={64}
                aria-invalid={error ? true : undefined}
                aria-describedby={error ? errorId : undefined}
                data-testid="signin-username"
                placeholder="e.g. alice"
              />
              <button type="submit" className="btn btn-primary" disabled={busy} data-testid="signin-submit">
                {busy ? "Signing in…" : "Sign in"}
              </button>
            </div>
          </div>
          {error && (
            <p id={errorId} role="alert" className="error-text" data-testid="signin-error">
              {error}
            </p>
          )}
        </form>
      )}
    </section>
  );
}
