// Checks the browser's protocol code against e2ee/testdata/vectors.json, the
// vectors Go's package e2ee generates and checks (go test ./e2ee). Runs under
// node (the same WebCrypto API as the browser; test/e2e.mjs runs the same
// checks in Chromium); exits non-zero on any mismatch.
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import * as E from "../build/e2ee.mjs";
import { ratchet } from "../build/primitives.mjs";
import { runVectors } from "./vectors-lib.mjs";

const here = fileURLToPath(new URL(".", import.meta.url));
const v = JSON.parse(readFileSync(here + "../../../e2ee/testdata/vectors.json", "utf8"));
const checks = await runVectors(E, ratchet, v);
console.log(`vectors: ${checks} checks passed`);
