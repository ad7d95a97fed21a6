// segments_duckdb.js -- the segment questions asked of DuckDB, for
// bench/segments.sh.
//
// DuckDB (npm @duckdb/node-api, pinned by bench/package-lock.json, installed
// by `npm ci --prefix bench`; it ships its own library) is what a team would
// reach for to count users in segments. The profiles bench/segments wrote to
// DIR are loaded the way an analyst would model them: an in-memory database,
// threads = cores, `users` with typed columns (ENUM for the tier and plan,
// small unsigned integers, DOUBLE, BOOLEAN, TIMESTAMP), the 30-day count of
// each event precomputed as a column (brasa keeps window counts per event
// and window the same way), and the cohorts two ways: a membership table
// `cohort_members(cohort, id)` the segment semi-joins, and a list column
// `users.cohorts` (`list`, tested with list_contains). The segment is also
// asked with a BOOLEAN column per cohort on `users` (`wide`: no join, no
// list, but a column per cohort, added as cohorts appear), and of a copy of `users` sorted by (tier, age)
// (`sorted`), a layout made for this segment: DuckDB's per-block min/max
// then skips most of the table. It doubles the table and serves only
// segments that lead with those attributes, so it is printed for
// information, not compared with the goal.
//
// Each question is prepared once (brasa compiles its definition once too),
// run twice to warm up, then RUNS times; prints per question
// `q KEY COUNT BEST_MS MEDIAN_MS`, then `load SECONDS`, `memory SIZE` (the
// database's in-memory size as DuckDB reports it), `rss BYTES` (the
// process's, Node included; both before the sorted copy), `threads N` and
// `version V`.
// usage: node segments_duckdb.js DIR [RUNS]
'use strict';
const os = require('node:os');
const path = require('node:path');
const { DuckDBInstance, version } = require('@duckdb/node-api');

const [dir, runsArg] = process.argv.slice(2);
if (!dir) {
  console.error('usage: node segments_duckdb.js DIR [RUNS]');
  process.exit(2);
}
const runs = Number(runsArg || 21);

const inC1 = "id IN (SELECT id FROM cohort_members WHERE cohort = 'c1')";
const questions = [
  ['all4', `SELECT count(*) FROM users WHERE tier = 'gold' AND age BETWEEN 25 AND 40 AND ${inC1} AND cart_30d >= 3`],
  ['tier', "SELECT count(*) FROM users WHERE tier = 'gold'"],
  ['age', 'SELECT count(*) FROM users WHERE age BETWEEN 25 AND 40'],
  ['cohort', `SELECT count(*) FROM users WHERE ${inC1}`],
  ['cart', 'SELECT count(*) FROM users WHERE cart_30d >= 3'],
  ['all4_list', "SELECT count(*) FROM users WHERE tier = 'gold' AND age BETWEEN 25 AND 40 AND list_contains(cohorts, 'c1') AND cart_30d >= 3"],
  ['cohort_list', "SELECT count(*) FROM users WHERE list_contains(cohorts, 'c1')"],
  ['all4_wide', "SELECT count(*) FROM users WHERE tier = 'gold' AND age BETWEEN 25 AND 40 AND in_c1 AND cart_30d >= 3"],
  ['cohort_wide', 'SELECT count(*) FROM users WHERE in_c1'],
  ['all4_sorted', "SELECT count(*) FROM users_sorted WHERE tier = 'gold' AND age BETWEEN 25 AND 40 AND in_c1 AND cart_30d >= 3"],
];

async function main() {
  const threads = os.availableParallelism ? os.availableParallelism() : os.cpus().length;
  const db = await DuckDBInstance.create(':memory:', { threads: String(threads) });
  const c = await db.connect();
  const t0 = process.hrtime.bigint();
  await c.run(`
    CREATE TYPE tier_t AS ENUM ('gold', 'silver', 'bronze', 'platinum', 'none');
    CREATE TYPE plan_t AS ENUM ('free', 'pro', 'team', 'enterprise');
    CREATE TYPE cohort_t AS ENUM ('c1', 'c2', 'c3');
    CREATE TABLE users (
      id UINTEGER, external_id VARCHAR, tier tier_t, age UTINYINT, score DOUBLE, vip BOOLEAN,
      city VARCHAR, signup TIMESTAMP, plan plan_t, visits USMALLINT, ltv DOUBLE, referrer VARCHAR,
      cart_30d UTINYINT, view_30d UTINYINT, search_30d UTINYINT, share_30d UTINYINT, login_30d UTINYINT,
      cohorts cohort_t[], in_c1 BOOLEAN, in_c2 BOOLEAN, in_c3 BOOLEAN);
    CREATE TABLE cohort_members (cohort cohort_t, id UINTEGER);`);
  // COPY into the typed tables: each value is parsed as its column's type.
  const csv = (f) => path.resolve(dir, f).replace(/'/g, "''");
  await c.run(`COPY users FROM '${csv('users.csv')}' (HEADER)`);
  await c.run(`COPY cohort_members FROM '${csv('cohort_members.csv')}' (HEADER)`);
  await c.run('CHECKPOINT'); // more than halves the tables' memory (compression)
  const loadS = Number(process.hrtime.bigint() - t0) / 1e9;
  const size = await c.runAndReadAll('SELECT memory_usage FROM pragma_database_size()');
  const rss = process.memoryUsage.rss();
  await c.run('CREATE TABLE users_sorted AS SELECT * FROM users ORDER BY tier, age');
  await c.run('CHECKPOINT');

  for (const [key, sql] of questions) {
    const st = await c.prepare(sql);
    let count;
    const times = [];
    for (let i = 0; i < runs + 2; i++) {
      const s = process.hrtime.bigint();
      const r = await st.runAndReadAll();
      const ms = Number(process.hrtime.bigint() - s) / 1e6;
      count = r.getRows()[0][0];
      if (i >= 2) times.push(ms);
    }
    times.sort((a, b) => a - b);
    console.log(`q ${key} ${count} ${times[0].toFixed(3)} ${times[times.length >> 1].toFixed(3)}`);
  }
  console.log(`load ${loadS.toFixed(1)}`);
  console.log(`memory ${size.getRows()[0][0]}`);
  console.log(`rss ${rss}`);
  console.log(`threads ${threads}`);
  console.log(`version ${version()}`);
  c.closeSync();
}

main().catch((e) => {
  console.error(`segments_duckdb: ${e.message}`);
  process.exit(1);
});
