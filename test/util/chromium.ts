// Debian's Chromium under playwright-core, as every browser test starts it,
// and the import graph a browser would fetch from an entry module.
import { existsSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { chromium, Browser } from "playwright-core";

export const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";

export function launchChromium(): Promise<Browser> {
  if (!existsSync(CHROMIUM)) throw new Error(`browser tests need Chromium at ${CHROMIUM} (npm test installs it when it can: scripts/ensure-chromium.mjs; or set CHROMIUM_PATH)`);
  return chromium.launch({
    executablePath: CHROMIUM,
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
      "--no-first-run", "--disable-quic", "--disable-sync"],
  });
}

// Every import specifier reachable from entry through relative imports.
export function importSpecifiers(entry: string): string[] {
  const seen = new Set<string>();
  const todo = [entry];
  const specs: string[] = [];
  while (todo.length) {
    const file = todo.pop()!;
    if (seen.has(file)) continue;
    seen.add(file);
    for (const m of readFileSync(file, "utf8").matchAll(/(?:import|export)\s[^'"]*?from\s*["']([^"']+)["']|import\(\s*["']([^"']+)["']\s*\)/g)) {
      const spec = m[1] ?? m[2];
      specs.push(spec);
      if (spec.startsWith(".")) todo.push(join(dirname(file), spec));
    }
  }
  return specs;
}
