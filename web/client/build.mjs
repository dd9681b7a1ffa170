// Builds the browser client with esbuild: src/app.ts → ../static/dist/app.js
// (embedded by the Go binary), and the protocol library for the node-side
// vector test → build/e2ee.mjs. Neither output is committed.
import * as esbuild from "esbuild";

const common = { bundle: true, target: "es2022", legalComments: "none", logLevel: "warning" };
await esbuild.build({ ...common, entryPoints: ["src/app.ts"], outfile: "../static/dist/app.js", format: "iife", platform: "browser", minify: true, sourcemap: false });
await esbuild.build({ ...common, entryPoints: ["src/e2ee.ts", "src/primitives.ts", "src/docs-e2ee.ts"], outdir: "build", outExtension: { ".js": ".mjs" }, format: "esm", platform: "node" });
// The same library for the browser, which test/e2e.mjs loads into Chromium
// to run the vectors there too; with the page's key-directory check
// (secure.ts) and its pins (store.ts), which test/revpins.mjs drives.
await esbuild.build({ ...common, entryPoints: ["src/e2ee.ts", "src/primitives.ts", "src/docs-e2ee.ts", "src/secure.ts", "src/store.ts"], outdir: "build/browser", outExtension: { ".js": ".mjs" }, format: "esm", platform: "browser" });
