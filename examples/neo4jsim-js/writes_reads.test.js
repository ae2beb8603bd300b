'use strict';
// An application's own writes (executeWrite with transaction metadata) come back through
// db.cdc.query as the right events, metadata and keys; reads of the graph return nodes and
// relationships.
const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const { neo4j, connect, database, plain, user } = require('./env');

let driver;
before(() => { driver = connect(); });
after(async () => { await driver.close(); });

async function write(query, params, metadata) {
  const session = driver.session({ database });
  try {
    return await session.executeWrite((tx) => tx.run(query, params), { metadata, timeout: 10000 });
  } finally {
    await session.close();
  }
}

async function changesSince(from) {
  const { records } = await driver.executeQuery(
    'CALL db.cdc.query($from, []) YIELD id, txId, seq, metadata, event RETURN id, txId, seq, metadata, event',
    { from }, { database, routing: neo4j.routing.READ });
  return records.map((r) => r.toObject());
}

async function current() {
  const { records } = await driver.executeQuery('CALL db.cdc.current()', {}, { database });
  return records[0].get('id');
}

test('CREATE, MERGE, SET, REMOVE and DELETE through executeWrite arrive as CDC events with metadata and keys', async () => {
  const from = await current();
  const created = await write(
    'CREATE (a:Person {id: $a, name: $an})-[k:KNOWS {since: 2020}]->(b:Person {id: $b, name: $bn}) RETURN elementId(a) AS a, elementId(b) AS b, elementId(k) AS k',
    { a: neo4j.int(1), an: 'Ann', b: neo4j.int(2), bn: 'Bob' }, { app: 'neo4jsim-js', step: 'create' });
  const [eidA, eidB, eidK] = ['a', 'b', 'k'].map((k) => created.records[0].get(k));
  await write('MERGE (p:Person {id: $id}) ON MATCH SET p.seen = true ON CREATE SET p.seen = false',
    { id: neo4j.int(1) }, { app: 'neo4jsim-js', step: 'merge' });
  await write('MATCH (p:Person {id: $id}) SET p.name = $name, p:Admin REMOVE p.seen',
    { id: neo4j.int(1), name: 'Ann B' }, { app: 'neo4jsim-js', step: 'set' });
  await write('MATCH (p:Person {id: $id}) DETACH DELETE p', { id: neo4j.int(2) }, { app: 'neo4jsim-js', step: 'delete' });

  const changes = await changesSince(from);
  const steps = changes.map((c) => `${c.metadata.txMetadata.step}:${c.event.eventType}:${c.event.operation}`);
  assert.deepEqual(steps, ['create:n:c', 'create:n:c', 'create:r:c', 'merge:n:u', 'set:n:u', 'delete:n:d', 'delete:r:d']);
  for (const c of changes) {
    assert.equal(c.metadata.txMetadata.app, 'neo4jsim-js');
    assert.equal(c.metadata.authenticatedUser, user);
    assert.equal(c.metadata.executingUser, user);
    assert.equal(c.metadata.connectionType, 'bolt');
    assert.equal(c.metadata.captureMode, 'FULL');
    assert.equal(c.metadata.databaseName, database);
  }
  const [na, nb, rel, merged, set, deletedNode, deletedRel] = changes;
  assert.equal(na.event.elementId, eidA);
  assert.equal(nb.event.elementId, eidB);
  assert.deepEqual(plain(na.event.keys), { Person: [{ id: 1 }] });
  assert.deepEqual(plain(na.event.state.after.properties), { id: 1, name: 'Ann' });
  assert.equal(na.event.state.before, null);
  assert.equal(rel.event.elementId, eidK);
  assert.equal(rel.event.type, 'KNOWS');
  assert.equal(rel.event.start.elementId, eidA);
  assert.equal(rel.event.end.elementId, eidB);
  assert.deepEqual(plain(rel.event.start.keys), { Person: [{ id: 1 }] });
  assert.deepEqual(plain(rel.event.state.after.properties), { since: 2020 });
  assert.deepEqual(plain(merged.event.state.after.properties), { id: 1, name: 'Ann', seen: true });
  assert.deepEqual(plain(set.event.state.before.properties), { id: 1, name: 'Ann', seen: true });
  assert.deepEqual(plain(set.event.state.after.properties), { id: 1, name: 'Ann B' });
  assert.deepEqual([...set.event.state.after.labels].sort(), ['Admin', 'Person']);
  assert.equal(deletedNode.event.elementId, eidB);
  assert.deepEqual(plain(deletedNode.event.state.before.properties), { id: 2, name: 'Bob' });
  assert.equal(deletedNode.event.state.after, null);
  assert.equal(deletedRel.event.elementId, eidK);
  assert.equal(plain(na.txId), plain(rel.txId));
  assert.ok(plain(merged.txId) > plain(na.txId));
});

test('graph reads return nodes, relationships and counts', async () => {
  await write('CREATE (:Person {id: $id, name: $name})-[:KNOWS {since: 2024}]->(:Person {id: $id2, name: $name2})',
    { id: neo4j.int(10), name: 'Cy', id2: neo4j.int(11), name2: 'Di' }, { app: 'neo4jsim-js', step: 'read-setup' });
  let res = await driver.executeQuery('MATCH (n:Person) WHERE n.id >= $min AND n.id < $max RETURN n ORDER BY n.id', { min: neo4j.int(10), max: neo4j.int(12) },
    { database, routing: neo4j.routing.READ });
  assert.deepEqual(res.records.map((r) => plain(r.get('n').properties)), [{ id: 10, name: 'Cy' }, { id: 11, name: 'Di' }]);
  const n = res.records[0].get('n');
  assert.ok(neo4j.isNode(n));
  assert.deepEqual(n.labels, ['Person']);
  assert.match(n.elementId, /^4:[0-9a-f-]{36}:\d+$/);

  res = await driver.executeQuery(
    'MATCH (a:Person)-[r:KNOWS]->(b:Person) WHERE a.id = $id RETURN a, r, b, type(r) AS t, elementId(r) AS eid',
    { id: neo4j.int(10) }, { database });
  assert.equal(res.records.length, 1);
  const r = res.records[0].get('r');
  assert.ok(neo4j.isRelationship(r));
  assert.equal(r.type, 'KNOWS');
  assert.equal(res.records[0].get('t'), 'KNOWS');
  assert.equal(r.elementId, res.records[0].get('eid'));
  assert.equal(r.startNodeElementId, res.records[0].get('a').elementId);
  assert.equal(r.endNodeElementId, res.records[0].get('b').elementId);

  res = await driver.executeQuery('MATCH (n:Person) RETURN count(n) AS c', {}, { database });
  const before = plain(res.records[0].get('c'));
  await write('CREATE (:Person {id: $id, name: $name})', { id: neo4j.int(12), name: 'Ed' }, { app: 'neo4jsim-js', step: 'count' });
  res = await driver.executeQuery('MATCH (n:Person) RETURN count(n) AS c', {}, { database });
  assert.equal(plain(res.records[0].get('c')), before + 1);
});

test('a key constraint violation fails the write with Neo4j\'s code and leaves no change', async () => {
  const from = await current();
  await assert.rejects(
    write('CREATE (:Person {id: $id, name: $name})', { id: neo4j.int(10), name: 'again' }, { app: 'neo4jsim-js', step: 'dup' }),
    (e) => e.code === 'Neo.ClientError.Schema.ConstraintValidationFailed');
  assert.deepEqual(await changesSince(from), []);
});
