// Every type's fixture, found by file name so a new type is covered by the
// shared suites with no edit here (test/fixtures/<name>.ts exporting `fixture`).
import type { Crdt } from "../../dist/host/index.node.js";
import type { Fixture } from "../fixtures/fixture.js";

export type AnyFixture = Fixture<Crdt<unknown>, unknown, unknown>;

const modules = import.meta.glob("../fixtures/*.ts", { eager: true }) as Record<string, { fixture?: AnyFixture }>;

export const fixtures: AnyFixture[] = Object.entries(modules)
  .filter(([path]) => !path.endsWith("/fixture.ts"))
  .map(([path, m]) => {
    if (!m.fixture) throw new Error(`${path} does not export \`fixture\``);
    return m.fixture;
  })
  .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));

export const fixtureNames = fixtures.map((f) => f.name);

export function fixtureNamed(name: string): AnyFixture | undefined {
  return fixtures.find((f) => f.name === name);
}
