// Builds the picture's front end into src/trilink/web/static/ (not committed; `make setup`
// runs `npm ci` and this). Everything the page loads is in that folder: no CDN, no tiles.
import { build } from "esbuild";
import { copyFileSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const out = join(here, "..", "src", "trilink", "web", "static");

rmSync(out, { recursive: true, force: true });
mkdirSync(out, { recursive: true });

await build({
  entryPoints: [join(here, "src", "main.js")],
  bundle: true,
  format: "esm",
  target: ["es2022"],
  minify: true,
  sourcemap: true,
  outfile: join(out, "app.js"),
  logLevel: "warning",
  legalComments: "linked",
});

copyFileSync(join(here, "src", "index.html"), join(out, "index.html"));
copyFileSync(join(here, "src", "style.css"), join(out, "style.css"));
// Natural Earth 1:50m land and countries (public domain), as TopoJSON from world-atlas.
copyFileSync(
  join(here, "node_modules", "world-atlas", "countries-50m.json"),
  join(out, "countries-50m.json"),
);
const atlas = JSON.parse(readFileSync(join(here, "node_modules", "world-atlas", "package.json")));
writeFileSync(
  join(out, "BUILD.txt"),
  `trilink picture front end, built by frontend/build.mjs\n` +
    `coastlines: Natural Earth 1:50m via world-atlas ${atlas.version} (ISC; data public domain)\n`,
);
console.log(`front end built into ${out}`);
