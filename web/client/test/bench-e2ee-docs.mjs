// The browser's end-to-end encrypted document benchmark, run by
// BenchmarkBrowserE2EEDocuments (web/e2ee_docs_bench_test.go): a mediator's
// headless Chromium encrypts PARLEY_BENCH_FILE on the device and uploads it
// (mediators only), then downloads, decrypts and checks it. Prints one line,
// "bench k=v …": upload and download MB/s, the page's peak JS heap (CDP
// Performance metrics, sampled every 100 ms), and the resident memory of
// each kind of Chromium process (browser, renderer, network service,
// storage service, other) of the browser the page runs in: at rest before
// the upload, and its peak in each phase (encrypt into the temporary file,
// send, download and decrypt, hand over to the browser's download).
//
// PARLEY_BENCH_PROFILE picks the browser's profile: "disk" (default) a
// profile in a directory on disk, as a person's browser has; "incognito"
// a Playwright context (off the record, whose site storage Chromium keeps
// in memory).
import { createHash } from "node:crypto";
import { createReadStream, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { chromium } from "playwright-core";
import { base, check, env, log, newPage, run, watch } from "./harness.mjs";
// Kind starts on "Choose…" (documents.ts): Upload, choosing the first kind offered if none is chosen yet.
const pressUpload = async (page) => {
  if (!(await page.inputValue("#doc-class"))) await page.selectOption("#doc-class", { index: 1 });
  await page.click("#doc-upload");
};

const file = env("PARLEY_BENCH_FILE");
const size = statSync(file).size;
const mb = size / 1e6;
const profile = process.env.PARLEY_BENCH_PROFILE || "disk";
const shaOf = (path) => new Promise((resolve, reject) => {
  const h = createHash("sha256");
  createReadStream(path).on("data", (d) => h.update(d)).on("end", () => resolve(h.digest("hex"))).on("error", reject);
});

// --- per-process memory ---

/** The processes under this script: pid -> {ppid, cmd}. */
function procs() {
  const out = new Map();
  for (const p of readdirSync("/proc").filter((x) => /^\d+$/.test(x))) {
    try {
      const ppid = Number(readFileSync(`/proc/${p}/stat`, "utf8").replace(/^.*\) /, "").split(" ")[1]);
      out.set(Number(p), { ppid, cmd: readFileSync(`/proc/${p}/cmdline`, "utf8").replaceAll("\0", " ") });
    } catch { /* gone */ }
  }
  return out;
}
/** The pids of the tree under root (root included). */
function tree(all, root) {
  const out = [root];
  for (let i = 0; i < out.length; i++) for (const [pid, p] of all) if (p.ppid === out[i]) out.push(pid);
  return out;
}
/** What kind of Chromium process cmd is. */
function kind(cmd) {
  const type = /--type=([a-z-]+)/.exec(cmd)?.[1];
  if (!type) return "browser";
  if (type === "utility") {
    if (/NetworkService/i.test(cmd)) return "network";
    if (/StorageService/i.test(cmd)) return "storage";
    return "utility";
  }
  // The page's renderers; Chromium's own user interface pages (WebUI) and extensions count as other.
  return type === "renderer" && !/--top-chrome-webui|--extension-process/.test(cmd) ? "renderer" : "other";
}
const KINDS = ["browser", "renderer", "network", "storage", "utility", "other"];
const kB = (status, field) => Number(new RegExp(`${field}:\\s+(\\d+) kB`).exec(status)?.[1] ?? 0);

/** The browser process whose command line has dir as its profile (--user-data-dir). */
function browserPid(dir) {
  for (const [pid, p] of procs()) if (kind(p.cmd) === "browser" && /chrom/i.test(p.cmd) && p.cmd.includes(`--user-data-dir=${dir}`)) return pid;
  return 0;
}

/** Resident memory of each kind of process in root's tree, MiB. */
function rss(root) {
  const all = procs();
  const out = Object.fromEntries(KINDS.map((k) => [k, 0]));
  for (const pid of tree(all, root)) {
    const p = all.get(pid);
    if (!p || !/chrom/i.test(p.cmd)) continue;
    try { out[kind(p.cmd)] += kB(readFileSync(`/proc/${pid}/status`, "utf8"), "VmRSS") / 1024; } catch { /* gone */ }
  }
  return out;
}

