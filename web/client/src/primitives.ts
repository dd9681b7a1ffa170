// Cryptographic primitives, all through WebCrypto (crypto.subtle) except
// HPKE, which is @hpke/core (itself on WebCrypto for X25519, HKDF and
// AES-GCM) with @hpke/hybridkem-x-wing for X-Wing (ML-KEM-768 has no
// WebCrypto algorithm yet).
import { Aes256Gcm, CipherSuite, DhkemX25519HkdfSha256, HkdfSha256 } from "@hpke/core";
import { XWing } from "@hpke/hybridkem-x-wing";
import { concat, E2EEError, utf8 } from "./wire";

export const subtle = globalThis.crypto.subtle;

// Accepts any Uint8Array as a BufferSource (TypeScript's lib is picky about
// ArrayBufferLike).
export const buf = (b: Uint8Array): ArrayBuffer =>
  (b.byteOffset === 0 && b.byteLength === b.buffer.byteLength ? b.buffer : b.slice().buffer) as ArrayBuffer;

export function random(n: number): Uint8Array {
  return globalThis.crypto.getRandomValues(new Uint8Array(n));
}

export async function sha256(b: Uint8Array): Promise<Uint8Array> {
  return new Uint8Array(await subtle.digest("SHA-256", buf(b)));
}

export async function sha512(b: Uint8Array): Promise<Uint8Array> {
  return new Uint8Array(await subtle.digest("SHA-512", buf(b)));
}

