// Builds one minified script per combination of the optional features, each with the blocks of
// the others removed: `node build.js` writes them, `node build.js --check` fails when a shipped
// file is not what the build makes (a test runs it).
'use strict';
const fs = require('fs');
const path = require('path');
const { minify } = require('terser');

const FEATURES = ['outbound', 'downloads', 'engagement'];

// analytics.min.js, analytics.outbound.min.js, ..., analytics.outbound.downloads.engagement.min.js
function fileName(enabled) {
  return ['analytics', ...enabled, 'min.js'].join('.');
}

async function main() {
  const source = fs.readFileSync(path.join(__dirname, 'analytics.js'), 'utf8');
  const check = process.argv.includes('--check');
  let stale = 0;
  for (let mask = 0; mask < 1 << FEATURES.length; mask++) {
    const enabled = FEATURES.filter((_, i) => mask & (1 << i));
    const global_defs = {};
    FEATURES.forEach((f) => (global_defs[f.toUpperCase()] = enabled.includes(f)));
    const out = await minify(source, {
      ecma: 2015,
      compress: { passes: 3, global_defs, unsafe: true, unsafe_comps: true, unsafe_arrows: true, unsafe_methods: true },
      mangle: true
    });
    const file = path.join(__dirname, fileName(enabled));
    const code = out.code + '\n';
    if (!check) fs.writeFileSync(file, code);
    else if (!fs.existsSync(file) || fs.readFileSync(file, 'utf8') != code) {
      console.error(`${fileName(enabled)} is not the build of analytics.js: run \`npm run build\` in agent/`);
      stale++;
    }
  }
  process.exit(stale ? 1 : 0);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
