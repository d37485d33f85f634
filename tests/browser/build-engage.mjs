// Bundles the pinned @sitecore/engage (package-lock.json) into one browser script: node build-engage.mjs OUT.js
import { build } from 'esbuild';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const out = process.argv[2];
if (!out) {
  console.error('usage: node build-engage.mjs OUT.js');
  process.exit(2);
}
const here = dirname(fileURLToPath(import.meta.url));
await build({
  entryPoints: [join(here, 'engage-entry.js')],
  bundle: true,
  format: 'iife',
  platform: 'browser',
  target: ['es2019'],
  minify: true,
  legalComments: 'inline',
  outfile: out,
  logLevel: 'error',
});
console.log('engage bundle written to ' + out);
