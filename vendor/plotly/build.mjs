// Builds plotly-cityops.min.js: plotly.js core with only the trace types in traces.json and
// the Spanish locale, instead of the full 4.8 MB bundle Dash serves by default. Same esbuild
// settings as plotly.js's own build (its esbuild-config.js), without the WebGL plugins (no gl
// trace is included). Run `make plotly-bundle` after changing traces.json or the versions.
import { build } from 'esbuild';
import { environmentPlugin } from 'esbuild-plugin-environment';
import InlineCSSPlugin from 'esbuild-plugin-inline-css';
import { readFileSync, writeFileSync } from 'node:fs';

const traces = JSON.parse(readFileSync('traces.json', 'utf8'));
const version = JSON.parse(readFileSync('node_modules/plotly.js/package.json', 'utf8')).version;
const entry = [
  "var Plotly = require('plotly.js/lib/core');",
  'Plotly.register([',
  ...traces.map((t) => `  require('plotly.js/lib/${t}'),`),
  "  require('plotly.js/lib/locales/es'),",
  ']);',
  'module.exports = Plotly;',
].join('\n');
writeFileSync('entry.js', entry + '\n');
await build({
  entryPoints: ['entry.js'], outfile: 'plotly-cityops.min.js', format: 'iife', globalName: 'Plotly',
  bundle: true, minify: true, sourcemap: false, legalComments: 'eof', target: 'es2016',
  plugins: [InlineCSSPlugin(), environmentPlugin({ NODE_DEBUG: false })],
  alias: { stream: 'stream-browserify' }, define: { global: 'window', 'define.amd': 'false' },
  banner: { js: `/* plotly.js ${version} (MIT, https://github.com/plotly/plotly.js), partial bundle: ${traces.join(', ')} */` },
  logLevel: 'warning',
});
writeFileSync('manifest.json', JSON.stringify({ plotly: version, traces }, null, 1) + '\n');
