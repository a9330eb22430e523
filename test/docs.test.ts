// Docs that run: every code block in README.md and docs/*.md fenced as
// ```js run is run as an ES module against this package, and must exit 0.
// Where a line `console.log(...); // text` states its output, the block must
// print exactly those lines, in order (text after two spaces and "..." is
// commentary: `// true  ...so alice's add wins`). Blocks run from a temporary
// folder inside the repo, so `import "trellis"` resolves to this package by
// self-reference (its `exports` map, as for a user) and relative paths such
// as ./data land in that folder.
import { describe, expect, it } from "vitest";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { root } from "./util/pack.js";

interface Block { file: string; line: number; code: string }

export function runnableBlocks(md: string, file: string): Block[] {
  const blocks: Block[] = [];
  const lines = md.split("\n");
  for (let i = 0; i < lines.length; i++) {
    const open = /^(\s*)(`{3,})(.*)$/.exec(lines[i]);
    if (!open) continue;
    const end = lines.findIndex((l, j) => j > i && l.trim().startsWith(open[2]) && l.trim().replace(/`/g, "") === "");
    if (end < 0) throw new Error(`${file}:${i + 1}: unclosed code block`);
    const info = open[3].trim().split(/\s+/);
    if (info.includes("run")) {
      if (!["js", "javascript", "mjs"].includes(info[0])) throw new Error(`${file}:${i + 1}: only js blocks can be marked run`);
      blocks.push({ file, line: i + 1, code: lines.slice(i + 1, end).map((l) => l.slice(open[1].length)).join("\n") + "\n" });
    }
    i = end;
  }
  return blocks;
}

export function expectedOutput(code: string): string[] {
  return [...code.matchAll(/console\.log\(.*\);\s*\/\/\s*(.*?)(?:\s{2,}\.\.\..*)?$/gm)].map((m) => m[1].trim());
}

const files = ["README.md", ...readdirSync(join(root, "docs")).filter((f) => f.endsWith(".md")).sort().map((f) => `docs/${f}`)];
const blocks = files.flatMap((f) => runnableBlocks(readFileSync(join(root, f), "utf8"), f));

describe("docs", () => {
  it("mark their examples runnable (README's main example among them)", () => {
    expect(blocks.length).toBeGreaterThanOrEqual(10);
    expect(blocks.some((b) => b.file === "README.md" && expectedOutput(b.code).length > 3)).toBe(true);
  });

  it("find the marked blocks and their stated output", () => {
    const md = "a\n```js run\nconsole.log(1 + 1); // 2\nconsole.log([1]); // [ 1 ]  ...an array\nconsole.log(3);\n```\n```js\nnot run\n```\n";
    const [b, ...rest] = runnableBlocks(md, "x.md");
    expect(rest).toEqual([]);
    expect(b.line).toBe(2);
    expect(expectedOutput(b.code)).toEqual(["2", "[ 1 ]"]);
  });

  for (const b of blocks) {
    it(`${b.file}:${b.line} runs${expectedOutput(b.code).length ? " and prints what it says" : ""}`, () => {
      const dir = mkdtempSync(join(root, ".docs-run-"));
      try {
        const file = join(dir, "block.mjs");
        writeFileSync(file, b.code);
        const r = spawnSync(process.execPath, [file], { cwd: dir, encoding: "utf8", timeout: 90_000 });
        expect(r.status, `${b.file}:${b.line} exit\n${r.stderr}`).toBe(0);
        const expected = expectedOutput(b.code);
        if (expected.length) expect(r.stdout.trim().split("\n").map((l) => l.trim())).toEqual(expected);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });
  }
});
