// Render every Marp deck in the repository: slides.md -> slides.html (+ slides.pdf with Chromium),
// and the closing handout repro_check/CHECKLIST.md -> CHECKLIST.html (+ .pdf).
// Used by `npm run slides`. Instructors present the HTML and hand out the PDF; both are
// gitignored because anyone rebuilds them in seconds from the committed slides.md.
import { spawnSync } from "node:child_process";
import { existsSync, readdirSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const marp = join(root, "node_modules", ".bin", "marp");
const htmlOnly = process.argv.includes("--html-only");

function findChromium() {
  const candidates = [process.env.CHROME_PATH, "/usr/bin/chromium", "/usr/bin/chromium-browser",
    "/usr/bin/google-chrome"];
  return candidates.find((p) => p && existsSync(p));
}

const decks = [join(root, "slides.md")]
  .concat(readdirSync(root, { withFileTypes: true })
    .filter((d) => d.isDirectory() && !d.name.startsWith(".") && d.name !== "node_modules")
    .map((d) => join(root, d.name, "slides.md")))
  // The one-page handout of the closing session renders like a deck (HTML, and a PDF to print).
  .concat([join(root, "repro_check", "CHECKLIST.md")])
  .filter((p) => existsSync(p));

if (!existsSync(marp)) {
  console.error("error: Marp is not installed; run `npm ci` at the repository root first");
  process.exit(2);
}
const chromium = htmlOnly ? undefined : findChromium();
if (!htmlOnly && !chromium) {
  console.error("note: no Chromium found (set CHROME_PATH); rendering HTML only");
}

let failed = 0;
for (const deck of decks) {
  const formats = chromium ? ["html", "pdf"] : ["html"];
  for (const format of formats) {
    const stem = deck.endsWith("CHECKLIST.md") ? "CHECKLIST" : "slides";
    const out = join(dirname(deck), `${stem}.${format}`);
    const run = spawnSync(marp, ["--allow-local-files", deck, "-o", out], {
      env: { ...process.env, ...(chromium ? { CHROME_PATH: chromium } : {}) },
      encoding: "utf8",
    });
    const ok = run.status === 0 && existsSync(out);
    console.log(`${ok ? "ok    " : "FAILED"} ${out.slice(root.length + 1)}`);
    if (!ok) {
      failed += 1;
      console.error(run.stderr);
    }
  }
}
process.exit(failed ? 1 : 0);
