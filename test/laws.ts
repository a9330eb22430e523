// The lattice law checkers, written once and run on every type (after Hydro's
// `check_lattice_properties` / `check_lattice_morphism` and lasp-lang/types'
// decomposition properties). A checker takes a type's fixture, builds random
// states from histories of ops and merges on 2–4 replicas (test/util/history.ts)
// and throws (through fast-check, which prints a replayable seed) when a law
// fails. States are compared by their canonical bytes.
//
//   checkLattice(fixture, { numRuns })        every law below
//   checkMorphism(f, fixtureIn, fixtureOut)   f(a ⊔ b) = f(a) ⊔ f(b)
//
// Every instance a check creates is disposed (test/util/scope.ts).
import fc from "fast-check";
import { isDeepStrictEqual } from "node:util";
import { decodeState, TrellisError } from "../dist/host/index.node.js";
import type { Crdt } from "../dist/host/index.node.js";
import type { AnyFixture } from "./util/fixtures.js";
import { History, REPLICAS, applyOp, build, historyArb } from "./util/history.js";
import { Scope, withScope } from "./util/scope.js";
import { hex, sameBytes } from "./util/bytes.js";
import { fcParams, runs } from "./util/runs.js";

export interface LawOptions {
  numRuns?: number;   // cases per law (default: 1,000 × the TRELLIS_RUNS scale)
  maxSteps?: number;  // history length (states stay small)
}

type C = Crdt<unknown>;

export class LawError extends Error {
  constructor(law: string, detail: string) {
    super(`law "${law}" failed: ${detail}`);
    this.name = "LawError";
  }
}

const show = (xs: Record<string, C | Uint8Array>): string =>
  Object.entries(xs).map(([k, v]) => `\n  ${k} = ${hex(v instanceof Uint8Array ? v : v.encode())}`).join("");

function expectSame(law: string, x: C | Uint8Array, y: C | Uint8Array, ctx: Record<string, C | Uint8Array> = {}): void {
  const bx = x instanceof Uint8Array ? x : x.encode();
  const by = y instanceof Uint8Array ? y : y.encode();
  if (!sameBytes(bx, by)) throw new LawError(law, `bytes differ${show({ left: bx, right: by, ...ctx })}`);
}

function expect(law: string, ok: boolean, detail: string, ctx: Record<string, C | Uint8Array> = {}): void {
  if (!ok) throw new LawError(law, `${detail}${show(ctx)}`);
}

function joined(s: Scope, a: C, b: C): C {
  const x = s.track(a.clone());
  x.merge(b);
  return x;
}

// Runs `body` on states from random histories, disposing all of them.
function forStates(f: AnyFixture, o: LawOptions, maxSteps: number,
  body: (s: Scope, h: History<unknown>, u: ReturnType<typeof build>, extra: unknown) => void,
  extra: fc.Arbitrary<unknown> = fc.constant(null)): number {
  const arb = historyArb<unknown>(f, { maxSteps: o.maxSteps ?? maxSteps });
  const numRuns = o.numRuns ?? runs(1000);
  fc.assert(fc.property(arb, extra, (h, e) => withScope((s) => body(s, h, build(f, h, s), e))), fcParams(numRuns));
  return numRuns;
}

// a ⊔ b = b ⊔ a
export function checkCommutative(f: AnyFixture, o: LawOptions = {}): void {
  forStates(f, o, 12, (s, h, u) => {
    const a = u.pick(h.picks[0]), b = u.pick(h.picks[1]);
    expectSame("join is commutative", joined(s, a, b), joined(s, b, a), { a, b });
  });
}

// (a ⊔ b) ⊔ c = a ⊔ (b ⊔ c)
export function checkAssociative(f: AnyFixture, o: LawOptions = {}): void {
  forStates(f, o, 12, (s, h, u) => {
    const a = u.pick(h.picks[0]), b = u.pick(h.picks[1]), c = u.pick(h.picks[2]);
    const left = joined(s, joined(s, a, b), c);
    const right = joined(s, a, joined(s, b, c));
    expectSame("join is associative", left, right, { a, b, c });
  });
}

// a ⊔ a = a, and joining again reports no change.
export function checkIdempotent(f: AnyFixture, o: LawOptions = {}): void {
  forStates(f, o, 12, (s, h, u) => {
    const a = u.pick(h.picks[0]);
    const x = s.track(a.clone());
    const changed = x.merge(a);
    expectSame("join is idempotent", x, a, { a });
    expect("join is idempotent", changed === false, "a ⊔ a reported a change", { a });
    expect("join is idempotent", x.merge(a.encode()) === false, "a ⊔ bytes(a) reported a change", { a });
  });
}

