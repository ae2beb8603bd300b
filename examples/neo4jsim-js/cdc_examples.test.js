'use strict';
// Neo4j's own CDC consumers against the simulator, with the official JavaScript driver:
// the documented Python loop (CDCService) ported, the documented JavaScript example, and the
// poll statement of @neo4j/graphql. Changes are written with Cypher through executeWrite.
const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const { connect, database, plain } = require('./env');
const { CDCService } = require('./cdc_service');
const example = require('./neo4j_js_example');
const { CDCApi, pollStatement } = require('./graphql_poll');

let driver;
before(() => { driver = connect(); });
after(async () => { await driver.close(); });

// createCompanies commits one transaction creating a Company node per id (in db).
async function createCompanies(ids, metadata, db = database) {
  const session = driver.session({ database: db });
  try {
    await session.executeWrite(async (tx) => {
      for (const id of ids) {
        await tx.run('CREATE (c:Company {id: $id, name: $name})', { id, name: `company-${id}` });
      }
    }, { metadata });
  } finally {
    await session.close();
  }
}

test('the Python CDCService loop, ported, follows changes and keeps its cursor at current', async () => {
  const svc = await CDCService.create(driver, database, null, []);
  const start = svc.cursor;
  assert.equal(start, await svc.currentChangeId());
  assert.equal(typeof await svc.earliestChangeId(), 'string');

  await createCompanies([101, 102], { app: 'cdc-service' });
  await svc.queryChanges();
  assert.equal(svc.applied.length, 2);
  assert.deepEqual(svc.applied.map((r) => plain(r.event.state.after.properties.id)), [101, 102]);
  for (const r of svc.applied) {
    assert.equal(r.event.eventType, 'n');
    assert.equal(r.event.operation, 'c');
    assert.deepEqual(r.event.labels, ['Company']);
    assert.deepEqual(plain(r.event.keys), { Company: [{ id: plain(r.event.state.after.properties.id) }] });
    assert.deepEqual(plain(r.metadata.txMetadata), { app: 'cdc-service' });
    assert.equal(r.metadata.authenticatedUser, 'neo4j');
  }
  assert.equal(plain(svc.applied[0].txId), plain(svc.applied[1].txId), 'one transaction');
  assert.deepEqual(svc.applied.map((r) => plain(r.seq)), [0, 1]);
  assert.equal(svc.cursor, svc.applied[1].id);

  // Nothing new: the cursor moves to db.cdc.current, read before the query.
  const current = await svc.currentChangeId();
  await svc.queryChanges();
  assert.equal(svc.applied.length, 2);
  assert.equal(svc.cursor, current);

  // The bounded loop picks up a later change.
  await createCompanies([103], { app: 'cdc-service' });
  await svc.run(2, 10);
  assert.equal(svc.applied.length, 3);
  assert.equal(plain(svc.applied[2].event.state.after.properties.id), 103);
});

test("Neo4j's JavaScript CDC example follows changes from db.cdc.earliest", async () => {
  const seen = [];
  example.setApplyChange((change) => seen.push(change.toObject()));
  const cursor = await example.currentChangeId(driver, database);
  await createCompanies([201], { app: 'js-example' });
  const next = await example.queryChanges(driver, database, cursor, []);
  assert.equal(seen.length, 1);
  assert.equal(seen[0].event.operation, 'c');
  assert.deepEqual(plain(seen[0].metadata.txMetadata), { app: 'js-example' });
  assert.equal(next, seen[0].id);

  // With nothing new the example moves its cursor to current; the loop runs its rounds.
  await createCompanies([202], { app: 'js-example' });
  const last = await new Promise((resolve) => example.queryChangesLoop(driver, database, next, [], 2, resolve));
  assert.equal(seen.length, 2);
  assert.equal(plain(seen[1].event.state.after.properties.id), 202);
  assert.equal(last, await example.currentChangeId(driver, database));

  // From earliest, the whole retained log, in order.
  const all = [];
  example.setApplyChange((change) => all.push(change.toObject()));
  await example.queryChanges(driver, database, await example.earliestChangeId(driver, database), []);
  assert.ok(all.length >= 2);
  const ids = all.map((c) => c.id);
  assert.ok(ids.includes(seen[0].id) && ids.includes(seen[1].id));
});

