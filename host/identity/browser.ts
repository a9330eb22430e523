// A browser tab's identity, kept in IndexedDB (database "trellis-identity",
// one record per name): a non-extractable WebCrypto key pair where WebCrypto
// has Ed25519, else (older browsers) a @noble/ed25519 secret stored as bytes.
import { Identity } from "./identity.js";
import { IdentityError } from "./errors.js";

const DB = "trellis-identity";
const STORE = "keys";

type Record_ = { pair?: CryptoKeyPair; secret?: Uint8Array };

function req<T>(r: IDBRequest<T>): Promise<T> {
  return new Promise((resolve, reject) => { r.onsuccess = () => resolve(r.result); r.onerror = () => reject(r.error); });
}

async function open(): Promise<IDBDatabase> {
  const r = indexedDB.open(DB, 1);
  r.onupgradeneeded = () => { r.result.createObjectStore(STORE); };
  return req(r);
}

// The identity stored under `name`, made (and stored) if there is none.
export async function loadBrowserIdentity(name: string): Promise<Identity> {
  let db: IDBDatabase;
  try { db = await open(); } catch (e) { throw new IdentityError("STORE", `IndexedDB: ${(e as Error)?.message}`, e); }
  try {
    const got = await req(db.transaction(STORE).objectStore(STORE).get(name)) as Record_ | undefined;
    if (got?.pair) return await Identity.fromKeyPair(got.pair);
    if (got?.secret) return await Identity.fromSeed(got.secret, { backend: "noble" });
    const id = await Identity.generate();
    const rec: Record_ = id.keyPair ? { pair: id.keyPair } : { secret: id.exportSecret() };
    const tx = db.transaction(STORE, "readwrite");
    // add, not put: if another tab raced us to the same name, its key wins.
    tx.objectStore(STORE).add(rec, name);
    try {
      await new Promise<void>((resolve, reject) => { tx.oncomplete = () => resolve(); tx.onerror = () => reject(tx.error); tx.onabort = () => reject(tx.error); });
    } catch {
      return loadBrowserIdentity(name);
    }
    return id;
  } finally {
    db.close();
  }
}
