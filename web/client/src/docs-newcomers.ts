// Keys for newcomers from the browser (review finding 6; the Go CLI's
// `parley doc keys`, client.WrapForNewcomers): when a mediator opens the
// documents view, their device gives the content keys it holds to the
// devices of each end-to-end encrypted document's audience that have no
// copy yet (a member's new device, a newly assigned mediator, a newly
// joined lawyer), after the same checks as a share:
//   - the key is one this device opens from a wrap that checks out against
//     the verified membership chain and key directory, and against the
//     name and type the server shows (a relabelled document gets nothing);
//   - the audience is the one the signed wrap names, and must be the one
//     the server reports (a server that reports a caucus document as joint
//     gets no wrap for the other side's devices); that wrap must be no
//     older than the newest of the version this device opened or made
//     (pinned in IndexedDB: a server serving the wrap from before a
//     narrowing again, with the wider audience it names, gets nothing);
//   - this device's account is in that audience in the latest verified
//     statement, and the new copies go only to the active devices of the
//     audience's members as that statement and the directory list them;
//   - the new wrap carries the binding of the wrap it came from.
// Nothing the server or an administrator does alone gives a device a key:
// only a device that holds one wraps it, and only for the signed audience.
import { APIError, casePath } from "./api";
import type { Document } from "./api";
import { audienceMembers, decodeDocKey, DocSession, pickDocKey, RelabelledError, rolledBack, wrapForAudience } from "./docs-e2ee";
import { unb64 } from "./wire";
import * as W from "./wire_gen";

/**
 * What a pass did: new copies for how many devices (of which accounts), of
 * how many documents (named as the server shows them, which the keys'
 * signed binding checked when they bind one); which documents it refused.
 */
export interface NewcomerResult { devices: number; documents: number; names: string[]; refused: string[]; failed: string[]; accounts: string[] }

async function getJSON<T>(path: string): Promise<T> {
  const res = await fetch(path, { credentials: "same-origin" });
  if (!res.ok) throw new APIError(res.status, await res.json().catch(() => ({})));
  return await res.json() as T;
}

function b64std(b: Uint8Array): string {
  let s = "";
  for (let i = 0; i < b.length; i += 0x8000) s += String.fromCharCode(...b.subarray(i, i + 0x8000));
  return btoa(s);
}

/**
 * Gives every end-to-end encrypted document in list that this device holds
 * keys for to the devices of its signed audience that lack a copy (see the
 * file's comment for the checks). A document it cannot check is left alone
 * and, when the server misdescribes it (name or audience), named in refused.
 */
