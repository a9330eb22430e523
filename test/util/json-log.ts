// A `trellis serve` process logs one JSON object per line on stderr; this
// hands each record to onRecord, and a line that is not JSON to onBad.
import type { Readable } from "node:stream";

export function onJsonLines(stream: Readable, onRecord: (rec: Record<string, unknown>) => void, onBad: (line: string) => void): void {
  let buf = "";
  stream.setEncoding("utf8");
  stream.on("data", (chunk: string) => {
    buf += chunk;
    let i;
    while ((i = buf.indexOf("\n")) >= 0) {
      const line = buf.slice(0, i);
      buf = buf.slice(i + 1);
      let rec: Record<string, unknown>;
      try { rec = JSON.parse(line); } catch { onBad(line); return; }
      onRecord(rec);
    }
  });
}
