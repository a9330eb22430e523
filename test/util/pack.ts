// Packing helpers for the tests that use trellis as a user would (package,
// typecheck, bundle, docs): the tarball `npm pack` makes, installed into a
// temporary project.
//
// The install does not go through the npm registry or cache: the tarball is
// unpacked into the project's node_modules/trellis, and each dependency the
// packed package.json declares (plus the optional peers a test asks for) is
// linked from this repo's node_modules, which `npm install` filled from
// package-lock.json. So the packed files and the declared dependency list are
// what is tested, and the result does not depend on the npm cache's history
// or the network; an undeclared import fails, as it would for a user.
// (.ci/run also installs the tarball with npm itself, from an empty cache.)
import { execFileSync } from "node:child_process";
import { existsSync, lstatSync, mkdirSync, readFileSync, readdirSync, symlinkSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

export const root = resolve(dirname(fileURLToPath(import.meta.url)), "../..");

// The npm installed beside node. A bare "npm", or npm_execpath under nested
// npm scripts, can be node_modules/.bin/npm: an npm 6 that as-pect's
// dependencies bring in, too old for `pack --pack-destination`.
export function npm(args: string[], cwd: string, env: NodeJS.ProcessEnv = process.env): string {
  const beside = join(dirname(process.execPath), process.platform === "win32" ? "npm.cmd" : "npm");
  if (existsSync(beside)) return execFileSync(beside, args, { cwd, encoding: "utf8", env });
  return execFileSync(process.execPath, [process.env.npm_execpath!, ...args], { cwd, encoding: "utf8", env });
}

export interface Packed { tarball: string; files: string[]; unpackedSize: number }

// --ignore-scripts: dist/ is already built (npm test builds first); running
// prepare here would rebuild it under the other test files.
export function pack(dir: string): Packed {
  const out = npm(["pack", "--ignore-scripts", "--json", "--pack-destination", dir], root);
  const [{ filename, files, unpackedSize }] = JSON.parse(out) as { filename: string; files: { path: string }[]; unpackedSize: number }[];
  return { tarball: join(dir, filename), files: files.map((f) => f.path), unpackedSize };
}

interface Manifest {
  name: string; version: string;
  dependencies?: Record<string, string>;
  peerDependencies?: Record<string, string>;
  peerDependenciesMeta?: Record<string, { optional?: boolean }>;
  optionalDependencies?: Record<string, string>;
}

function manifest(dir: string): Manifest {
  return JSON.parse(readFileSync(join(dir, "package.json"), "utf8")) as Manifest;
}

// A user project in `app` with the packed trellis and its declared
// dependencies, plus `extra` packages (optional peers, typescript's @types)
// a user would add themselves. Returns the installed trellis manifest.
export function installApp(tarball: string, app: string, extra: string[] = []): Manifest {
  const nm = join(app, "node_modules");
  const dest = join(nm, "trellis");
  mkdirSync(dest, { recursive: true });
  if (!existsSync(join(app, "package.json"))) {
    writeFileSync(join(app, "package.json"), JSON.stringify({ name: "app", type: "module", private: true }));
  }
  execFileSync("tar", ["-xzf", tarball, "-C", dest, "--strip-components=1"]);
  const m = manifest(dest);
  for (const name of [...Object.keys(m.dependencies ?? {}), ...extra]) {
    const from = join(root, "node_modules", name);
    if (!existsSync(from)) throw new Error(`${name} is not installed in ${root}/node_modules (npm install)`);
    const to = join(nm, name);
    if (existsSync(to)) continue;
    mkdirSync(dirname(to), { recursive: true });
    symlinkSync(from, to, "dir");
  }
  return m;
}

// Where Node would find package `name` required from the package in `from`.
function locate(name: string, from: string): string | null {
  for (let dir = from; dir.startsWith(root); dir = dirname(dir)) {
    const cand = join(dir, "node_modules", name);
    if (existsSync(join(cand, "package.json"))) return cand;
    if (dir === root) break;
  }
  return null;
}

function bytesOf(dir: string): number {
  let n = 0;
  for (const e of readdirSync(dir)) {
    const p = join(dir, e);
    const s = lstatSync(p);
    if (s.isDirectory()) { if (e !== "node_modules") n += bytesOf(p); } else n += s.size;
  }
  return n;
}

// What `npm install` of these packages brings in, from this repo's installed
// tree: the packages (each dependency and non-optional peer, transitively, as
// npm 7+ installs them) and their bytes on disk. Optional dependencies that
// are absent here (another platform's binaries) are not counted.
export function installWeight(names: string[]): { packages: number; bytes: number; list: string[] } {
  const seen = new Map<string, string>();
  const todo: [string, string][] = names.map((n) => [n, root]);
  while (todo.length) {
    const [name, from] = todo.pop()!;
    const dir = locate(name, from);
    if (!dir) continue;
    if (seen.has(dir)) continue;
    seen.set(dir, name);
    const m = manifest(dir);
    const peers = Object.keys(m.peerDependencies ?? {}).filter((p) => !m.peerDependenciesMeta?.[p]?.optional);
    for (const d of [...Object.keys(m.dependencies ?? {}), ...Object.keys(m.optionalDependencies ?? {}), ...peers]) todo.push([d, dir]);
  }
  let bytes = 0;
  for (const dir of seen.keys()) bytes += bytesOf(dir);
  return { packages: seen.size, bytes, list: [...seen.values()].sort() };
}

