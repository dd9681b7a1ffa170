// The Parley HTTP API, same origin, with the HttpOnly session cookie (no
// script ever sees the session token).
import { b64, unb64 } from "./wire";
import * as W from "./wire_gen";
import type {
  Account, Case, CarryRequest, Document, HistoryPage, Hold, Item, Listed, Plan, Position, Problem, Progress, Proven, RoomView,
  SessionResponse, ShareResult, InviteResponse,
} from "./wire_gen";

/** A failed call: the HTTP status and the server's problem (partial if the body was not one). */
export class APIError extends Error {
  /** retryAfter: the wait the server asked for (its Retry-After), in seconds; 0 if none. */
  constructor(public status: number, public problem: Partial<Problem>, public retryAfter = 0) {
    super(problem.title ? `${problem.title}${problem.detail ? ": " + problem.detail : ""}` : `HTTP ${status}`);
  }
}

// Looks like something only the server should say: an id (c_…, u_…, dv_…),
// a room's name on the wire, or a policy action (doc.upload).
const internalWords = /\b[a-z]{1,4}_[a-z2-7]{6,}|\bcaucus:|(?<![@\w.])(?:account|agreement|audit|case|caseload|doc|evaluation|hold|mail|retention|room|session)\.[a-z]|\bHTTP\b/;

/** Whether text names something internal (an id, a wire room name, a policy action). */
export const saysInternal = (text: string) => internalWords.test(text);

// Problem types whose detail the server writes for the person who acted
// (web/problem.go typedProblem and the record-full answer,
// web/handlers_staff.go staffProblem, web/handlers_docs_e2ee.go): their
// sentence is shown as the server gives it. Every other type's detail —
// the generic "conflict" and "gone" carry whatever a package's error said,
// such as "keydir: you have seen a log of 12 entries, this one has 9" — is
// not, unless it is one of peopleSentences.
const peopleTypes: ReadonlySet<string> = new Set<W.ProblemType>([
  "agreement-superseded", "agreement-filed", "already-joined", "document-limit", "version-limit", "too-large", "rewrap-required",
  "no-pending-reset", "last-admin", "choices-changed", "busy",
]);