export async function wrapForNewcomers(caseID: string, sess: DocSession, list: Document[]): Promise<NewcomerResult> {
  const out: NewcomerResult = { devices: 0, documents: 0, names: [], refused: [], failed: [], accounts: [] };
  const accounts = new Set<string>();
  const st = sess.chain.latest();
  if (!st) return out;
  const signed = st;
  const given = new Set<string>();
  // The newest wrap of each version this device opened or made (review 394 M2).
  const pins = await sess.wrapPins.load();
  for (const item of list) {
    if (!item.canDownload || !item.e2ee) continue;
    const docPath = `${casePath(caseID)}/documents/${encodeURIComponent(item.id)}`;
    // One document that fails (the server, the connection) is named and
    // the others go on; the next pass tries it again.
    try {
      await giveOne(docPath);
    } catch (e) {
      if (e instanceof RelabelledError || (e instanceof Error && e.message === "audience")) out.refused.push(item.name ?? "a document");
      else out.failed.push(item.name ?? "a document");
    }
  }
  out.devices = given.size;
  out.accounts = [...accounts];
  return out;

  async function giveOne(docPath: string): Promise<void> {
    const d = await getJSON<Document>(docPath);
    const wraps: W.VersionWrap[] = [];
    const gaining = new Set<string>();
    const gainers = new Set<string>();
    try {
      for (const v of d.versions ?? []) {
        if (!v.e2ee || v.erased) continue;
        const keys = await getJSON<W.DocumentKeys>(`${docPath}/keys?version=${v.version}`);
        if (keys.version !== v.version) continue;
        const raw = (keys.wraps ?? []).map((w) => unb64(w));
        const got = await pickDocKey(sess, d.id, v.version, v.name ?? "", v.mediaType ?? "", raw);
        if (!got) continue; // this device holds no key of it to give
        try {
          // A wrap older than the newest this device saw of the version (one from before a narrowing, served again
          // with the wider audience it names) is refused: the audience is the one the newest signed wrap names.
          if (rolledBack(pins, got.wrap.ctx)) throw new Error("audience");
          await sess.wrapPins.save([got.wrap.ctx]);
          const aud = got.wrap.ctx.audience;
          if (aud !== d.audience) throw new Error("audience");
          let members: string[];
          try { members = audienceMembers(signed, aud); } catch { continue; } // an audience the latest statement no longer has
          if (!members.includes(sess.me.account)) continue; // not ours to give
          const have = new Set<string>();
          for (const w of raw) {
            try { for (const r of decodeDocKey(w).recipients) have.add(r.device); } catch { /* not a wrap: holds nothing */ }
          }
          const missing = members.flatMap((m) => sess.dir.active(m)).filter((x) => !have.has(x.id));
          if (missing.length === 0) continue;
          const wrap = await wrapForAudience(sess, d.id, v.version, aud, got.wrap.ctx.name, got.key, missing.map((x) => x.id));
          wraps.push({ version: v.version, wrap: b64std(wrap) });
          for (const x of missing) { gaining.add(x.id); gainers.add(x.account); }
        } finally {
          got.key.fill(0);
        }
      }
    } catch (e) {
      if (e instanceof RelabelledError || (e instanceof Error && e.message === "audience")) { out.refused.push(d.name ?? "a document"); return; }
      throw e;
    }
    if (wraps.length === 0) return;
    const res = await fetch(`${docPath}/keys`, {
      method: "POST", credentials: "same-origin", headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ wraps } satisfies W.DocumentKeysRequest),
    });
    if (!res.ok) throw new APIError(res.status, await res.json().catch(() => ({})));
    // Not pinned: the wraps made here go only to devices that lacked a copy, not to this one (its own copy, pinned
    // above, names the same audience); pinned, every later pass refused the version (review 404 M1).
    out.documents++;
    out.names.push(d.name ?? "a document");
    for (const id of gaining) given.add(id);
    for (const a of gainers) accounts.add(a);
  }
}

/** A pass in words (who: how the viewer reads a person), or "" when it did nothing to say. */
export function newcomerWords(r: NewcomerResult, who: (account: string) => string): string {
  const n = (k: number, one: string, many: string) => `${k} ${k === 1 ? one : many}`;
  const parts: string[] = [];
  if (r.documents > 0) {
    parts.push(`This device gave the keys to ${n(r.documents, "document", "documents")} (${r.names.map((x) => `“${x}”`).join(", ")}) ` +
      `to ${n(r.devices, "new device", "new devices")} of ${r.accounts.map(who).join(", ")}. ` +
      `The case's signed membership lists ${r.accounts.length === 1 ? "that person" : "them"} among the people ${r.documents === 1 ? "this document is" : "these documents are"} for, ` +
      `so ${r.devices === 1 ? "that device" : "those devices"} can now open ${r.documents === 1 ? "it" : "them"}.`);
  }
  if (r.refused.length) {
    parts.push(`${parts.length ? "It" : "This device"} gave no keys to ${r.refused.map((x) => `“${x}”`).join(", ")}: the server describes ${r.refused.length === 1 ? "it" : "them"} differently from ${r.refused.length === 1 ? "its" : "their"} signed keys. Tell your program's administrator.`);
  }
  if (r.failed.length) {
    parts.push(`${parts.length ? "It" : "This device"} could not give the keys to ${r.failed.map((x) => `“${x}”`).join(", ")} just now (the server did not answer as expected); it tries again on its own.`);
  }
  return parts.join(" ");
}
