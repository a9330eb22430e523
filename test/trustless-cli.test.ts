// `trellis serve --trustless`: two node processes replicate through signed
// envelopes, and each says so (GET / → trust, trustStats).
import { afterAll, afterEach, describe, expect, it } from "vitest";
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { onJsonLines } from "./util/json-log.js";

const BIN = join(resolve(dirname(fileURLToPath(import.meta.url)), ".."), "bin", "trellis.mjs");
const dirs: string[] = [];
const procs: ChildProcess[] = [];
afterEach(() => { for (const p of procs.splice(0)) if (p.exitCode === null && p.signalCode === null) p.kill("SIGKILL"); });
afterAll(() => { for (const d of dirs) rmSync(d, { recursive: true, force: true }); });

interface N { url: string; token: string; logs: Record<string, unknown>[] }
function serve(extra: string[]): Promise<N> {
  const data = mkdtempSync(join(tmpdir(), "trellis-trustless-"));
  dirs.push(data);
  const proc = spawn(process.execPath, [BIN, "serve", "--data", data, "--port", "0", "--interval", "100", "--trustless", ...extra], { stdio: ["ignore", "pipe", "pipe"] });
  procs.push(proc);
  const logs: Record<string, unknown>[] = [];
  return new Promise((ok, fail) => {
    onJsonLines(proc.stderr!, (rec) => {
      logs.push(rec);
      if (rec.msg === "listening") ok({ url: `http://127.0.0.1:${rec.port}`, token: readFileSync(join(data, "api-token"), "utf8").trim(), logs });
    }, (line) => fail(new Error(`not a JSON log line: ${line}`)));
    proc.on("exit", (code) => fail(new Error(`serve exited (${code}): ${JSON.stringify(logs)}`)));
  });
}
async function http(n: N, method: string, path: string, body?: unknown): Promise<{ status: number; data: any }> {
  const res = await fetch(n.url + path, { method, headers: { authorization: `Bearer ${n.token}`, ...(body ? { "content-type": "application/json" } : {}) }, body: body ? JSON.stringify(body) : undefined });
  return { status: res.status, data: await res.json() };
}
async function until(f: () => Promise<boolean>, ms = 20_000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await f())) { if (Date.now() > end) throw new Error("timed out waiting"); await new Promise((r) => setTimeout(r, 50)); }
}

describe("trellis serve --trustless", () => {
  it("replicates through signed envelopes between two processes", async () => {
    const a = await serve([]);
    const b = await serve(["--peer", `${a.url.replace("http", "ws")}/sync`]);
    expect(a.logs.some((l) => l.msg === "trust ledger rebuilt")).toBe(true);
    expect((await http(a, "PUT", "/v/hits", { type: "GCounter" })).status).toBe(201);
    await until(async () => (await http(b, "GET", "/v/hits")).status === 200);
    expect((await http(b, "POST", "/v/hits", { increment: 3 })).status).toBe(200);
    await until(async () => (await http(a, "GET", "/v/hits")).data.value === 3);
    const info = (await http(a, "GET", "/")).data;
    expect(info.trust).toBe("trustless");
    expect(info.trustStats.admitted).toBeGreaterThanOrEqual(1);
    expect(info.trustStats.rejected).toBe(0);
    expect((await http(b, "GET", "/")).data.trustStats.signed).toBeGreaterThanOrEqual(1);
  }, 60_000);
});
