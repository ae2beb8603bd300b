'use strict';
// The simulator the tests run against, from the environment the Go test (internal/polyglot)
// sets: NEO4JSIM_URI (bolt://127.0.0.1:PORT), NEO4JSIM_USER, NEO4JSIM_PASSWORD,
// NEO4JSIM_DATABASE, NEO4JSIM_READER and NEO4JSIM_READER_PASSWORD (a second, non-admin user).
const neo4j = require('neo4j-driver');

function env(name) {
  const v = process.env[name];
  if (!v) {
    throw new Error(`${name} is not set: run these tests through internal/polyglot (make test-polyglot)`);
  }
  return v;
}

const uri = env('NEO4JSIM_URI');
const user = env('NEO4JSIM_USER');
const password = env('NEO4JSIM_PASSWORD');
const database = env('NEO4JSIM_DATABASE');
const reader = env('NEO4JSIM_READER');
const readerPassword = env('NEO4JSIM_READER_PASSWORD');

// connect returns a driver logged in as the admin user (or with the given auth token).
function connect(auth = neo4j.auth.basic(user, password), config = {}) {
  return neo4j.driver(uri, auth, { maxTransactionRetryTime: 5000, ...config });
}

// plain converts driver values (Integer, Node, temporal types) to plain JSON-able values so
// that tests compare them with deepStrictEqual.
function plain(v) {
  if (neo4j.isInt(v)) return v.toNumber();
  if (v === null || v === undefined) return v;
  if (Array.isArray(v)) return v.map(plain);
  if (neo4j.isDateTime(v) || neo4j.isDate(v) || neo4j.isLocalDateTime(v)) return v.toString();
  if (typeof v === 'object') {
    const out = {};
    for (const [k, x] of Object.entries(v)) out[k] = plain(x);
    return out;
  }
  return v;
}

module.exports = { neo4j, uri, user, password, database, reader, readerPassword, connect, plain };
