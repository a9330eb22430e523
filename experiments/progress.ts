// A one-line progress bar on stderr (redrawn in place on a terminal, one line
// per tenth otherwise, so logs stay short).
export class Progress {
  #done = 0;
  #start = Date.now();
  #lastTenth = -1;
  constructor(readonly label: string, readonly total: number) { this.#draw(""); }

  tick(note = "", n = 1): void { this.#done += n; this.#draw(note); }
  set(done: number, note = ""): void { this.#done = done; this.#draw(note); }

  done(): void { if (process.stderr.isTTY) process.stderr.write("\n"); }

  #draw(note: string): void {
    const f = this.total > 0 ? Math.min(1, this.#done / this.total) : 1;
    const w = 30, full = Math.round(f * w);
    const secs = ((Date.now() - this.#start) / 1000).toFixed(0);
    const line = `${this.label} [${"#".repeat(full)}${"-".repeat(w - full)}] ${this.#done}/${this.total} ${secs}s ${note}`;
    if (process.stderr.isTTY) process.stderr.write(`\r${line.slice(0, (process.stderr.columns ?? 120) - 1).padEnd((process.stderr.columns ?? 120) - 1)}`);
    else {
      const tenth = Math.floor(f * 10);
      if (tenth !== this.#lastTenth) { this.#lastTenth = tenth; process.stderr.write(line + "\n"); }
    }
  }
}
