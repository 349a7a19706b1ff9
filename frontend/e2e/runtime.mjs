// Start and stop the real local runtime (docs/design.md, "Local runtime command line").
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync, existsSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";

export const FRONTEND_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
export const REPO_ROOT = path.resolve(FRONTEND_DIR, "..");
export const RESULTS_DIR = path.join(FRONTEND_DIR, "test-results");

/**
 * `.venv/bin/python -m local_runtime --fresh --state-dir <tmp> --frontend-port 0 --ws-port 0
 * --api-port 0 --frontend-dir frontend/out` from the repo root; resolves with the READY endpoints.
 */
export async function startRuntime({ timeoutMs = 120_000, extraArgs = [] } = {}) {
  const python = process.env.LOCAL_RUNTIME_PYTHON ?? path.join(REPO_ROOT, ".venv", "bin", "python");
  if (!existsSync(python)) throw new Error(`no Python at ${python}: run the project's set-up first`);
  if (!existsSync(path.join(FRONTEND_DIR, "out", "index.html"))) {
    throw new Error("frontend/out is missing: run `npm run build` first");
  }
  const stateDir = mkdtempSync(path.join(tmpdir(), "rc-e2e-"));
  const args = [
    "-m", "local_runtime", "--fresh", "--state-dir", stateDir,
    "--frontend-port", "0", "--ws-port", "0", "--api-port", "0",
    "--frontend-dir", path.join(FRONTEND_DIR, "out"), "--quiet-functions", ...extraArgs,
  ];
  // E2E_NO_SYNTH=1: use the existing cdk.out instead of synthesizing at start (faster; also a way
  // around a stack that does not synthesize at the moment).
  if (process.env.E2E_NO_SYNTH === "1") args.push("--no-synth");
  const child = spawn(python, args, { cwd: REPO_ROOT, stdio: ["ignore", "pipe", "pipe"], env: { ...process.env } });
  let log = "";
  child.stderr.on("data", (d) => {
    log += d.toString();
    if (log.length > 200_000) log = log.slice(-100_000);
    if (process.env.E2E_RUNTIME_LOG) process.stderr.write(d);
  });
  const endpoints = await new Promise((resolve, reject) => {
    let out = "";
    const timer = setTimeout(() => {
      child.kill("SIGTERM");
      reject(new Error(`local runtime not READY after ${timeoutMs} ms\n${log.slice(-4000)}`));
    }, timeoutMs);
    child.stdout.on("data", (d) => {
      out += d.toString();
      const line = out.split("\n").find((l) => l.startsWith("READY "));
      if (line) {
        clearTimeout(timer);
        try {
          resolve(JSON.parse(line.slice("READY ".length)));
        } catch (err) {
          reject(err);
        }
      }
    });
    child.once("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`local runtime exited (${code}) before READY\n${log.slice(-4000)}`));
    });
  });
  return {
    endpoints,
    stateDir,
    log: () => log,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) {
        const exited = new Promise((r) => child.once("exit", r));
        child.kill("SIGTERM");
        const timer = setTimeout(() => child.kill("SIGKILL"), 15_000);
        await exited;
        clearTimeout(timer);
      }
      rmSync(stateDir, { recursive: true, force: true });
    },
  };
}

/** A token from the local runtime's token endpoint (`POST {"username"}`). */
export async function devToken(tokenUrl, username) {
  const res = await fetch(tokenUrl, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ username }),
  });
  if (res.status !== 200) throw new Error(`token for ${username}: ${res.status} ${await res.text()}`);
  return (await res.json()).token;
}
