// The Parley HTTP API, same origin, with the HttpOnly session cookie (no
// script ever sees the session token).
import { b64, unb64 } from "./wire";

export class APIError extends Error {
  constructor(public status: number, public problem: { title?: string; detail?: string; type?: string }) {
    super(problem.title ? `${problem.title}${problem.detail ? ": " + problem.detail : ""}` : `HTTP ${status}`);
  }
}

export async function call<T>(method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<T> {
  const init: RequestInit = { method, credentials: "same-origin", headers: { ...headers } };
  if (body !== undefined) {
    init.body = JSON.stringify(body);
    (init.headers as Record<string, string>)["Content-Type"] = "application/json";
  }
  const res = await fetch(path, init);
  if (res.status === 204) return undefined as T;
  const text = await res.text();
  let json: any = {};
  try { json = text ? JSON.parse(text) : {}; } catch { /* not JSON */ }
  if (!res.ok) throw new APIError(res.status, json);
  return json as T;
}

export const casePath = (id: string) => "/api/v1/cases/" + encodeURIComponent(id);

export interface Account { id: string; email?: string; name: string; role: string }
export interface Side { id: string; label: string }
export interface Mediator { accountId: string; name: string; recused?: string }
export interface Participant { accountId: string; name: string; role: string; side?: string }
export interface Case { id: string; title: string; stage: string; sides: Side[]; mediators: Mediator[]; participants: Participant[] }
export interface Listed { id: string; title?: string; relation: string; stage: string }
export interface RoomView { name: string; kind: string; side?: string; audience: string; members: string[]; present: string[] }
export interface Pos { epoch: number; offset: number }
export interface WireMessage { epoch: number; offset: number; id: string; from: string; at: number; kind?: string; body: string }
export interface HistoryPage { messages: WireMessage[]; next: Pos }
export interface Logged { record: string; index: number; entry: string; proof: string[] }
export interface Proven { key: string; checkpoint: string; consistency?: string[]; devices?: Logged[]; revocations?: Logged[]; statements?: Logged[] }
export interface Document {
  id: string; name?: string; mediaType?: string; class: string; audience: string; version: number; size: number;
  uploader: string; created: string; canDownload: boolean; held?: boolean;
}
export interface SharePerson { accountId: string; name: string; role: string; side?: string }
export interface ShareResult { document: Document; from: string; to: string; gaining: SharePerson[]; losing: SharePerson[]; dryRun: boolean; changed: boolean }

export const api = {
  me: () => call<Account>("GET", "/api/v1/me"),
  login: (email: string, password: string) => call<{ account: Account }>("POST", "/api/v1/session", { email, password }),
  logout: () => call<void>("DELETE", "/api/v1/session"),
  redeem: (token: string) => call<{ account: Account; caseId: string }>("POST", "/api/v1/invites/redeem", { token }),
  cases: () => call<Listed[]>("GET", "/api/v1/cases"),
  getCase: (id: string) => call<Case>("GET", casePath(id)),
  rooms: (id: string) => call<RoomView[]>("GET", casePath(id) + "/rooms"),
  history: (id: string, room: string, after: Pos) =>
    call<HistoryPage>("GET", `${casePath(id)}/rooms/${encodeURIComponent(room).replace(/%3A/g, ":")}/messages?epoch=${after.epoch}&offset=${after.offset}&limit=500`),
  registerDevice: (record: Uint8Array, since: number) => call<Proven>("POST", "/api/v1/keys/devices?since=" + since, { record: b64(record) }),
  caseDevices: (id: string, since: number) => call<Proven>("GET", casePath(id) + "/devices?since=" + since),
  statements: (id: string, since: number) => call<Proven>("GET", casePath(id) + "/e2ee/statements?since=" + since),
  postStatement: (id: string, record: Uint8Array, since: number) => call<Proven>("POST", casePath(id) + "/e2ee/statements?since=" + since, { record: b64(record) }),
  proposeCarry: (id: string, req: { id: string; from: string; to: string; epoch: number; offset: number; hash: string }) =>
    call<unknown>("POST", casePath(id) + "/carries", req),
  consentCarry: (id: string, carry: string, hash: string) => call<unknown>("POST", `${casePath(id)}/carries/${encodeURIComponent(carry)}/consent`, { hash }),
  documents: (id: string) => call<Document[]>("GET", casePath(id) + "/documents"),
  share: (id: string, doc: string, audience: string, dryRun: boolean) =>
    call<ShareResult>("POST", `${casePath(id)}/documents/${encodeURIComponent(doc)}/share`, { audience, dryRun }),
  async upload(id: string, file: File, audience: string, cls: string): Promise<Document> {
    const q = new URLSearchParams({ audience, class: cls });
    const res = await fetch(`${casePath(id)}/documents?${q}`, {
      method: "POST", credentials: "same-origin", body: file,
      headers: { "Content-Type": file.type || "application/octet-stream", "Parley-Document-Name": encodeURIComponent(file.name) },
    });
    const json = await res.json().catch(() => ({}));
    if (!res.ok) throw new APIError(res.status, json);
    return json as Document;
  },
  invite: (id: string, role: string, side: string, name: string) =>
    call<{ link: string; expires: string }>("POST", casePath(id) + "/invites", { role, side, name, ttlSeconds: 7 * 24 * 3600 }),
  hold: (id: string, doc: string, on: boolean) => call<Document>("POST", `${casePath(id)}/documents/${encodeURIComponent(doc)}/hold`, { on }),
  contentURL: (id: string, doc: string) => `${casePath(id)}/documents/${encodeURIComponent(doc)}/content`,
};

export { b64, unb64 };
