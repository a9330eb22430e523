// Parses a type name as `specName` (host/crdt/spec.ts) prints it, so a type
// can be named on a command line or in JSON: "AWSet", "GMap<GCounter>",
// "TopK(10)", "Pair<GCounter, AWSet>", "AWMap<Pair<MaxInt, TopK(3)>>".
//
//   type  := name | name "<" type ">" | name "<" type "," type ">" | "TopK" "(" int ")"
//
// Whitespace between tokens is ignored; names are case-sensitive. Errors are
// TypeErrors with code BAD_TYPE naming the position (a RangeError for a
// TopK size out of range).
import { Tag, type TagName, type TypeSpec } from "../crdt/spec.js";
import { TopK } from "../crdt/topk.js";

const MAX_DEPTH = 16;
const NAMES = Object.keys(Tag) as TagName[];

export function parseType(text: string): TypeSpec {
  if (typeof text !== "string") throw new TypeError("a type name is a string");
  let pos = 0;
  const fail = (what: string): never => {
    throw Object.assign(
      new TypeError(`bad type ${JSON.stringify(text)} at ${pos}: ${what} (types: ${NAMES.join(", ")}; e.g. GMap<GCounter>, Pair<GCounter, AWSet>, TopK(10))`),
      { code: "BAD_TYPE" },
    );
  };
  const ws = (): void => { while (pos < text.length && /\s/.test(text[pos])) pos++; };
  const eat = (c: string): boolean => { ws(); if (text[pos] === c) { pos++; return true; } return false; };
  const expect = (c: string): void => { if (!eat(c)) fail(`expected "${c}"`); };

  const type = (depth: number): TypeSpec => {
    if (depth > MAX_DEPTH) fail(`nested deeper than ${MAX_DEPTH}`);
    ws();
    const m = /^[A-Za-z][A-Za-z0-9]*/.exec(text.slice(pos));
    if (!m) fail("expected a type name");
    const name = m![0];
    if (!Object.hasOwn(Tag, name)) {
      const near = NAMES.find((n) => n.toLowerCase() === name.toLowerCase());
      fail(`unknown type ${name}${near ? ` (did you mean ${near}?)` : ""}`);
    }
    pos += name.length;
    const tag = Tag[name as TagName];
    if (tag === Tag.TopK) {
      expect("(");
      ws();
      const k = /^[0-9]+/.exec(text.slice(pos));
      if (!k) fail("expected the size k of TopK(k)");
      pos += k![0].length;
      expect(")");
      return TopK.of(Number(k![0])); // RangeError outside 1..MAX_TOPK
    }
    if (tag === Tag.GMap || tag === Tag.AWMap) {
      expect("<");
      const value = type(depth + 1);
      expect(">");
      return { tag, value };
    }
    if (tag === Tag.Pair) {
      expect("<");
      const a = type(depth + 1);
      expect(",");
      const b = type(depth + 1);
      expect(">");
      return { tag, a, b };
    }
    ws();
    if (text[pos] === "<" || text[pos] === "(") fail(`${name} takes no parameters`);
    return { tag };
  };

  const spec = type(0);
  ws();
  if (pos < text.length) fail("unexpected text after the type");
  return spec;
}
