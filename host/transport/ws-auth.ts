// The authenticated WebSocket handshake (docs/ws.md, docs/security.md), shared
// by the server and the browser-safe client: no Node built-ins, no packages.
// Keys and signatures come from a PeerIdentity (host/identity), passed in.
//
//   client → server  auth       nonceC, didC
//   server → client  challenge  nonceS, sigS, didS    sigS = sign_S(transcript("server"))
//   client → server  proof      sigC                  sigC = sign_C(transcript("client"))
//   server → client  hello      didS                  (accepted: the connection is up)
//
// The transcript binds both fresh nonces and both dids, and a role byte so a
// signature made as one side cannot be reflected as the other. A recorded
// proof is useless on another connection: the server's nonce differs.
import { NONCE_BYTES, encodeFrame, AUTH_VERSION } from "./ws-frame.js";

export type { PeerIdentity } from "../identity/identity.js";

const LABEL = new TextEncoder().encode("trellis-ws-auth/1\0");
const utf8 = new TextEncoder();
export const Role = { server: 1, client: 2 } as const;

export function transcript(role: "server" | "client", nonceC: Uint8Array, nonceS: Uint8Array, didS: string, didC: string): Uint8Array {
  const s = utf8.encode(didS), c = utf8.encode(didC);
  const out = new Uint8Array(LABEL.length + 1 + 2 * NONCE_BYTES + 2 + s.length + c.length);
  let o = 0;
  out.set(LABEL, o); o += LABEL.length;
  out[o++] = Role[role];
  out.set(nonceC, o); o += NONCE_BYTES;
  out.set(nonceS, o); o += NONCE_BYTES;
  out[o++] = s.length; out.set(s, o); o += s.length;
  out[o++] = c.length; out.set(c, o);
  return out;
}

export function nonce(): Uint8Array { return globalThis.crypto.getRandomValues(new Uint8Array(NONCE_BYTES)); }

export function encodeAuth(n: Uint8Array, did: string): Uint8Array {
  const d = utf8.encode(did);
  const b = new Uint8Array(1 + NONCE_BYTES + d.length);
  b[0] = AUTH_VERSION; b.set(n, 1); b.set(d, 1 + NONCE_BYTES);
  return encodeFrame("auth", b);
}

export function encodeChallenge(n: Uint8Array, sig: Uint8Array, did: string): Uint8Array {
  const d = utf8.encode(did);
  const b = new Uint8Array(NONCE_BYTES + sig.length + d.length);
  b.set(n); b.set(sig, NONCE_BYTES); b.set(d, NONCE_BYTES + sig.length);
  return encodeFrame("challenge", b);
}

export const encodeProof = (sig: Uint8Array): Uint8Array => encodeFrame("proof", sig);
