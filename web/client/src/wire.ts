// The binary encoding of every parley-e2ee-v1 object (docs/protocol.md,
// "Encoding"): "PE" version type, then fields of u32be length + value.
// Decoders refuse missing or extra fields, wrong integer widths and invalid
// UTF-8, exactly as package e2ee does, so each object has one encoding.

export const Version = 1;
export const TypeDevice = 0x01;
export const TypeStatement = 0x02;
export const TypeKeyDist = 0x03;
export const TypeMessage = 0x04;
export const TypePlaintext = 0x05;
export const TypeRevocation = 0x06;
export const TypeEndorse = 0x07;
export const TypeKeyShare = 0x08;
export const TypeShared = 0x09;
/** A sealed room's entry (Go: e2ee.TypeRoomEntry). */
export const TypeRoomEntry = 0x0b;

export const typeNames: Record<number, string> = {
  1: "device", 2: "statement", 3: "keydist", 4: "message", 5: "plaintext", 6: "revocation", 7: "endorsement", 8: "keyshare", 9: "shared-chains", 11: "room-entry",
};

export const MaxPayload = 48 << 10;
export const MaxStatement = 64 << 10;
export const MaxDeviceRecord = 4 << 10;
export const maxString = 128;
export const maxList = 4096;

/** Every error the protocol code throws names the check that failed. */
export class E2EEError extends Error {
  constructor(public kind: string, detail: string) {
    super(`e2ee: ${kind}: ${detail}`);
  }
}
export const malformed = (d: string) => new E2EEError("malformed object", d);

const enc = new TextEncoder();
const dec = new TextDecoder("utf-8", { fatal: true });

export function utf8(s: string): Uint8Array { return enc.encode(s); }

export function concat(...parts: Uint8Array[]): Uint8Array {
  let n = 0;
  for (const p of parts) n += p.length;
  const out = new Uint8Array(n);
  let o = 0;
  for (const p of parts) { out.set(p, o); o += p.length; }
  return out;
}

export function hex(b: Uint8Array): string {
  return Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
}

export function unhex(s: string): Uint8Array {
  const out = new Uint8Array(s.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(s.substr(i * 2, 2), 16);
  return out;
}

export function b64(b: Uint8Array): string {
  let s = "";
  for (let i = 0; i < b.length; i += 0x8000) s += String.fromCharCode(...b.subarray(i, i + 0x8000));
  return btoa(s);
}

export function unb64(s: string): Uint8Array {
  const bin = atob(s);
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

export function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let d = 0;
  for (let i = 0; i < a.length; i++) d |= a[i] ^ b[i];
  return d === 0;
}

/** label(t) = "parley/e2ee/v1/<name>\x00". */
export function label(t: number): Uint8Array { return utf8(`parley/e2ee/v1/${typeNames[t]}\x00`); }

export class Writer {
  private parts: Uint8Array[] = [];
  constructor(t?: number) {
    if (t !== undefined) this.parts.push(new Uint8Array([0x50, 0x45, Version, t]));
  }
  bytes(v: Uint8Array): this {
    const h = new Uint8Array(4);
    new DataView(h.buffer).setUint32(0, v.length);
    this.parts.push(h, v);
    return this;
  }
  str(s: string): this { return this.bytes(utf8(s)); }
  u8(v: number): this { return this.bytes(new Uint8Array([v])); }
  u16(v: number): this { const b = new Uint8Array(2); new DataView(b.buffer).setUint16(0, v); return this.bytes(b); }
  u32(v: number): this { const b = new Uint8Array(4); new DataView(b.buffer).setUint32(0, v); return this.bytes(b); }
  u64(v: bigint | number): this {
    const b = new Uint8Array(8);
    new DataView(b.buffer).setBigUint64(0, BigInt(v));
    return this.bytes(b);
  }
  list<T>(items: T[], elem: (e: Writer, item: T) => void): this {
    const inner = new Writer();
    for (const it of items) {
      const e = new Writer();
      elem(e, it);
      inner.bytes(e.done());
    }
    return this.bytes(inner.done());
  }
  strs(ss: string[]): this { return this.list(ss, (e, s) => e.str(s)); }
  done(): Uint8Array { return concat(...this.parts); }
}

export class Reader {
  off = 0;
  constructor(public b: Uint8Array) {}

  static object(data: Uint8Array, t: number, max: number): Reader {
    if (data.length > max) throw malformed(`${typeNames[t]} over ${max} bytes`);
    if (data.length < 4 || data[0] !== 0x50 || data[1] !== 0x45) throw malformed("not a protocol object");
    if (data[2] !== Version) throw malformed(`version ${data[2]}, want ${Version}`);
    if (data[3] !== t) throw malformed(`type ${data[3]}, want ${typeNames[t]}`);
    const r = new Reader(data);
    r.off = 4;
    return r;
  }

  bytes(what: string): Uint8Array {
    if (this.b.length - this.off < 4) throw malformed(`${what}: missing`);
    const n = new DataView(this.b.buffer, this.b.byteOffset + this.off, 4).getUint32(0);
    if (n > this.b.length - this.off - 4) throw malformed(`${what}: length ${n} past the end`);
    const v = this.b.subarray(this.off + 4, this.off + 4 + n);
    this.off += 4 + n;
    return v;
  }
  fixed(what: string, n: number): Uint8Array {
    const v = this.bytes(what);
    if (v.length !== n) throw malformed(`${what}: ${v.length} bytes, want ${n}`);
    return v;
  }
  str(what: string, max: number): string {
    const v = this.bytes(what);
    if (v.length > max) throw malformed(`${what}: not UTF-8 of at most ${max} bytes`);
    try { return dec.decode(v); } catch { throw malformed(`${what}: not UTF-8 of at most ${max} bytes`); }
  }
  id(what: string): string {
    const s = this.str(what, maxString);
    if (s === "") throw malformed(`${what}: empty`);
    for (let i = 0; i < s.length; i++) {
      const c = s.charCodeAt(i);
      if (c <= 0x20 || c > 0x7e) throw malformed(`${what}: not a printable identifier`);
    }
    return s;
  }
  u8(what: string): number { return this.fixed(what, 1)[0]; }
  u16(what: string): number { const v = this.fixed(what, 2); return (v[0] << 8) | v[1]; }
  u32(what: string): number { const v = this.fixed(what, 4); return new DataView(v.buffer, v.byteOffset, 4).getUint32(0); }
  u64(what: string): bigint { const v = this.fixed(what, 8); return new DataView(v.buffer, v.byteOffset, 8).getBigUint64(0); }
  /** A non-negative int64 (at most 2^62), as a JS number when safe. */
  i64(what: string): number {
    const v = this.u64(what);
    if (v > 1n << 62n) throw malformed(`${what}: out of range`);
    if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw malformed(`${what}: beyond what this client handles`);
    return Number(v);
  }
  list(what: string, elem: (e: Reader) => void): void {
    const inner = new Reader(this.bytes(what));
    let n = 0;
    while (inner.off < inner.b.length) {
      if (++n > maxList) throw malformed(`${what}: more than ${maxList} elements`);
      const e = new Reader(inner.bytes(what));
      elem(e);
      e.end(what);
    }
  }
  strs(what: string, elem: (e: Reader) => string): string[] {
    const out: string[] = [];
    this.list(what, (e) => out.push(elem(e)));
    return out;
  }
  end(what: string): void {
    if (this.off !== this.b.length) throw malformed(`${what}: ${this.b.length - this.off} trailing bytes`);
  }
}
