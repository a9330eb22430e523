// Run by `npm test` before the tests: the browser tests drive a system
// Chromium through playwright-core (test/util/chromium.ts). When it is missing
// and we may install it (root, or passwordless sudo, and apt-get), install
// Debian's package; otherwise stop with one instruction instead of letting
// three browser test files fail one by one.
import { execFileSync, spawnSync } from "node:child_process";
import { existsSync } from "node:fs";

const path = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";
if (existsSync(path)) process.exit(0);

const has = (cmd) => spawnSync("sh", ["-c", `command -v ${cmd}`], { stdio: "ignore" }).status === 0;
const root = typeof process.getuid === "function" && process.getuid() === 0;
const sudo = !root && has("sudo") && spawnSync("sudo", ["-n", "true"], { stdio: "ignore" }).status === 0;

if (!process.env.CHROMIUM_PATH && has("apt-get") && (root || sudo)) {
  console.log("npm test: Chromium is missing; installing Debian's chromium for the browser tests (apt-get)");
  const run = (args) => execFileSync(sudo ? "sudo" : args[0], sudo ? ["-n", "env", "DEBIAN_FRONTEND=noninteractive", ...args] : args.slice(1), {
    stdio: ["ignore", "ignore", "inherit"], env: { ...process.env, DEBIAN_FRONTEND: "noninteractive" },
  });
  try {
    run(["apt-get", "update", "-qq"]);
    run(["apt-get", "install", "-y", "-qq", "chromium"]);
  } catch (e) {
    console.error(`npm test: installing chromium failed (${e.message}).`);
  }
  if (existsSync(path)) process.exit(0);
}

console.error(
  `npm test needs Chromium at ${path} for the browser tests: install it (Debian/Ubuntu: sudo apt-get install -y chromium) ` +
  "or set CHROMIUM_PATH to a Chromium or Chrome binary.",
);
process.exit(1);
