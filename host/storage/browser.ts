// trellis/storage in a browser: a Store on browser-level (IndexedDB).
// IndexedDB decides durability itself: a batch is acknowledged when its
// transaction completes (see docs/storage.md).
import { BrowserLevel } from "browser-level";
import { Store, type StoreOptions } from "./store.js";

export * from "./index.js";

export async function openBrowserStore(name: string, opts: StoreOptions = {}): Promise<Store> {
  const db = new BrowserLevel<Uint8Array, Uint8Array>(name, { keyEncoding: "view", valueEncoding: "view" });
  await db.open();
  try {
    return await Store.open(db, opts);
  } catch (e) {
    await db.close().catch(() => {});
    throw e;
  }
}
