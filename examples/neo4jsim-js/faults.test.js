'use strict';
// Faults injected through the simulator's admin API (NEO4JSIM_ADMIN, its base URL), as the
// JavaScript driver sees them: a transient failure is retried by executeRead, a client error
// is not, and a dropped connection is replaced.
const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const { connect, database } = require('./env');

const admin = process.env.NEO4JSIM_ADMIN;

async function post(path, body) {
  const res = await fetch(admin + path, { method: 'POST', body: JSON.stringify(body) });
  const text = await res.text();
  assert.equal(res.status, 200, `${path}: ${text}`);
  return JSON.parse(text);
}

async function status() {
  const res = await fetch(admin + '/status');
  assert.equal(res.status, 200);
  return res.json();
}

let driver;
before(() => {
  assert.ok(admin, 'NEO4JSIM_ADMIN is not set');
  driver = connect(undefined, { maxTransactionRetryTime: 15000 });
});
after(async () => { await driver.close(); });

async function currentInReadTx() {
  const session = driver.session({ database });
  try {
    return await session.executeRead(async (tx) => (await tx.run('CALL db.cdc.current')).records[0].get('id'));
  } finally {
    await session.close();
  }
}

test('an injected transient failure is retried by executeRead', async () => {
  const before = (await status()).stats;
  assert.deepEqual(await post('/statements/fail', { count: 1 }), { pendingFailures: 1 });
  const id = await currentInReadTx();
  assert.equal(typeof id, 'string');
  const after = (await status()).stats;
  assert.equal(after.failedNext, before.failedNext + 1);
  assert.ok(after.statements >= before.statements + 2, 'the failed attempt and the retry');
});

test('an injected client error is not retried and keeps its code', async () => {
  await post('/statements/fail', { count: 1, code: 'Neo.ClientError.Statement.ArgumentError', message: 'injected from JavaScript' });
  await assert.rejects(currentInReadTx(),
    (e) => e.code === 'Neo.ClientError.Statement.ArgumentError' && e.message === 'injected from JavaScript');
  assert.equal((await status()).faults.pendingFailures, 0);
});

test('after the admin API drops every connection the driver reconnects', async () => {
  await currentInReadTx();
  const accepted = (await status()).stats.connectionsAccepted;
  const { dropped } = await post('/connections/drop', {});
  assert.ok(dropped >= 1);
  assert.equal(typeof await currentInReadTx(), 'string');
  assert.ok((await status()).stats.connectionsAccepted > accepted);
});
