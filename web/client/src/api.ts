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
export interface Case {
  id: string; title: string; stage: string; sides: Side[]; mediators: Mediator[]; participants: Participant[];
  notices?: CaseNotice[]; pendingMediators?: PendingMediator[];
  closed?: string; outcome?: { result: string };
}
/** What the program did to the case's mediators, said in plain words (text) by the server. */
export interface CaseNotice { id: string; kind: string; name: string; at: string; readsFrom?: string; text: string }
export interface PendingMediator { accountId: string; name: string; readsFrom: string }
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

export interface Approval { by: string; at: string }
export interface Plan {
  id: string; asOf: string; created: string; planner: string; state: string;
  pages: number; records: number; held: number; bytes: number; cases: number;
  approved?: Approval; started?: string; caseKeysDone?: boolean; completed?: string; certificate?: string;
}
export interface PlanItem {
  case: string; doc?: string; version?: number; class: string; trigger: string; triggerAt: string; dueAt: string; size: number; held?: string[];
}
export interface Outcome { result: string; held?: string[] }
export interface Progress { plan: Plan; pagesDone: number; page: number; items?: PlanItem[]; outcomes?: Outcome[]; step: string; done: boolean }
export interface Hold {
  id: string; case: string; doc?: string; reason: string; authority: string; placedBy: string; placed: string;
  released?: string; releasedBy?: string; releaseReason?: string;
}
export interface ExportReport { rows: number; suppressed: number; generalized: number; commentsDropped: number; k: number; sha256: string }

const planPath = (id: string) => "/api/v1/retention/plans/" + encodeURIComponent(id);

async function text(method: string, path: string, body?: unknown): Promise<Response> {
  const init: RequestInit = { method, credentials: "same-origin" };
  if (body !== undefined) init.body = JSON.stringify(body), init.headers = { "Content-Type": "application/json" };
  const res = await fetch(path, init);
  if (!res.ok) throw new APIError(res.status, await res.json().catch(() => ({})));
  return res;
}

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
  invite: (id: string, role: string, side: string, name: string, email = "") =>
    call<{ link: string; expires: string; mailed: boolean; mailWarning?: string }>("POST", casePath(id) + "/invites", { role, side, name, email, ttlSeconds: 7 * 24 * 3600 }),
  hold: (id: string, doc: string, on: boolean) => call<Document>("POST", `${casePath(id)}/documents/${encodeURIComponent(doc)}/hold`, { on }),
  plans: () => call<Plan[]>("GET", "/api/v1/retention/plans"),
  makePlan: (asOf: string) => call<Plan>("POST", "/api/v1/retention/plans", { asOf }),
  plan: (id: string) => call<Plan>("GET", planPath(id)),
  planRecords: (id: string, page: number) => call<PlanItem[]>("GET", `${planPath(id)}/records?page=${page}`),
  approvePlan: (id: string) => call<Plan>("POST", planPath(id) + "/approve"),
  applyStep: (id: string) => call<Progress>("POST", planPath(id) + "/apply"),
  certificate: async (id: string) => (await text("GET", planPath(id) + "/certificate")).text(),
  auditKey: async () => (await (await text("GET", "/api/v1/audit/key")).text()).trim(),
  holds: (caseID: string, all: boolean) => call<Hold[]>("GET", `${casePath(caseID)}/holds${all ? "?all=true" : ""}`),
  allHolds: () => call<Hold[]>("GET", "/api/v1/holds?all=true"),
  placeHold: (caseID: string, reason: string, authority: string) => call<Hold>("POST", casePath(caseID) + "/holds", { reason, authority }),
  releaseHold: (caseID: string, hold: string, reason: string) =>
    call<Hold>("POST", `${casePath(caseID)}/holds/${encodeURIComponent(hold)}/release`, { reason }),
  async runExport(req: { from: string; to: string; k: number; format: string }): Promise<{ blob: Blob; report: ExportReport }> {
    const res = await text("POST", "/api/v1/exports", req);
    const n = (k: string) => Number(res.headers.get("X-Parley-Export-" + k) ?? "0");
    return {
      blob: await res.blob(),
      report: { rows: n("Rows"), suppressed: n("Suppressed"), generalized: n("Generalized"), commentsDropped: n("Comments-Dropped"), k: n("K"), sha256: res.headers.get("X-Parley-Export-Sha256") ?? "" },
    };
  },
  dictionary: async (k: number, format: string) => (await text("GET", `/api/v1/exports/dictionary?k=${k}&format=${encodeURIComponent(format)}`)).text(),
  contentURL: (id: string, doc: string) => `${casePath(id)}/documents/${encodeURIComponent(doc)}/content`,
};

export { b64, unb64 };
