#!/usr/bin/env node
// The `trellis` command: see `trellis --help` and docs/cli.md.
// The code is built into dist/ (npm run build, or npx tsc -p tsconfig.json).
let main;
try {
  ({ main } = await import("../dist/host/cli/main.js"));
} catch (e) {
  if (e?.code !== "ERR_MODULE_NOT_FOUND") throw e;
  process.stderr.write(`trellis: dist/ is not built (${e.message}); run npm run build\n`);
  process.exit(1);
}
process.exit(await main(process.argv.slice(2)));
