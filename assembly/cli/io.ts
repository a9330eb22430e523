// WASI I/O for the command module, and nothing else: whole-input reads, full
// writes, preopen path resolution. Every failure comes back as an errno so the
// command can print a message and exit non-zero instead of aborting. Only
// wasi_snapshot_preview1 imports (through the shim's bindings).
import {
  fd_read, fd_write, fd_close, path_open, fd_prestat_get, fd_prestat_dir_name,
  sched_yield, errno, errnoToString, rights, lookupflags, prestat,
} from "~lib/bindings/wasi_snapshot_preview1";
import { Writer } from "../codec";

// iovec (buf, len), the count out-parameter, the fd out-parameter, prestat.
const scratch = memory.data(32);

// One input larger than this is refused before it can exhaust linear memory.
export const MAX_INPUT: i32 = 64 << 20;
// An errno-space value of our own for "input over MAX_INPUT" (WASI errnos end at 76).
export const E_INPUT_TOO_LARGE: u16 = 1000;

export const STDIN: u32 = 0;
export const STDOUT: u32 = 1;
export const STDERR: u32 = 2;

// Appends everything readable from fd to w. Returns 0 or an errno.
export function readAll(fd: u32, w: Writer): u16 {
  while (true) {
    w.ensure(64 << 10);
    const room = w.cap - w.pos;
    store<u32>(scratch, <u32>(w.ptr + w.pos));
    store<u32>(scratch, <u32>room, 4);
    const e = fd_read(fd, scratch, 1, scratch + 8);
    // A non-blocking descriptor with nothing yet: let the host run, then retry.
    if (e == errno.AGAIN || e == errno.INTR) { sched_yield(); continue; }
    if (e != errno.SUCCESS) return e;
    const n = <i32>load<u32>(scratch, 8);
    if (n == 0) return 0;
    w.pos += n;
    if (w.pos > MAX_INPUT) return E_INPUT_TOO_LARGE;
  }
}

// Writes all n bytes at p, retrying short writes. Returns 0 or an errno.
export function writeAll(fd: u32, p: usize, n: i32): u16 {
  while (n > 0) {
    store<u32>(scratch, <u32>p);
    store<u32>(scratch, <u32>n, 4);
    const e = fd_write(fd, scratch, 1, scratch + 8);
    if (e == errno.AGAIN || e == errno.INTR) { sched_yield(); continue; }
    if (e != errno.SUCCESS) return e;
    const k = <i32>load<u32>(scratch, 8);
    p += k;
    n -= k;
  }
  return 0;
}

export function writeText(fd: u32, s: string): u16 {
  const b = String.UTF8.encode(s);
  return writeAll(fd, changetype<usize>(b), b.byteLength);
}

// ---- preopens ---------------------------------------------------------------

class Preopen {
  fd: u32;
  name: string;
  constructor(fd: u32, name: string) { this.fd = fd; this.name = name; }
}

let opens: Array<Preopen> | null = null;

// The preopened directories: WASI numbers them contiguously from fd 3.
function preopens(): Array<Preopen> {
  if (opens !== null) return opens!;
  const out = new Array<Preopen>();
  for (let fd: u32 = 3; fd < 1024; fd++) {
    if (fd_prestat_get(fd, changetype<prestat>(scratch)) != errno.SUCCESS) break;
    if (load<u8>(scratch) != 0) continue; // only directories are defined
    const len = load<u32>(scratch, 4);
    const buf = new ArrayBuffer(<i32>len);
    if (fd_prestat_dir_name(fd, changetype<usize>(buf), len) != errno.SUCCESS) continue;
    // Some runtimes count a trailing NUL in the name.
    let n = <i32>len;
    while (n > 0 && load<u8>(changetype<usize>(buf) + n - 1) == 0) n--;
    out.push(new Preopen(fd, String.UTF8.decodeUnsafe(changetype<usize>(buf), n)));
  }
  opens = out;
  return out;
}

function trimSlashes(s: string): string {
  let i = 0;
  while (i < s.length && s.charCodeAt(i) == 47) i++;
  return s.substring(i);
}

function stripDot(s: string): string {
  while (s.startsWith("./")) s = trimSlashes(s.substring(2));
  return s;
}

// Picks the preopen a path lives under (longest matching name, at a path
// component boundary) and the path relative to it. Relative paths resolve
// against a preopen named "." (as `wasmtime --dir .` or a runner's cwd gives).
class Resolved {
  fd: u32 = 0;
  rel: string = "";
  found: bool = false;
}

function resolve(path: string): Resolved {
  const res = new Resolved();
  const ps = preopens();
  const absolute = path.startsWith("/");
  let best = -1;
  for (let i = 0; i < ps.length; i++) {
    let name = ps[i].name;
    let rest: string;
    if (absolute) {
      if (!name.startsWith("/")) continue;
      while (name.length > 1 && name.endsWith("/")) name = name.substring(0, name.length - 1);
      if (name == "/") rest = trimSlashes(path);
      else if (path == name) rest = ".";
      else if (path.startsWith(name + "/")) rest = trimSlashes(path.substring(name.length));
      else continue;
    } else {
      if (name != "." && name != "./" && name != "") continue;
      rest = stripDot(path);
      name = "";
    }
    if (name.length > best) {
      best = name.length;
      res.fd = ps[i].fd;
      res.rel = rest.length == 0 ? "." : rest;
      res.found = true;
    }
  }
  return res;
}

// errno of a path outside every preopen: the sandbox does not grant it.
export const E_NO_PREOPEN: u16 = errno.NOTCAPABLE;

// Reads the whole file at path into w. Returns 0 or an errno.
export function readFile(path: string, w: Writer): u16 {
  const r = resolve(path);
  if (!r.found) return E_NO_PREOPEN;
  const p = String.UTF8.encode(r.rel);
  const e = path_open(
    r.fd, lookupflags.SYMLINK_FOLLOW, changetype<usize>(p), <usize>p.byteLength,
    0, rights.FD_READ, 0, 0, scratch + 16,
  );
  if (e != errno.SUCCESS) return e;
  const fd = load<u32>(scratch, 16);
  const re = readAll(fd, w);
  fd_close(fd);
  return re;
}

// A readable reason for an errno.
export function describe(e: u16): string {
  if (e == E_INPUT_TOO_LARGE) return "input larger than " + (MAX_INPUT >> 20).toString() + " MiB";
  if (e == errno.NOENT) return "no such file or directory";
  if (e == errno.ACCES || e == errno.PERM) return "permission denied";
  if (e == errno.ISDIR) return "is a directory";
  if (e == errno.NOTDIR) return "not a directory";
  if (e == errno.NOTCAPABLE) return "not inside a preopened directory (grant it to the runtime, e.g. --dir)";
  if (e == errno.PIPE) return "broken pipe";
  return "WASI error " + errnoToString(e);
}