await run(async () => {
  let med, userDir, ctx;
  if (profile === "disk") {
    userDir = mkdtempSync(join(tmpdir(), "parley-bench-profile-"));
    ctx = await chromium.launchPersistentContext(userDir, {
      executablePath: env("PARLEY_CHROMIUM"), headless: true, acceptDownloads: true, viewport: { width: 1280, height: 900 }, locale: "en-GB",
      args: ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
    });
    med = watch(ctx.pages()[0] ?? await ctx.newPage(), "med");
  } else {
    med = await newPage("med", { width: 1280, height: 900 }, { acceptDownloads: true });
  }
  // The root of the browser the page runs in.
  let root = 0;
  if (userDir) root = browserPid(userDir);
  else {
    const all = procs();
    const mine = tree(all, process.pid).filter((pid) => kind(all.get(pid)?.cmd ?? "") === "browser" && /chrom/i.test(all.get(pid)?.cmd ?? "") && !/parley-bench-profile-/.test(all.get(pid).cmd));
    root = mine[0] ?? 0;
  }
  check(root > 0, "found the browser process the page runs in");

  med.setDefaultTimeout(30 * 60 * 1000);
  await med.goto(base + "/app#case=" + env("PARLEY_CASE"));
  await med.fill("#email", env("PARLEY_MEDIATOR_EMAIL"));
  await med.fill("#password", env("PARLEY_PASSWORD"));
  await med.click("button[type=submit]");
  await med.locator("#conn", { hasText: "Connected" }).waitFor({ timeout: 60000 });
  const cdp = await med.context().newCDPSession(med);
  await cdp.send("Performance.enable");
  let heapPeak = 0;
  // Memory per phase: the peak of each kind's resident memory, sampled every 100 ms.
  let phase = "rest";
  const peaks = {};
  const sample = () => {
    const r = rss(root);
    const p = (peaks[phase] ??= Object.fromEntries(KINDS.map((k) => [k, 0])));
    for (const k of KINDS) p[k] = Math.max(p[k], r[k]);
  };
  const enter = (name) => { sample(); phase = name; sample(); };
  const sampler = setInterval(async () => {
    sample();
    try {
      const { metrics } = await cdp.send("Performance.getMetrics");
      heapPeak = Math.max(heapPeak, metrics.find((m) => m.name === "JSHeapUsedSize")?.value ?? 0);
    } catch { /* page busy or closing */ }
  }, 100);
  const heapBefore = (await cdp.send("Performance.getMetrics")).metrics.find((m) => m.name === "JSHeapUsedSize").value;
  sample();

  await med.setInputFiles("#doc-file", file);
  await med.selectOption("#doc-audience", "mediators");
  await med.check("#doc-e2ee");
  const tStart = performance.now();
  enter("encrypt");
  await pressUpload(med);
  const status = med.locator("#doc-upload-status");
  await status.filter({ hasText: "Uploading" }).waitFor(); // encrypted into a temporary file; sending starts
  const tEnc = performance.now();
  enter("send");
  await status.filter({ hasText: "With the extra lock" }).waitFor();
  const tUp = performance.now();
  enter("rest2");
  await med.click("#doc-scope-all");
  const card = med.locator("#doc-list li[data-doc]", { hasText: file.split("/").pop() });
  await card.waitFor();
  await new Promise((r) => setTimeout(r, 1000));
  const t1 = performance.now();
  enter("decrypt");
  const downloaded = med.waitForEvent("download");
  await card.locator("button.doc-e2ee-download").click();
  const dl = await downloaded; // the page handed the checked copy to the browser's download
  enter("handover");
  const path = await dl.path();
  const t2 = performance.now();
  enter("after");
  await new Promise((r) => setTimeout(r, 1000));
  clearInterval(sampler);
  sample();
  check(await shaOf(path) === env("PARLEY_BENCH_SHA"), "the download is the uploaded file");
  // One line per phase (what was resident at rest, then each phase's peak), then the result line.
  for (const [name, p] of Object.entries(peaks)) log(`memory ${name} ` + KINDS.map((k) => `${k}=${p[k].toFixed(0)}`).join(" "));
  const rest = peaks.rest, peakOf = (k) => Math.max(...Object.values(peaks).map((p) => p[k]));
  log(`bench profile=${profile} size_mib=${(size / 1048576).toFixed(0)} upload_mbs=${(mb / ((tUp - tStart) / 1000)).toFixed(1)} encrypt_mbs=${(mb / ((tEnc - tStart) / 1000)).toFixed(1)} ` +
    `download_mbs=${(mb / ((t2 - t1) / 1000)).toFixed(1)} heap_before_mib=${(heapBefore / 1048576).toFixed(1)} heap_peak_mib=${(heapPeak / 1048576).toFixed(1)} ` +
    KINDS.map((k) => `${k}_rest_mib=${rest[k].toFixed(0)} ${k}_peak_mib=${peakOf(k).toFixed(0)}`).join(" "));
  if (ctx) await ctx.close();
  if (userDir) rmSync(userDir, { recursive: true, force: true });
});
