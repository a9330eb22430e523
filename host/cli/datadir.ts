// A start that fails must not leave behind a data directory it created (an
// empty store there would later read as "a node that has run"), and must
// never remove anything that existed before it.
import { existsSync } from "node:fs";
import { rm, rmdir } from "node:fs/promises";
import { dirname, resolve } from "node:path";

// The outermost folder of `dir` that does not exist yet: what opening the
// store there creates (classic-level makes the path recursively). Null when
// `dir` exists.
export function missingTop(dir: string): string | null {
  let p = resolve(dir);
  if (existsSync(p)) return null;
  for (;;) {
    const up = dirname(p);
    if (up === p || existsSync(up)) return p;
    p = up;
  }
}

// Undoes what a failed start created. `owned`: the store was opened (its lock
// held) by this start, so everything under `top` is this start's and goes;
// otherwise only the folders it made, and only while they are empty (another
// process may have opened them meanwhile).
export async function removeCreated(dir: string, top: string | null, owned: boolean): Promise<void> {
  if (top === null) return;
  if (owned) { await rm(top, { recursive: true, force: true }).catch(() => {}); return; }
  for (let p = resolve(dir); ; p = dirname(p)) {
    try { await rmdir(p); } catch { return; } // not empty, or gone: stop
    if (p === top) return;
  }
}