// ⊥ ⊔ a = a ⊔ ⊥ = a; a fresh state is bottom; isBottom agrees with bytes; ⊥ ⊑ a.
export function checkBottom(f: AnyFixture, o: LawOptions = {}): void {
  forStates(f, o, 12, (s, h, u) => {
    const a = u.pick(h.picks[0]);
    const bot = s.track(f.make(REPLICAS[0]));
    const botBytes = bot.encode();
    expect("bottom", bot.isBottom, "a fresh state is not bottom", { bot });
    expectSame("bottom is the identity", joined(s, bot, a), a, { a });
    expectSame("bottom is the identity", joined(s, a, bot), a, { a });
    expect("bottom", bot.leq(a), "⊥ ⋢ a", { a });
    expect("bottom", a.isBottom === sameBytes(a.encode(), botBytes), "isBottom disagrees with the bytes of a fresh state", { a, bot });
    const x = s.track(a.clone());
    expect("bottom", x.merge(bot) === false, "a ⊔ ⊥ reported a change", { a });
    // Bottom is the same whatever replica owns it.
    expectSame("bottom", s.track(f.make(REPLICAS[3])), bot);
  });
}

// For every delta mutator m: m(x) = x ⊔ mδ(x). The op is applied to a clone;
// its delta is what takeDelta returns; then the pending delta-group is empty.
export function checkDeltaMutators(f: AnyFixture, o: LawOptions = {}): void {
  forStates(f, o, 12, (s, h, u, extra) => {
    const ops = extra as unknown[];
    const x = u.pick(h.picks[0]);
    const y = s.track(x.clone());
    y.takeDelta(); // a clone starts with an empty delta-group; drain to be sure
    const start = s.track(x.clone());
    for (const op of ops) applyOp(f, y, op);
    const d = y.takeDelta();
    const z = s.track(x.clone());
    z.merge(d);
    expectSame("m(x) = x ⊔ mδ(x)", z, y, { x, delta: d });
    const dd = s.track(decodeState(d, y.replica));
    expect("m(x) = x ⊔ mδ(x)", dd.leq(y), "the delta is not below m(x)", { x, delta: d, mx: y });
    const again = s.track(decodeState(y.takeDelta(), y.replica));
    expect("takeDelta", again.isBottom, "a second takeDelta with no op in between is not bottom", { again });
    expectSame("m(x) = x ⊔ mδ(x)", start, x); // the clone shares nothing
  }, fc.array(f.op, { minLength: 1, maxLength: 3 }));
}

function joinAll(s: Scope, f: AnyFixture, parts: C[], order: number[]): C {
  const x = s.track(f.make(REPLICAS[0]));
  for (const i of order) x.merge(parts[i]);
  return x;
}

// decompose(x): the parts join back to x (in any order), no part is redundant
// (dropping one gives a strictly smaller join), every part is irreducible
// (decomposes to itself) and not bottom; ⊥ decomposes to nothing.
export function checkDecompose(f: AnyFixture, o: LawOptions = {}): void {
  forStates(f, o, 8, (s, h, u) => {
    const x = u.pick(h.picks[0]);
    const parts = s.trackAll(x.decompose());
    const n = parts.length;
    const idx = parts.map((_, i) => i);
    expectSame("decompose: parts join to x", joinAll(s, f, parts, idx), x, { x });
    expectSame("decompose: parts join to x", joinAll(s, f, parts, idx.slice().reverse()), x, { x });
    expect("decompose", (n === 0) === x.isBottom, `${n} parts for a state that is${x.isBottom ? "" : " not"} bottom`, { x });
    for (const p of parts) {
      expect("decompose: parts are irreducible", !p.isBottom, "a part is bottom", { x, part: p });
      const pp = s.trackAll(p.decompose());
      expect("decompose: parts are irreducible", pp.length === 1, `a part decomposes into ${pp.length} parts`, { x, part: p });
      expectSame("decompose: parts are irreducible", pp[0], p, { x });
      expect("decompose: parts are below x", p.leq(x), "part ⋢ x", { x, part: p });
    }
    // Without part i: prefix[i] ⊔ suffix[i + 1], O(n) joins.
    const prefix: C[] = [s.track(f.make(REPLICAS[0]))];
    for (let i = 0; i < n; i++) prefix.push(joined(s, prefix[i], parts[i]));
    const suffix: C[] = new Array(n + 1);
    suffix[n] = s.track(f.make(REPLICAS[0]));
    for (let i = n - 1; i >= 0; i--) suffix[i] = joined(s, suffix[i + 1], parts[i]);
    for (let i = 0; i < n; i++) {
      const without = joined(s, prefix[i], suffix[i + 1]);
      expect("decompose: no part is redundant", without.leq(x) && !x.leq(without),
        `dropping part ${i} of ${n} still joins to x`, { x, part: parts[i], without });
    }
  });
}

