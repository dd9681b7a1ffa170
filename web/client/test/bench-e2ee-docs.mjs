// The browser's end-to-end encrypted document benchmark, run by
// BenchmarkBrowserE2EEDocuments (web/e2ee_docs_bench_test.go): a mediator's
// headless Chromium encrypts PARLEY_BENCH_FILE on the device and uploads it
// (mediators only), then downloads, decrypts and checks it. Prints one line,
// "bench k=v …": upload and download MB/s, the page's peak JS heap (CDP
// Performance metrics, sampled every 100 ms), and the peak resident memory
// (VmHWM) of the renderer and browser processes this script started.
import { createHash } from "node:crypto";
import { createReadStream, readdirSync, readFileSync, statSync } from "node:fs";
import { base, check, env, log, newPage, run } from "./harness.mjs";

const file = env("PARLEY_BENCH_FILE");
const size = statSync(file).size;
const mb = size / 1e6;
const shaOf = (path) => new Promise((resolve, reject) => {
  const h = createHash("sha256");
  createReadStream(path).on("data", (d) => h.update(d)).on("end", () => resolve(h.digest("hex"))).on("error", reject);
});

// This script's descendants: the browser, its zygotes, renderers, GPU and utility processes.
function descendants() {
  const kids = new Map();
  for (const p of readdirSync("/proc").filter((x) => /^\d+$/.test(x))) {
    try {
      const ppid = Number(readFileSync(`/proc/${p}/stat`, "utf8").replace(/^.*\) /, "").split(" ")[1]);
      if (!kids.has(ppid)) kids.set(ppid, []);
      kids.get(ppid).push(Number(p));
    } catch { /* gone */ }
  }
  const out = [];
  const walk = (pid) => { for (const k of kids.get(pid) ?? []) { out.push(k); walk(k); } };
  walk(process.pid);
  return out;
}
function peakMiB(kind) {
  let peak = 0;
  for (const pid of descendants()) {
    try {
      const cmd = readFileSync(`/proc/${pid}/cmdline`, "utf8");
      const type = /--type=([a-z-]+)/.exec(cmd)?.[1] ?? "browser";
      if (type !== kind || !/chrom/i.test(cmd)) continue;
      const hwm = Number(/VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"))?.[1] ?? 0);
      peak = Math.max(peak, hwm / 1024);
    } catch { /* gone */ }
  }
  return peak;
}

await run(async () => {
  const med = await newPage("med", { width: 1280, height: 900 }, { acceptDownloads: true });
  med.setDefaultTimeout(30 * 60 * 1000);
  await med.goto(base + "/app#case=" + env("PARLEY_CASE"));
  await med.fill("#email", env("PARLEY_MEDIATOR_EMAIL"));
  await med.fill("#password", env("PARLEY_PASSWORD"));
  await med.click("button[type=submit]");
  await med.locator("#conn", { hasText: "Connected" }).waitFor({ timeout: 60000 });
  const cdp = await med.context().newCDPSession(med);
  await cdp.send("Performance.enable");
  let heapPeak = 0;
  const sampler = setInterval(async () => {
    try {
      const { metrics } = await cdp.send("Performance.getMetrics");
      heapPeak = Math.max(heapPeak, metrics.find((m) => m.name === "JSHeapUsedSize")?.value ?? 0);
    } catch { /* page busy or closing */ }
  }, 100);
  const heapBefore = (await cdp.send("Performance.getMetrics")).metrics.find((m) => m.name === "JSHeapUsedSize").value;

  await med.setInputFiles("#doc-file", file);
  await med.selectOption("#doc-audience", "mediators");
  await med.check("#doc-e2ee");
  const tStart = performance.now();
  await med.click("#doc-upload");
  const status = med.locator("#doc-upload-status");
  await status.filter({ hasText: "Uploading" }).waitFor(); // encrypted into a temporary file; sending starts
  const tEnc = performance.now();
  await status.filter({ hasText: "encrypted on this device" }).waitFor();
  const tUp = performance.now();
  await med.click("#doc-scope-all");
  const card = med.locator("#doc-list li[data-doc]", { hasText: file.split("/").pop() });
  const t1 = performance.now();
  const [dl] = await Promise.all([med.waitForEvent("download"), card.locator("button.doc-e2ee-download").click()]);
  const path = await dl.path();
  const t2 = performance.now();
  clearInterval(sampler);
  check(await shaOf(path) === env("PARLEY_BENCH_SHA"), "the download is the uploaded file");
  log(`bench size_mib=${(size / 1048576).toFixed(0)} upload_mbs=${(mb / ((tUp - tStart) / 1000)).toFixed(1)} encrypt_mbs=${(mb / ((tEnc - tStart) / 1000)).toFixed(1)} ` +
    `download_mbs=${(mb / ((t2 - t1) / 1000)).toFixed(1)} heap_before_mib=${(heapBefore / 1048576).toFixed(1)} heap_peak_mib=${(heapPeak / 1048576).toFixed(1)} ` +
    `renderer_hwm_mib=${peakMiB("renderer").toFixed(0)} browser_hwm_mib=${peakMiB("browser").toFixed(0)}`);
});
