// The WASI build: the same kernel ABI as a reactor. (Command mode: see cli.ts.)
export * from "./index";