// delta(a, b) ⊔ b = a ⊔ b, delta(a, b) ⊑ a, and delta(a, b) = ⊥ when a ⊑ b.
export function checkDelta(f: AnyFixture, o: LawOptions = {}): void {
  forStates(f, o, 12, (s, h, u) => {
    const a = u.pick(h.picks[0]), b = u.pick(h.picks[1]);
    const d = s.track(a.delta(b));
    expectSame("delta(a, b) ⊔ b = a ⊔ b", joined(s, d, b), joined(s, a, b), { a, b, delta: d });
    expect("delta(a, b) ⊑ a", d.leq(a), "delta(a, b) ⋢ a", { a, b, delta: d });
    if (a.leq(b)) expect("delta(a, b) = ⊥ when a ⊑ b", d.isBottom, "a ⊑ b but the delta is not bottom", { a, b, delta: d });
    expect("delta(a, a) = ⊥", s.track(a.delta(a)).isBottom, "delta(a, a) is not bottom", { a });
  });
}

// a ⊑ b ⇔ a ⊔ b = b; ⊑ is reflexive; a, b ⊑ a ⊔ b; equals agrees with bytes.
export function checkOrder(f: AnyFixture, o: LawOptions = {}): void {
  const seen = { leq: 0, notLeq: 0 };
  const n = forStates(f, o, 12, (s, h, u) => {
    const a = u.pick(h.picks[0]), b = u.pick(h.picks[1]);
    const ab = joined(s, a, b);
    const leq = a.leq(b);
    if (leq) seen.leq++; else seen.notLeq++;
    expect("a ⊑ b ⇔ a ⊔ b = b", leq === sameBytes(ab.encode(), b.encode()), `leq says ${leq}`, { a, b, join: ab });
    expect("⊑ is reflexive", a.leq(a), "a ⋢ a", { a });
    expect("a ⊑ a ⊔ b", a.leq(ab) && b.leq(ab), "an operand is not below the join", { a, b, join: ab });
    expect("equals agrees with bytes", a.equals(b) === sameBytes(a.encode(), b.encode()), "equals disagrees", { a, b });
    if (leq && b.leq(a)) expectSame("⊑ is antisymmetric", a, b);
  });
  // Not a law: a guard that the generator reaches both answers, so the law above can fail.
  if (n >= 100 && (seen.leq === 0 || seen.notLeq === 0)) {
    throw new LawError("a ⊑ b ⇔ a ⊔ b = b", `the generator only produced ${seen.leq === 0 ? "a ⋢ b" : "a ⊑ b"} pairs`);
  }
}

// merge returns true exactly when the state changed (bytes differ), whether it
// is given an instance, encoded state bytes or a delta-group's bytes; the three
// paths reach the same state.
export function checkMergeReportsChange(f: AnyFixture, o: LawOptions = {}): void {
  forStates(f, o, 12, (s, h, u) => {
    const a = u.pick(h.picks[0]), b = u.pick(h.picks[1]);
    const before = a.encode();
    const x = s.track(a.clone());
    const cx = x.merge(b);
    expect("merge reports change", cx === !sameBytes(before, x.encode()), `merge(instance) returned ${cx}`, { a, b, after: x });
    const y = s.track(a.clone());
    const cy = y.merge(b.encode());
    expect("merge reports change", cy === !sameBytes(before, y.encode()), `merge(bytes) returned ${cy}`, { a, b, after: y });
    expectSame("merge(bytes) = merge(instance)", x, y, { a, b });
    if (u.messages.length > 0) {
      const m = u.messages[h.picks[2] % u.messages.length];
      const z = s.track(a.clone());
      const cz = z.merge(m);
      expect("merge reports change", cz === !sameBytes(before, z.encode()), `merge(delta bytes) returned ${cz}`, { a, delta: m, after: z });
    }
  });
}

