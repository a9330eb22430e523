// The README's example runs as written, and prints what its comments say.
import { describe, expect, it } from "vitest";
import { execFileSync } from "node:child_process";
import { readFileSync, writeFileSync, rmSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");

describe("README", () => {
  it("example prints what its comments promise", () => {
    const md = readFileSync(join(root, "README.md"), "utf8");
    const code = md.match(/```js\n([\s\S]*?)```/)![1];
    const expected = [...code.matchAll(/console\.log\(.*\);\s*\/\/\s*(.*?)(?:\s{2,}\.\.\..*)?$/gm)].map((m) => m[1].trim());
    expect(expected.length).toBeGreaterThan(3);
    // Inside the repo so `import "trellis"` resolves to this package, as for a user.
    const file = join(root, ".readme-example.mjs");
    writeFileSync(file, code);
    try {
      const out = execFileSync(process.execPath, [file], { encoding: "utf8" }).trim().split("\n");
      expect(out.map((l) => l.trim())).toEqual(expected);
    } finally {
      rmSync(file, { force: true });
    }
  });
});
