// Trustless sync for a tab (docs/security.md, "Capabilities in trustless
// nodes"; web/README.md, "Trust"): the server owns every variable of the app;
// the tab asks it for a delegation bound to the tab's key (a request signed
// with that key), signs its changes into envelopes carrying that proof, and
// admits the envelopes it receives only with a capability, as every node does.
// What the tab holds no right for (removing an ad, writing the contracts) it
// never signs: such a change stays in this tab.
import { TrustHub } from "../dist/host/trust/sync.js";
import { Capabilities } from "../dist/host/trust/caps.js";
import { signableFor, followRevocations, revocationRelay } from "../dist/host/trust/gate.js";

// Signed bytes of a delegation request: a fixed prefix, so the signature is
// good for nothing else (not an envelope, a token or a handshake).
export const DELEGATION_PREFIX = "trellis-web-delegation/1\0";
const SEQ = "trellis:trust-seq"; // the store meta record the node uses too (host/cli/node.ts)

const b64 = (b) => btoa(String.fromCharCode(...b));
const unb64 = (s) => Uint8Array.from(atob(s), (c) => c.charCodeAt(0));

// The server's delegation to this tab's key: { owner, proof } (fetched, then
// kept in localStorage so a reload offline still has it), or null.
export async function fetchDelegation(identity) {
  const key = `trellis-delegation-${identity.did}`;
  const kept = localStorage.getItem(key);
  if (kept) {
    try {
      const d = JSON.parse(kept);
      if (d.exp * 1000 > Date.now() + 60_000) return { owner: d.owner, proof: unb64(d.proof), exp: d.exp };
    } catch { /* fetch again */ }
  }
  if (!navigator.onLine) return null;
  const ts = Date.now();
  const sig = await identity.sign(new TextEncoder().encode(`${DELEGATION_PREFIX}${identity.did}\0${ts}`));
  const res = await fetch(new URL("/app-api/delegation", location.href), {
    method: "POST", headers: { "content-type": "application/json" },
    body: JSON.stringify({ did: identity.did, ts, sig: b64(sig) }),
  }).catch(() => null);
  if (!res?.ok) return null;
  const d = await res.json();
  localStorage.setItem(key, JSON.stringify(d));
  return { owner: d.owner, proof: unb64(d.proof), exp: d.exp };
}

// Opens the tab's TrustHub over its runtime and store (its envelope log and
// own sequence number live there, so a reload continues its chain). Without
// a delegation (offline, and the kept one expired) the tab still runs: its
// changes stay local and are signed at a later load that has one.
export async function openTrust(rt, identity, store, onError = (e) => console.warn(e)) {
  let d = await fetchDelegation(identity);
  // The owner is the server's key: kept apart, it does not expire.
  const owner = d?.owner ?? localStorage.getItem("trellis-owner");
  if (!owner) throw new Error("the server's key is unknown: this page needs the network at its first load");
  localStorage.setItem("trellis-owner", owner);
  if (!d) addEventListener("online", async () => { d ??= await fetchDelegation(identity).catch(() => null); }, { once: true });
  const caps = new Capabilities({ owners: { "*": owner } });
  const proof = () => d?.proof;
  await followRevocations(rt, caps, onError);
  const hub = await TrustHub.open(rt, {
    identity, authorize: caps.authorize, proof,
    signable: signableFor(caps, identity.did, proof, rt.kernel),
    revocations: revocationRelay(rt, caps),
    store: {
      envelopes: () => store.envelopes(),
      putEnvelope: (b) => store.appendEnvelope(b),
      ownSeq: () => Number(new TextDecoder().decode(store.meta.get(SEQ) ?? new Uint8Array())) || 0,
      setOwnSeq: (n) => store.meta.put(SEQ, new TextEncoder().encode(String(n))),
    },
    onError,
  });
  await caps.addRevocations(rt.encode("trellis/revocations")).catch(onError);
  return { hub, caps, owner, get proof() { return d?.proof; } };
}
