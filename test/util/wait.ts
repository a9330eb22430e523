// Test-only waiting (the code under test never polls).
export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

// Resolves once cond() holds; rejects naming `what` after ms.
export async function until(cond: () => boolean, ms = 5000, what = "condition"): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(5);
  }
}
