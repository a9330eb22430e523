// as-pect unit tests of kernel internals (npm run test:kernel). Specs assert on
// primitives and std types only: as-pect 8.1 cannot reflect user classes on
// AssemblyScript 0.28 (DESIGN.md, "Toolchain facts").
module.exports = {
  entries: ["assembly/__tests__/**/*.spec.ts"],
  include: ["assembly/__tests__/**/*.include.ts"],
  disclude: [/node_modules/],
  async instantiate(memory, createImports, instantiate, binary) {
    return instantiate(binary, createImports({ env: { memory } }));
  },
  outputBinary: false,
};
