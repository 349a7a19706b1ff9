/**
 * Runtime configuration. The static export reads `/runtime-config.json` at start (the local
 * runtime serves it, and a production host may too); anything missing falls back to the
 * NEXT_PUBLIC_* variables inlined at build time, then to the local development defaults.
 */
export interface RuntimeConfig {
  websocketUrl: string;
  apiUrl: string;
  tokenUrl: string;
  /** Cognito hosted UI domain, e.g. `https://myapp.auth.us-east-1.amazoncognito.com`. */
  cognitoDomain?: string;
  cognitoClientId?: string;
  cognitoRedirectUri?: string;
  /** Optional WebSocket tuning (runtime-config.json only; the store's defaults otherwise). */
  maxReconnectAttempts?: number;
  reconnectBaseDelayMs?: number;
  heartbeatIntervalMs?: number;
  maxConnectionAgeMs?: number;
}

export const DEFAULT_WEBSOCKET_URL = "ws://localhost:3001";
export const DEFAULT_API_URL = "http://localhost:3002";
export const DEFAULT_TOKEN_URL = "http://localhost:3002/dev/token";

function clean(value: string | undefined): string | undefined {
  const v = value?.trim();
  return v ? v : undefined;
}

/** Build-time configuration (the references must stay literal so Next.js inlines them). */
export function envConfig(): RuntimeConfig {
  const apiUrl = clean(process.env.NEXT_PUBLIC_API_URL) ?? DEFAULT_API_URL;
  return {
    websocketUrl: clean(process.env.NEXT_PUBLIC_WEBSOCKET_URL) ?? DEFAULT_WEBSOCKET_URL,
    apiUrl,
    tokenUrl:
      clean(process.env.NEXT_PUBLIC_TOKEN_URL) ??
      (clean(process.env.NEXT_PUBLIC_API_URL) ? `${apiUrl.replace(/\/$/, "")}/dev/token` : DEFAULT_TOKEN_URL),
    cognitoDomain: clean(process.env.NEXT_PUBLIC_COGNITO_DOMAIN),
    cognitoClientId: clean(process.env.NEXT_PUBLIC_COGNITO_CLIENT_ID),
    cognitoRedirectUri: clean(process.env.NEXT_PUBLIC_COGNITO_REDIRECT_URI),
  };
}

function pickNumber(obj: Record<string, unknown>, key: string): number | undefined {
  const v = obj[key];
  return typeof v === "number" && Number.isFinite(v) && v >= 0 ? v : undefined;
}

function pickString(obj: Record<string, unknown>, key: string): string | undefined {
  const v = obj[key];
  return typeof v === "string" && v.trim() ? v.trim() : undefined;
}

const TUNING_KEYS = ["maxReconnectAttempts", "reconnectBaseDelayMs", "heartbeatIntervalMs", "maxConnectionAgeMs"] as const;

function numbers(obj: Record<string, unknown>, base: RuntimeConfig): Partial<RuntimeConfig> {
  const out: Partial<RuntimeConfig> = {};
  for (const key of TUNING_KEYS) {
    const v = pickNumber(obj, key) ?? base[key];
    if (v !== undefined) out[key] = v;
  }
  return out;
}

/** Overlay a parsed runtime-config.json over the build-time configuration. */
export function mergeConfig(base: RuntimeConfig, raw: unknown): RuntimeConfig {
  if (typeof raw !== "object" || raw === null) return base;
  const obj = raw as Record<string, unknown>;
  return {
    websocketUrl: pickString(obj, "websocketUrl") ?? base.websocketUrl,
    apiUrl: pickString(obj, "apiUrl") ?? base.apiUrl,
    tokenUrl: pickString(obj, "tokenUrl") ?? base.tokenUrl,
    cognitoDomain: pickString(obj, "cognitoDomain") ?? base.cognitoDomain,
    cognitoClientId: pickString(obj, "cognitoClientId") ?? base.cognitoClientId,
    cognitoRedirectUri: pickString(obj, "cognitoRedirectUri") ?? base.cognitoRedirectUri,
    ...numbers(obj, base),
  };
}

export async function loadRuntimeConfig(
  fetchImpl: typeof fetch = fetch,
  path = "/runtime-config.json",
): Promise<RuntimeConfig> {
  const base = envConfig();
  try {
    const res = await fetchImpl(path, { cache: "no-store" });
    if (!res.ok) return base;
    return mergeConfig(base, await res.json());
  } catch {
    return base;
  }
}