/** HKDF-Expand (RFC 5869) with SHA-256, from HMAC: WebCrypto's HKDF always extracts first. */
export async function hkdfExpand(prk: Uint8Array, info: string, length: number): Promise<Uint8Array> {
  const key = await subtle.importKey("raw", buf(prk), { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
  const infoB = utf8(info);
  let t = new Uint8Array(0);
  const out: Uint8Array[] = [];
  for (let i = 1, n = 0; n < length; i++) {
    t = new Uint8Array(await subtle.sign("HMAC", key, buf(concat(t, infoB, new Uint8Array([i])))));
    out.push(t);
    n += t.length;
  }
  return concat(...out).slice(0, length);
}

/** Message key i's AES key and nonce, and chain key i+1. */
export async function ratchet(ck: Uint8Array): Promise<{ key: Uint8Array; nonce: Uint8Array; next: Uint8Array }> {
  const mk = await hkdfExpand(ck, "parley/e2ee/v1/message-key", 44);
  const next = await hkdfExpand(ck, "parley/e2ee/v1/chain-key", 32);
  return { key: mk.slice(0, 32), nonce: mk.slice(32), next };
}

async function aesKey(key: Uint8Array, use: KeyUsage): Promise<CryptoKey> {
  return subtle.importKey("raw", buf(key), "AES-GCM", false, [use]);
}

export async function aesSeal(key: Uint8Array, nonce: Uint8Array, pt: Uint8Array, aad: Uint8Array): Promise<Uint8Array> {
  return new Uint8Array(await subtle.encrypt({ name: "AES-GCM", iv: buf(nonce), additionalData: buf(aad) }, await aesKey(key, "encrypt"), buf(pt)));
}

export async function aesOpen(key: Uint8Array, nonce: Uint8Array, ct: Uint8Array, aad: Uint8Array): Promise<Uint8Array | null> {
  try {
    return new Uint8Array(await subtle.decrypt({ name: "AES-GCM", iv: buf(nonce), additionalData: buf(aad) }, await aesKey(key, "decrypt"), buf(ct)));
  } catch {
    return null;
  }
}

// Ed25519.
const ed25519PKCS8 = new Uint8Array([0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04, 0x20]);
const x25519PKCS8 = new Uint8Array([0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x6e, 0x04, 0x22, 0x04, 0x20]);

/** Imports an Ed25519 seed as a non-extractable signing key (test vectors, and nothing else). */
export async function ed25519FromSeed(seed: Uint8Array): Promise<{ priv: CryptoKey; pub: Uint8Array }> {
  const priv = await subtle.importKey("pkcs8", buf(concat(ed25519PKCS8, seed)), "Ed25519", true, ["sign"]);
  // The public key comes from the JWK's x; the extractable copy is dropped at once.
  const jwk = await subtle.exportKey("jwk", priv);
  const pub = b64urlDecode(jwk.x!);
  const fixed = await subtle.importKey("pkcs8", buf(concat(ed25519PKCS8, seed)), "Ed25519", false, ["sign"]);
  return { priv: fixed, pub };
}

export async function ed25519Generate(): Promise<{ priv: CryptoKey; pub: Uint8Array }> {
  const kp = (await subtle.generateKey("Ed25519", false, ["sign", "verify"])) as CryptoKeyPair;
  return { priv: kp.privateKey, pub: new Uint8Array(await subtle.exportKey("raw", kp.publicKey)) };
}

export async function ed25519Sign(priv: CryptoKey, msg: Uint8Array): Promise<Uint8Array> {
  return new Uint8Array(await subtle.sign("Ed25519", priv, buf(msg)));
}

export async function ed25519Verify(pub: Uint8Array, msg: Uint8Array, sig: Uint8Array): Promise<boolean> {
  if (sig.length !== 64 || pub.length !== 32) return false;
  try {
    const k = await subtle.importKey("raw", buf(pub), "Ed25519", false, ["verify"]);
    return await subtle.verify("Ed25519", k, buf(sig), buf(msg));
  } catch {
    return false;
  }
}

function b64urlDecode(s: string): Uint8Array {
  const bin = atob(s.replace(/-/g, "+").replace(/_/g, "/") + "===".slice((s.length + 3) % 4));
  return Uint8Array.from(bin, (c) => c.charCodeAt(0));
}

// HPKE: KEM (X-Wing 0x647a or DHKEM(X25519) 0x0020), HKDF-SHA256, AES-256-GCM, base mode.
export const KEMXWing = 0x647a;
export const KEMX25519 = 0x0020;

const xwing = new XWing();
const suites: Record<number, CipherSuite> = {
  [KEMXWing]: new CipherSuite({ kem: xwing, kdf: new HkdfSha256(), aead: new Aes256Gcm() }),
  [KEMX25519]: new CipherSuite({ kem: new DhkemX25519HkdfSha256(), kdf: new HkdfSha256(), aead: new Aes256Gcm() }),
};

export function publicKeySize(kem: number): number {
  return kem === KEMXWing ? 1216 : kem === KEMX25519 ? 32 : -1;
}

export function encLen(kem: number): number {
  return kem === KEMXWing ? 1120 : kem === KEMX25519 ? 32 : -1;
}

export function kemName(kem: number): string {
  return kem === KEMXWing ? "X-Wing" : kem === KEMX25519 ? "X25519" : `KEM 0x${kem.toString(16).padStart(4, "0")}`;
}

function suite(kem: number): CipherSuite {
  const s = suites[kem];
  if (!s) throw new E2EEError("unsupported KEM", kemName(kem));
  return s;
}

/**
 * A device's HPKE private key. For X25519 it is a WebCrypto key pair whose
 * private half is non-extractable. For X-Wing (not in WebCrypto) it is the
 * 32-byte seed inside @hpke/hybridkem-x-wing's key object: script memory.
 */
export type KEMPrivate = { kem: number; key: CryptoKeyPair | CryptoKey; pub: Uint8Array };

/** X25519 from its scalar (vectors), or fresh, non-extractable either way. */
export async function x25519FromScalar(scalar: Uint8Array): Promise<KEMPrivate> {
  const priv = await subtle.importKey("pkcs8", buf(concat(x25519PKCS8, scalar)), "X25519", false, ["deriveBits"]);
  return x25519Pair(priv);
}

/** An X25519 KEM key from a stored non-extractable private CryptoKey. */
export async function x25519FromKey(priv: CryptoKey): Promise<KEMPrivate> {
  return x25519Pair(priv);
}

async function x25519Pair(priv: CryptoKey): Promise<KEMPrivate> {
  const base = new Uint8Array(32);
  base[0] = 9;
  const bp = await subtle.importKey("raw", buf(base), "X25519", true, []);
  const pub = new Uint8Array(await subtle.deriveBits({ name: "X25519", public: bp } satisfies EcdhKeyDeriveParams, priv, 256));
  const publicKey = await subtle.importKey("raw", buf(pub), "X25519", true, []);
  return { kem: KEMX25519, key: { privateKey: priv, publicKey }, pub };
}

export async function x25519Generate(): Promise<KEMPrivate> {
  const kp = (await subtle.generateKey("X25519", false, ["deriveBits"])) as CryptoKeyPair;
  return x25519Pair(kp.privateKey);
}

/** X-Wing from its 32-byte seed (expanded per draft-ietf-hpke-pq; never DeriveKeyPair). */
export async function xwingFromSeed(seed: Uint8Array): Promise<KEMPrivate> {
  const kp = await xwing.generateKeyPairDerand(seed.slice());
  const pub = new Uint8Array(await xwing.serializePublicKey(kp.publicKey));
  return { kem: KEMXWing, key: kp, pub };
}

export async function hpkeSeal(kem: number, pub: Uint8Array, info: Uint8Array, pt: Uint8Array): Promise<Uint8Array> {
  const s = suite(kem);
  const pk = await s.kem.deserializePublicKey(buf(pub));
  const sender = await s.createSenderContext({ recipientPublicKey: pk, info: buf(info) });
  const ct = new Uint8Array(await sender.seal(buf(pt)));
  return concat(new Uint8Array(sender.enc), ct);
}

export async function hpkeOpen(me: KEMPrivate, info: Uint8Array, sealed: Uint8Array): Promise<Uint8Array | null> {
  const s = suite(me.kem);
  const n = encLen(me.kem);
  try {
    const r = await s.createRecipientContext({ recipientKey: me.key, enc: buf(sealed.slice(0, n)), info: buf(info) });
    return new Uint8Array(await r.open(buf(sealed.slice(n))));
  } catch {
    return null;
  }
}

/** Checks a public key parses for its KEM. */
export async function checkPublicKey(kem: number, pub: Uint8Array): Promise<boolean> {
  if (pub.length !== publicKeySize(kem)) return false;
  try {
    await suite(kem).kem.deserializePublicKey(buf(pub));
    return true;
  } catch {
    return false;
  }
}
