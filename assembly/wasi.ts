// The WASI reactor (dist/trellis-wasi.wasm, `_initialize`): the same kernel ABI
// as the Node build. The command (`_start`) is a separate module, cli.ts,
// because a WASI module is either a reactor or a command (docs/abi.md).
export * from "./index";
