// Answers out of order, for the scripts that check a page's poll: a poll
// asked before a write and answered after it (a slow network, a loaded
// server) must not put back on the page what was there before the write.
// Used by documents.mjs and rooms.mjs (agreement.mjs holds its polls its
// own way: until a later save); sessions-order.mjs and desk-order.mjs use
// gate and within to hold one answer past the next write's.

/** within waits for p, failing with what after ms milliseconds. */
export async function within(p, ms, what) {
  let timer;
  try { return await Promise.race([p, new Promise((_, no) => { timer = setTimeout(() => no(new Error(`timed out after ${ms} ms: ${what}`)), ms); })]); }
  finally { clearTimeout(timer); }
}

/** gate is a promise p that open() resolves. */
export const gate = () => { let open; const p = new Promise((r) => { open = r; }); return { p, open }; };

/**
 * staleAnswers answers page's poll out of order around write(). The GETs
 * of polls (a URL predicate) that hold matches are answered by the server
 * when asked, before the write, but reach the page only once write() has
 * shown the write's result; the others go on. Once those old answers have
 * reached the page and a GET that next matches is asked (the page's next
 * poll, held meanwhile), look() checks what the person sees.
 */
export async function staleAnswers(page, what, { polls, hold = () => true, next = () => true }, write, look) {
  const pollAsked = gate(), writeShown = gate(), nextAsked = gate(), looked = gate();
  let phase = "hold"; // then "write", then "after"
  const stale = [];
  const handlers = new Set(); // the route's handlers still running
  await page.route(polls, (r) => {
    const handled = (async () => {
      const req = r.request();
      if (req.method() !== "GET") return r.continue();
      const u = new URL(req.url());
      if (phase === "hold" && hold(u)) {
        stale.push(req);
        const res = await r.fetch(); // answered now, before the write
        pollAsked.open();
        await writeShown.p;
        return r.fulfill({ response: res });
      }
      if (phase === "after" && next(u)) { nextAsked.open(); await looked.p; }
      return r.continue();
    })();
    handlers.add(handled);
    const done = () => handlers.delete(handled);
    handled.then(done, done);
    return handled;
  });
  await within(pollAsked.p, 30000, what + ": the page polls");
  phase = "write";
  await write();
  phase = "after";
  writeShown.open();
  await within(Promise.all(stale.map((q) => q.response().then((res) => res?.finished()))), 30000, what + ": the old answers reach the page");
  await within(nextAsked.p, 30000, what + ": the next poll is asked");
  try { await look(); } finally {
    // The held polls go on before the route goes: taken away under them, it
    // would let them go itself, and their own going on would fail.
    looked.open();
    for (let i = 0; i < 20 && handlers.size; i++) await within(Promise.all([...handlers]), 30000, what + ": the held polls go on");
    await page.unroute(polls);
  }
}
