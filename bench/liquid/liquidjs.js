// liquidjs.js -- LiquidJS's render throughput, for bench/liquid.sh.
//
// LiquidJS 10 (pinned by bench/package-lock.json, installed by `npm ci
// --prefix bench`) is the engine of the best-known open-source engagement
// platform. The template is parsed once and rendered with renderSync in a
// loop against one user object for SECONDS, as bench/liquid.c does with
// brasa's engine (renderSync: no promise per render, LiquidJS's fastest
// path); the first rendering goes to OUT so the script can check the three
// engines wrote the same bytes before it trusts a time. Prints one line:
// `renders=N seconds=S version=V`.
// usage: node liquidjs.js TEMPLATE CONTEXT SECONDS OUT
'use strict';
const fs = require('node:fs');
const { Liquid } = require('liquidjs');
const version = require('liquidjs/package.json').version;

const [src, ctxFile, seconds, outFile] = process.argv.slice(2);
if (!outFile) {
  console.error('usage: node liquidjs.js TEMPLATE CONTEXT SECONDS OUT');
  process.exit(2);
}
const engine = new Liquid();
const template = engine.parse(fs.readFileSync(src, 'utf8'));
const user = JSON.parse(fs.readFileSync(ctxFile, 'utf8'));
fs.writeFileSync(outFile, engine.renderSync(template, user));

let renders = 0;
const t0 = process.hrtime.bigint();
const deadline = t0 + BigInt(Math.round(Number(seconds) * 1e9));
let now = t0;
while (now < deadline) {
  for (let i = 0; i < 100; i++) engine.renderSync(template, user);
  renders += 100;
  now = process.hrtime.bigint();
}
console.log(`renders=${renders} seconds=${Number(now - t0) / 1e9} version=${version}`);