// decode(encode(x)) = x (bytes, equals, value, class); the encoding does not
// depend on the owning replica; states reached by different merge orders
// encode identically.
export function checkEncoding(f: AnyFixture, o: LawOptions = {}): void {
  forStates(f, o, 12, (s, h, u) => {
    const x = u.pick(h.picks[0]);
    const bytes = x.encode();
    const y = s.track(decodeState(bytes, x.replica));
    expectSame("decode(encode(x)) = x", y, bytes);
    expect("decode(encode(x)) = x", y.equals(x) && y.constructor === x.constructor, "decoded state differs", { x, y });
    expect("decode(encode(x)) = x", isDeepStrictEqual(f.value(y), f.value(x)),
      `values differ: ${JSON.stringify(f.value(x))} vs ${JSON.stringify(f.value(y))}`, { x });
    expectSame("encoding ignores the owner", s.track(decodeState(bytes, REPLICAS[3])), bytes);
    expectSame("encoding ignores the owner", s.track(x.clone(REPLICAS[2])), bytes);
    // Join the whole pool in three orders: forward, backward, and a permutation.
    const pool = u.pool;
    const perm = pool.map((_, i) => i);
    for (let i = perm.length - 1; i > 0; i--) {
      const j = (h.picks[(i % h.picks.length)] + i * 7) % (i + 1);
      [perm[i], perm[j]] = [perm[j], perm[i]];
    }
    const fwd = joinAll(s, f, pool, pool.map((_, i) => i));
    const bwd = joinAll(s, f, pool, pool.map((_, i) => pool.length - 1 - i));
    const shuf = s.track(f.make(REPLICAS[1]));
    for (const i of perm) shuf.merge(pool[i].encode());
    expectSame("equal states give equal bytes", fwd, bwd);
    expectSame("equal states give equal bytes", fwd, shuf);
    expect("equal states give equal values", isDeepStrictEqual(f.value(fwd), f.value(shuf)), "values differ", { fwd });
  });
}

export const LAWS = {
  "join is commutative": checkCommutative,
  "join is associative": checkAssociative,
  "join is idempotent": checkIdempotent,
  "bottom is the identity": checkBottom,
  "delta mutators: m(x) = x ⊔ mδ(x)": checkDeltaMutators,
  "decompose: joins back, no redundant part, irreducible parts": checkDecompose,
  "delta(a, b) ⊔ b = a ⊔ b and delta(a, b) ⊑ a": checkDelta,
  "leq agrees with join": checkOrder,
  "merge returns true exactly when the state changed": checkMergeReportsChange,
  "decode(encode(x)) = x and equal states give equal bytes": checkEncoding,
} as const;

export function checkLattice(f: AnyFixture, o: LawOptions = {}): void {
  for (const law of Object.values(LAWS)) law(f, o);
}

export interface MorphismOptions extends LawOptions {
  preservesBottom?: boolean; // also check f(⊥) = ⊥ (default true)
}

// What a morphism may map into: a kernel type, or a host-side lattice such as
// the dataflow layer's provenance sets.
export interface LatticeLike<T> { clone(): T; merge(other: T): unknown; encode(): Uint8Array }
export interface BottomOf<T> { make(replica: string): T }

// f is a lattice morphism: f(a ⊔ b) = f(a) ⊔ f(b) (and f(⊥) = ⊥). f returns a
// new instance the checker disposes; it must not change its argument.
export function checkMorphism<I extends C, O extends LatticeLike<O>>(
  fn: (x: I) => O, fin: AnyFixture, fout: AnyFixture | BottomOf<O>, o: MorphismOptions = {},
): void {
  forStates(fin, o, 12, (s, h, u) => {
    const track = <X>(x: X): X => (typeof (x as { dispose?: unknown }).dispose === "function" ? s.track(x as unknown as C) as unknown as X : x);
    const a = u.pick(h.picks[0]) as I, b = u.pick(h.picks[1]) as I;
    const ab = joined(s, a, b) as I;
    const before = [a.encode(), b.encode()];
    const fa = track(fn(a)), fb = track(fn(b)), fab = track(fn(ab));
    expect("f leaves its argument alone", sameBytes(before[0], a.encode()) && sameBytes(before[1], b.encode()), "f changed its argument", { a, b });
    const j = track(fa.clone());
    j.merge(fb);
    expectSame("morphism: f(a ⊔ b) = f(a) ⊔ f(b)", fab.encode(), j.encode(), { a, b, fa: fa.encode(), fb: fb.encode() });
    if (o.preservesBottom !== false) {
      const bot = track(fn(s.track(fin.make(REPLICAS[0])) as I));
      expectSame("morphism: f(⊥) = ⊥", bot.encode(), track((fout as BottomOf<O>).make(REPLICAS[0])).encode());
    }
  });
}

export { TrellisError };