test("the @neo4j/graphql poll statement returns the current id, the events and their count", async () => {
  const cursor = await example.currentChangeId(driver, database);
  const empty = pollStatement(cursor, ['Company']);
  assert.match(empty.cypher, /^CALL db\.cdc\.current\(\) YIELD id AS currentId\nOPTIONAL CALL db\.cdc\.query\(/);

  // No changes: one row, no event, eventCount 0, the current id.
  let res = await driver.executeQuery(empty.cypher, empty.params, { database });
  assert.deepEqual(res.keys, ['currentId', 'id', 'event', 'metadata', 'eventCount']);
  assert.equal(res.records.length, 1);
  assert.equal(res.records[0].get('currentId'), cursor);
  assert.equal(res.records[0].get('id'), null);
  assert.equal(plain(res.records[0].get('eventCount')), 0);

  // Two Company nodes and a Person: the label selector keeps the Company events, in order.
  await createCompanies([301, 302], { app: 'graphql' });
  const session = driver.session({ database });
  try {
    await session.executeWrite((tx) => tx.run('CREATE (:Person {id: 3001, name: $name})', { name: 'not selected' }));
  } finally {
    await session.close();
  }
  const poll = pollStatement(cursor, ['Company']);
  res = await driver.executeQuery(poll.cypher, poll.params, { database });
  assert.equal(res.records.length, 2);
  const current = await example.currentChangeId(driver, database);
  for (const [i, r] of res.records.entries()) {
    assert.equal(r.get('currentId'), current);
    assert.equal(plain(r.get('eventCount')), 1);
    assert.deepEqual(r.get('event').labels, ['Company']);
    assert.equal(plain(r.get('event').state.after.properties.id), 301 + i);
    assert.deepEqual(plain(r.get('metadata').txMetadata), { app: 'graphql' });
  }
});

test("@neo4j/graphql's CDCApi poller follows changes, moves its cursor to current and recovers a pruned cursor", async () => {
  // A database of its own, since its log is pruned (NEO4JSIM_SCRATCH_DATABASE).
  const db = process.env.NEO4JSIM_SCRATCH_DATABASE;
  const admin = process.env.NEO4JSIM_ADMIN;
  assert.ok(db && admin, 'NEO4JSIM_SCRATCH_DATABASE or NEO4JSIM_ADMIN is not set');
  const api = new CDCApi(driver, { database: db });
  assert.deepEqual(await api.queryEvents(['Company']), []); // first poll: cursor from db.cdc.current
  assert.equal(api.cursor, await example.currentChangeId(driver, db));

  await createCompanies([401, 402], { app: 'graphql' }, db);
  const events = await api.queryEvents(['Company']);
  assert.deepEqual(events.map((e) => plain(e.event.state.after.properties.id)), [401, 402]);
  assert.equal(api.cursor, events[1].id);

  // Nothing new: the cursor moves to the current id the poll returned.
  assert.deepEqual(await api.queryEvents(['Company']), []);
  assert.equal(api.cursor, await example.currentChangeId(driver, db));

  // The transaction log is pruned under the cursor: the poll fails with InvalidIdentifier
  // (52N28), and the poller moves its cursor to current, losing the changes in between.
  await createCompanies([403], { app: 'graphql' }, db);
  await createCompanies([404], { app: 'graphql' }, db);
  const res = await fetch(`${admin}/databases/${db}/prune`, { method: 'POST', body: '{"keepLast": 1}' });
  assert.equal(res.status, 200);
  assert.deepEqual(await api.queryEvents(['Company']), []);
  assert.equal(api.warnings.length, 1);
  assert.equal(api.warnings[0].code, 'Neo.ClientError.ChangeDataCapture.InvalidIdentifier');
  assert.equal(api.warnings[0].gqlStatus, '52N28');
  assert.equal(api.cursor, await example.currentChangeId(driver, db));
});