// Sentences of the generic "conflict" and "gone" refusals that are written
// for people, each matched whole (cases, agreement, vault, floor, keydir).
// Anything else of those types gets the plain words of its status.
const peopleSentences: readonly RegExp[] = [
  /^(the )?case is closed$/,
  /^this link was emailed to an address that someone else in this mediation now also uses, so it no longer works; ask your mediator for a new link$/,
  /^someone of this name has already joined this case with another link; ask your mediator for a link back in$/,
  /^the terms changed since you read them; read the new version and accept it$/,
  /^the opening session cannot start until everyone has accepted the case's terms; still to accept: [^:]+$/,
  /^this request (expired on [^;]+; the mediator can ask again|was already [a-z ]+|was answered meanwhile \([a-z ]+\))$/,
  /^the document changed since the mediator asked \(a new version, or it was moved\); the mediator must ask again$/,
  /^(every version of this document has been erased|the version of the document this request was about has (just )?been erased); there is nothing (left )?to (share|answer)$/,
  /^too many raised hands in this case \(\d+\); the mediator must lower some$/,
  /^(version \d+ was saved since you began editing version \d+; read it and edit again|this text is already version \d+|this case already has an agreement; save a new version of it instead|this case has no agreement yet; a mediator drafts one first)$/,
  /^(not everyone has signed version \d+ yet; still to sign: [^:]+|a new version was saved while filing; everyone signs it first|another mediator is (starting this case's agreement|filing the agreement) now)$/,
  /^(the pairing changed meanwhile, try again|the pairing kept changing, try again|this pairing is no longer waiting for confirmation: start again|at most \d+ pairings may be open at once; wait for one to expire|at most \d+ devices per account)$/,
];

/** Whether a refusal's detail was written for people (peopleTypes, peopleSentences) and names nothing internal. */
function forPeople(p: Partial<Problem>): string | undefined {
  const d = p.detail?.trim().replace(/\.$/, "");
  if (!d || internalWords.test(d)) return undefined;
  const type = p.type?.startsWith(W.ProblemTypeBase) ? p.type.slice(W.ProblemTypeBase.length) : "";
  if (peopleTypes.has(type)) return d;
  // keydir's limit on open pairings, in the words of the button that opens one (a pairing lapses after 10 minutes).
  if (type === "conflict" && /^at most \d+ pairings may be open at once/.test(d)) return "too many new devices are waiting to be added. Wait 10 minutes, then press “Add a device” again";
  if ((type === "conflict" || type === "gone") && peopleSentences.some((r) => r.test(d))) return d;
  return undefined;
}

/**
 * What went wrong, in plain words, as a clause to follow "Not saved: " or
 * similar (lower case, no final full stop). Never a status number, a
 * server id, a policy action's name or the browser's own network text
 * ("Failed to fetch"): a server's detail is shown only for a field's
 * problem (400) and for refusals known to be written for people (an
 * allow-list: forPeople), and only when it names nothing internal.
 * Errors this client throws with a sentence of its own (a plain Error)
 * keep their words.
 */
export function plainWords(e: unknown): string {
  return words(e, forPeople);
}

/**
 * plainWords for screens only staff see (the desk, records and
 * retention): a conflict's or expiry's detail is shown unless it names
 * something internal, as the server's refusals there (a plan already
 * approved, who has not accepted the terms yet) say what to do. Never on
 * a screen a party or lawyer sees.
 */
export function staffWords(e: unknown): string {
  return words(e, (p) => (p.detail && !internalWords.test(p.detail) ? p.detail.replace(/\.$/, "") : undefined));
}

function words(e: unknown, said: (p: Partial<Problem>) => string | undefined): string {
  if (e instanceof TypeError) return "the server could not be reached; check your connection and try again";
  if (e instanceof APIError) {
    const field = (d: string | undefined) => (d && !internalWords.test(d) ? d.replace(/\.$/, "") : undefined);
    const s = e.status;
    if (s === 400) return field(e.problem.errors?.[0]?.detail) ?? "the request was not understood; reload the page and try again";
    if (s === 401) return "you are signed out; sign in again to go on";
    if (s === 403 && notConfirmed(e)) return field(e.problem.detail) ?? "you can invite people or make links back in once a mediator already in this case has confirmed you as a co-mediator";
    if (s === 403) return e.problem.type === W.ProblemTypeBase + ("account-disabled" satisfies W.ProblemType) ? "your account is disabled; ask the program administrator" : "this is not allowed for you here";
    if (s === 404) return "it is no longer there; reload the page to see what is";
    if (s === 409) return said(e.problem) ?? "it changed meanwhile (someone may have acted on it already); reload the page to see where it stands";
    if (s === 410) return said(e.problem) ?? "it is no longer available";
    if (s === 413) return "it is too large";
    if (s === 429) return "there were too many attempts in a short time; wait a minute and try again";
    if (s === 503 && e.problem.type === W.ProblemTypeBase + ("busy" satisfies W.ProblemType)) return said(e.problem) ?? "the server is busy just now; try again in a few seconds";
    return "the service is not answering properly just now; wait a minute, reload the page and try again";
  }
  if (e instanceof Error && e.constructor === Error && !internalWords.test(e.message)) return e.message.replace(/\.$/, "");
  return "something went wrong on this page; reload it and try again";
}

/**
 * Whether e refuses an invitation or a link back in because the case's
 * signed membership does not seat this mediator yet (its detail, written
 * for people, says what they wait for).
 */
export const notConfirmed = (e: APIError) => e.problem.type === W.ProblemTypeBase + ("mediator-not-confirmed" satisfies W.ProblemType);

export async function call<T>(method: string, path: string, body?: unknown, headers: Record<string, string> = {}, signal?: AbortSignal): Promise<T> {
  const init: RequestInit = { method, credentials: "same-origin", headers: { ...headers }, signal };
  if (body !== undefined) {
    init.body = JSON.stringify(body);
    (init.headers as Record<string, string>)["Content-Type"] = "application/json";
  }
  const res = await fetch(path, init);
  if (res.status === 204) return undefined as T;
  const text = await res.text();
  let json: unknown = {};
  try { json = text ? JSON.parse(text) : {}; } catch { /* not JSON */ }
  if (!res.ok) throw new APIError(res.status, problemOf(json), retryAfterOf(res));
  return json as T;
}

/** The wait a refusal asks for (Retry-After in seconds, at most an hour), 0 if it gives none. */
function retryAfterOf(res: Response): number {
  const secs = Number(res.headers.get("Retry-After") ?? "");
  return Number.isInteger(secs) && secs > 0 ? Math.min(secs, 3600) : 0;
}

/** The problem in an error answer's body, or nothing if it is not one. */
function problemOf(json: unknown): Partial<Problem> {
  if (typeof json !== "object" || json === null) return {};
  const p = json as Partial<Problem>;
  return { type: typeof p.type === "string" ? p.type : undefined, title: typeof p.title === "string" ? p.title : undefined,
    detail: typeof p.detail === "string" ? p.detail : undefined, status: typeof p.status === "number" ? p.status : undefined,
    errors: Array.isArray(p.errors) ? p.errors.filter((f) => typeof f?.field === "string" && typeof f?.detail === "string") : undefined };
}

export const casePath = (id: string) => "/api/v1/cases/" + encodeURIComponent(id);

// Every shape on the wire is generated from the Go package api
// (wire_gen.ts, `go run ./api/internal/tsgen`); nothing is declared here.
export type {
  Account, Case, Listed, RoomView, Position as Pos, Message as WireMessage, HistoryPage, Logged, Proven, Document,
  Person as SharePerson, ShareResult, Plan, Item as PlanItem, ItemOutcome as Outcome, Progress, Hold, Problem, CaseNotice, PendingMediator,
} from "./wire_gen";

/** The evaluation export's report, read from its headers. */
export interface ExportReport { rows: number; suppressed: number; generalized: number; commentsDropped: number; k: number; sha256: string }

const planPath = (id: string) => "/api/v1/retention/plans/" + encodeURIComponent(id);

async function text(method: string, path: string, body?: unknown): Promise<Response> {
  const init: RequestInit = { method, credentials: "same-origin" };
  if (body !== undefined) init.body = JSON.stringify(body), init.headers = { "Content-Type": "application/json" };
  const res = await fetch(path, init);
  if (!res.ok) throw new APIError(res.status, problemOf(await res.json().catch(() => ({}))));
  return res;
}

export const api = {
  me: () => call<Account>("GET", "/api/v1/me"),
  login: (email: string, password: string) => call<SessionResponse>("POST", "/api/v1/session", { email, password } satisfies W.LoginRequest),
  logout: (signal?: AbortSignal) => call<void>("DELETE", "/api/v1/session", undefined, {}, signal),
  redeem: (token: string) => call<SessionResponse>("POST", "/api/v1/invites/redeem", { token } satisfies W.RedeemRequest),
  cases: () => call<Listed[]>("GET", "/api/v1/cases"),
  getCase: (id: string) => call<Case>("GET", casePath(id)),
  rooms: (id: string) => call<RoomView[]>("GET", casePath(id) + "/rooms"),
  history: (id: string, room: string, after: Position) =>
    call<HistoryPage>("GET", `${casePath(id)}/rooms/${encodeURIComponent(room).replace(/%3A/g, ":")}/messages?epoch=${after.epoch}&offset=${after.offset}&limit=500`),
  registerDevice: (record: Uint8Array, since: number) => call<Proven>("POST", "/api/v1/keys/devices?since=" + since, { record: b64(record) } satisfies W.RecordRequest),
  caseDevices: (id: string, since: number, signal?: AbortSignal) => call<Proven>("GET", casePath(id) + "/devices?since=" + since, undefined, {}, signal),
  statements: (id: string, since: number, signal?: AbortSignal) => call<Proven>("GET", casePath(id) + "/e2ee/statements?since=" + since, undefined, {}, signal),
  /** The rooms a mediator opened that the caller is in, with their sealed entries (rooms.ts, secure.ts). */
  definedRooms: (id: string, signal?: AbortSignal) => call<W.DefinedRoom[]>("GET", casePath(id) + "/defined-rooms", undefined, {}, signal),
  addRoomEntry: (id: string, room: string, record: Uint8Array) =>
    call<W.DefinedRoom>("POST", `${casePath(id)}/defined-rooms/${encodeURIComponent(room).replace(/%3A/g, ":")}/entries`, { record: b64(record) } satisfies W.RecordRequest),
  postStatement: (id: string, record: Uint8Array, since: number) => call<Proven>("POST", casePath(id) + "/e2ee/statements?since=" + since, { record: b64(record) } satisfies W.RecordRequest),
  proposeCarry: (id: string, req: CarryRequest) => call<W.Carry>("POST", casePath(id) + "/carries", req),
  getCarry: (id: string, carry: string) => call<W.Carry>("GET", `${casePath(id)}/carries/${encodeURIComponent(carry)}`),
  consentCarry: (id: string, carry: string, hash: string) =>
    call<W.Carry>("POST", `${casePath(id)}/carries/${encodeURIComponent(carry)}/consent`, { hash } satisfies W.ConsentRequest),
  declineCarry: (id: string, carry: string) => call<W.Carry>("POST", `${casePath(id)}/carries/${encodeURIComponent(carry)}/decline`, {}),
  documents: (id: string) => call<Document[]>("GET", casePath(id) + "/documents"),
  uploadOptions: (id: string) => call<W.UploadOptions>("GET", casePath(id) + "/documents/upload-options"),
  share: (id: string, doc: string, audience: string, dryRun: boolean, wraps?: W.VersionWrap[]) =>
    call<ShareResult>("POST", `${casePath(id)}/documents/${encodeURIComponent(doc)}/share`, { audience, dryRun, wraps } satisfies W.ShareRequest),
  /** A side's caucus document shown wider needs the side's approval first (doc-approvals.ts). */
  askShare: (id: string, doc: string, audience: string) =>
    call<W.DocShareRequest>("POST", `${casePath(id)}/documents/${encodeURIComponent(doc)}/share-requests`, { audience } satisfies W.DocShareAsk),
  shareRequests: (id: string) => call<W.DocShareRequest[]>("GET", casePath(id) + "/share-requests"),
  answerShare: (id: string, doc: string, request: string, answer: W.DocShareAnswer) =>
    call<W.DocShareRequest>("POST", `${casePath(id)}/documents/${encodeURIComponent(doc)}/share-requests/${encodeURIComponent(request)}`, answer),
  async upload(id: string, file: File, audience: string, cls: string): Promise<Document> {
    const q = new URLSearchParams({ audience, class: cls });
    const res = await fetch(`${casePath(id)}/documents?${q}`, {
      method: "POST", credentials: "same-origin", body: file,
      headers: { "Content-Type": file.type || "application/octet-stream", [W.DocumentNameHeader]: encodeURIComponent(file.name) },
    });
    const json: unknown = await res.json().catch(() => ({}));
    if (!res.ok) throw new APIError(res.status, problemOf(json));
    return json as Document;
  },
  invite: (id: string, role: W.ParticipantRole, side: string, name: string, email = "") =>
    call<InviteResponse>("POST", casePath(id) + "/invites", { role, side, name, email, ttlSeconds: 7 * 24 * 3600 } satisfies W.InviteRequest),
  hold: (id: string, doc: string, on: boolean) => call<Document>("POST", `${casePath(id)}/documents/${encodeURIComponent(doc)}/hold`, { on } satisfies W.HoldRequest),
  holdDocument: (id: string, doc: string, on: boolean, reason: string, authority: string) =>
    call<Document>("POST", `${casePath(id)}/documents/${encodeURIComponent(doc)}/hold`, { on, reason, authority } satisfies W.HoldRequest),
  due: (days: number) => call<W.DueReport>("GET", "/api/v1/retention/due?days=" + days),
  discardPlan: (id: string) => call<Plan>("POST", planPath(id) + "/discard"),
  plans: () => call<Plan[]>("GET", "/api/v1/retention/plans"),
  makePlan: (asOf: string) => call<Plan>("POST", "/api/v1/retention/plans", { asOf } satisfies W.PlanRequest),
  plan: (id: string) => call<Plan>("GET", planPath(id)),
  planRecords: (id: string, page: number) => call<Item[]>("GET", `${planPath(id)}/records?page=${page}`),
  /** Approves a plan as its actions were shown: actionsDigest is the listing's (GET …/actions) that the page showed. */
  approvePlan: (id: string, actionsDigest: string) => call<Plan>("POST", planPath(id) + "/approve", { actionsDigest } satisfies W.ApprovePlanRequest),
  applyStep: (id: string) => call<Progress>("POST", planPath(id) + "/apply"),
  certificate: async (id: string) => (await text("GET", planPath(id) + "/certificate")).text(),
  auditKey: async () => (await (await text("GET", "/api/v1/audit/key")).text()).trim(),
  holds: (caseID: string, all: boolean) => call<Hold[]>("GET", `${casePath(caseID)}/holds${all ? "?all=true" : ""}`),
  allHolds: () => call<Hold[]>("GET", "/api/v1/holds?all=true"),
  placeHold: (caseID: string, reason: string, authority: string) =>
    call<Hold>("POST", casePath(caseID) + "/holds", { case: caseID, reason, authority } satisfies W.NewHold),
  releaseHold: (caseID: string, hold: string, reason: string) =>
    call<Hold>("POST", `${casePath(caseID)}/holds/${encodeURIComponent(hold)}/release`, { reason } satisfies W.ReleaseRequest),
  async runExport(req: { from: string; to: string; k: number; format: string }): Promise<{ blob: Blob; report: ExportReport }> {
    const res = await text("POST", "/api/v1/exports", { ...req, ageRecipient: "" } satisfies W.ExportRequest);
    const n = (h: string) => Number(res.headers.get(h) ?? "0");
    return {
      blob: await res.blob(),
      report: { rows: n(W.ExportRowsHeader), suppressed: n(W.ExportSuppressedHeader), generalized: n(W.ExportGeneralizedHeader),
        commentsDropped: n(W.ExportCommentsDroppedHeader), k: n(W.ExportKHeader), sha256: res.headers.get(W.ExportSHA256Header) ?? "" },
    };
  },
  dictionary: async (k: number, format: string) => (await text("GET", `/api/v1/exports/dictionary?k=${k}&format=${encodeURIComponent(format)}`)).text(),
  contentURL: (id: string, doc: string) => `${casePath(id)}/documents/${encodeURIComponent(doc)}/content`,
};

export { b64, unb64 };
