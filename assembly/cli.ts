// The WASI command (dist/trellis-wasi-cmd.wasm, `_start`):
//   trellis merge [FILE...]    join the states, write the encoded result to stdout
//   trellis delta A B          write delta(A, B), the part of A that inflates B
//   trellis inspect [FILE...]  a readable summary of each input
// An input is a file, or stdin when none is named or for "-". An input may hold
// several encoded states back to back (e.g. appended delta-groups): it stands
// for their join. This file and cli/io.ts are the only code that does I/O; the
// lattice work is the same kernel code the reactor exports.
import { Reader, Writer } from "./codec";
import { Lattice } from "./lattice";
import { readAnyState, writeCompact } from "./compact";
import { takeError } from "./errors";
import { proc_exit, random_get } from "~lib/bindings/wasi_snapshot_preview1";
import { setHashSeed } from "./data/hash";
import { readAll, readFile, writeAll, writeText, describe, STDIN, STDOUT, STDERR } from "./cli/io";
import { specName, queryText, hex } from "./cli/render";

// Exit codes (docs/abi.md, "Command mode").
const EXIT_DATA: i32 = 1;  // an input is not a valid state, or types differ
const EXIT_USAGE: i32 = 2; // bad command line
const EXIT_IO: i32 = 3;    // cannot read an input or write the output

// Kernel error numbers (assembly/errors.ts) as text.
const REASONS: string[] = [
  "ok",
  "TRUNCATED: input ended inside a value",
  "BAD_MAGIC: not a trellis encoding",
  "BAD_VERSION: format version this build cannot read",
  "BAD_TAG: unknown type tag or op code",
  "NONCANONICAL: not the canonical form",
  "TOO_LARGE: a count, length or number beyond its limit",
  "TOO_DEEP: nesting too deep",
  "INVALID: breaks a type invariant",
  "TRAILING: bytes left over after a complete value",
  "TYPE_MISMATCH: states of different types",
  "BAD_HANDLE: unknown handle",
  "UNSUPPORTED: operation not offered by this type",
  "NOT_FOUND: key absent",
  "BAD_VALUE: an element, key or value that is not one canonical user value",
];

function reason(code: i32): string {
  return code > 0 && code < REASONS.length ? REASONS[code] : "kernel error " + code.toString();
}

const USAGE = "usage: trellis merge [FILE...]   join states, write the encoded join to stdout\n" +
  "       trellis delta A B         write the part of state A that inflates state B\n" +
  "       trellis inspect [FILE...] print type, size and value of each input\n" +
  "FILE '-' or no FILE reads stdin. A file may hold several states back to back.\n";

// Prints the message and ends the process; proc_exit does not return.
function die(code: i32, msg: string): void {
  writeText(STDERR, "trellis: " + msg + "\n");
  proc_exit(code);
}

function label(name: string): string { return name == "-" ? "<stdin>" : name; }

class Input {
  state: Lattice;
  count: i32;
  constructor(state: Lattice, count: i32) { this.state = state; this.count = count; }
}

// Reads an input and joins the states it holds.
function load(name: string): Input {
  const w = new Writer();
  const e = name == "-" ? readAll(STDIN, w) : readFile(name, w);
  if (e != 0) die(EXIT_IO, label(name) + ": " + describe(e));
  if (w.pos == 0) die(EXIT_DATA, label(name) + ": empty input, expected an encoded state");
  const r = new Reader(w.ptr, w.ptr + <usize>w.pos);
  let acc: Lattice | null = null;
  let n = 0;
  while (!r.done) {
    const at = <i32>(r.p - w.ptr);
    const v = readAnyState(r);
    if (!r.ok || v === null) {
      die(EXIT_DATA, label(name) + ": state " + (n + 1).toString() + " at byte " + at.toString() + ": " + reason(r.err));
      break;
    }
    if (acc === null) acc = v;
    else if (acc.spec.id != v.spec.id) {
      die(EXIT_DATA, label(name) + ": TYPE_MISMATCH: a " + specName(v.spec) + " state after a " + specName(acc.spec) + " state");
    } else acc.join(v);
    n++;
  }
  return new Input(acc!, n);
}

function emit(v: Lattice): void {
  const w = new Writer();
  writeCompact(w, v);
  const e = writeAll(STDOUT, w.ptr, w.pos);
  if (e != 0) die(EXIT_IO, "<stdout>: " + describe(e));
}

function sameType(a: Lattice, b: Lattice, what: string): void {
  if (a.spec.id != b.spec.id) {
    die(EXIT_DATA, what + ": TYPE_MISMATCH: " + specName(b.spec) + " where " + specName(a.spec) + " was expected");
  }
}

function merge(files: string[]): void {
  if (files.length == 0) files.push("-");
  const acc = load(files[0]).state;
  for (let i = 1; i < files.length; i++) {
    const x = load(files[i]).state;
    sameType(acc, x, label(files[i]));
    acc.join(x);
  }
  emit(acc);
}

function delta(files: string[]): void {
  if (files.length != 2) { die(EXIT_USAGE, "delta needs two inputs, A and B\n" + USAGE); return; }
  const a = load(files[0]).state;
  const b = load(files[1]).state;
  sameType(a, b, label(files[1]));
  takeError();
  const d = a.deltaFrom(b);
  const e = takeError();
  if (e != 0) die(EXIT_DATA, "delta: " + reason(e));
  emit(d);
}

function inspect(files: string[]): void {
  if (files.length == 0) files.push("-");
  for (let i = 0; i < files.length; i++) {
    const x = load(files[i]);
    const v = x.state;
    const enc = new Writer();
    writeCompact(enc, v);
    const q = new Writer();
    v.query(q);
    const lines = new Array<string>();
    if (i > 0) lines.push("");
    lines.push("input: " + label(files[i]));
    lines.push("states: " + x.count.toString());
    lines.push("type: " + specName(v.spec));
    lines.push("bytes: " + enc.pos.toString());
    lines.push("bottom: " + (v.isBottom() ? "true" : "false"));
    const n = v.size();
    if (n >= 0) lines.push("size: " + n.toString());
    const text = queryText(v.spec, q.ptr, q.pos);
    if (text !== null) lines.push("value: " + text);
    else lines.push("query (hex): " + hex(q.ptr, q.pos));
    const e = writeText(STDOUT, lines.join("\n") + "\n");
    if (e != 0) die(EXIT_IO, "<stdout>: " + describe(e));
  }
}

function main(): void {
  // Seed the tables' hash from the runtime's randomness (data/hash.ts): the
  // inputs may come from anyone. Without it (no random_get), seed 0.
  const buf = memory.data(8);
  if (random_get(buf, 8) == 0) setHashSeed(<u64>i64.load(buf));
  const argv = process.argv;
  if (argv.length < 2) { die(EXIT_USAGE, "no command\n" + USAGE); return; }
  const cmd = argv[1];
  const files = argv.slice(2);
  if (cmd == "merge") merge(files);
  else if (cmd == "delta") delta(files);
  else if (cmd == "inspect") inspect(files);
  else if (cmd == "help" || cmd == "--help" || cmd == "-h") writeText(STDOUT, USAGE);
  else die(EXIT_USAGE, "unknown command '" + cmd + "'\n" + USAGE);
}

main();
