// Structured logs: one JSON object per line on stderr,
//   {"level":"info","time":"2026-…Z","msg":"listening","port":7070,…}
// Levels debug < info < warn < error; "silent" logs nothing.

export type Level = "debug" | "info" | "warn" | "error";
export type LogLevel = Level | "silent";
export const LEVELS: readonly LogLevel[] = ["debug", "info", "warn", "error", "silent"];

export interface Logger {
  debug(msg: string, fields?: Record<string, unknown>): void;
  info(msg: string, fields?: Record<string, unknown>): void;
  warn(msg: string, fields?: Record<string, unknown>): void;
  error(msg: string, fields?: Record<string, unknown>): void;
  child(fields: Record<string, unknown>): Logger;
}

export function createLogger(level: LogLevel = "info", write: (line: string) => void = (l) => process.stderr.write(l), base: Record<string, unknown> = {}): Logger {
  if (!LEVELS.includes(level)) throw new RangeError(`log level is one of ${LEVELS.join(", ")}, got ${String(level)}`);
  const min = LEVELS.indexOf(level);
  const log = (lvl: Level) => (msg: string, fields: Record<string, unknown> = {}): void => {
    if (LEVELS.indexOf(lvl) < min) return;
    const rec: Record<string, unknown> = { level: lvl, time: new Date().toISOString(), msg, ...base };
    for (const [k, v] of Object.entries(fields)) rec[k] = v instanceof Error ? errorFields(v) : v;
    let line: string;
    try { line = JSON.stringify(rec); } catch { line = JSON.stringify({ level: lvl, time: rec.time, msg, unserializable: true }); }
    write(line + "\n");
  };
  return {
    debug: log("debug"), info: log("info"), warn: log("warn"), error: log("error"),
    child: (fields) => createLogger(level, write, { ...base, ...fields }),
  };
}

export function errorFields(e: unknown): Record<string, unknown> {
  if (!(e instanceof Error)) return { message: String(e) };
  const code = (e as { code?: unknown }).code;
  return { name: e.name, message: e.message, ...(code !== undefined ? { code } : {}) };
}

export const silentLogger: Logger = createLogger("silent");
