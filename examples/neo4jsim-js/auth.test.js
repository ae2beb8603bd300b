'use strict';
// Wrong passwords. The simulator answers FAILURE Neo.ClientError.Security.Unauthorized for
// the LOGON, IGNORED for every request pipelined behind it, and closes the connection.
const { test } = require('node:test');
const assert = require('node:assert/strict');
const { neo4j, connect, database, reader, readerPassword } = require('./env');

const unauthorized = 'Neo.ClientError.Security.Unauthorized';
const message = 'The client is unauthorized due to authentication failure.';

test('a wrong driver password is Unauthorized', async () => {
  const driver = connect(neo4j.auth.basic(reader, 'wrong'));
  try {
    await assert.rejects(driver.executeQuery('RETURN 1', {}, { database }),
      (e) => e.code === unauthorized && e.message === message);
    assert.equal(await driver.verifyAuthentication(), false);
  } finally {
    await driver.close();
  }
});

test('a wrong session password on a new connection is Unauthorized', async () => {
  const driver = connect(neo4j.auth.basic(reader, readerPassword));
  try {
    const session = driver.session({ database, auth: neo4j.auth.basic(reader, 'wrong') });
    await assert.rejects(session.run('RETURN 1'), (e) => e.code === unauthorized && e.message === message);
    await session.close();
    await assert.rejects(driver.executeQuery('RETURN 1', {}, { database, auth: neo4j.auth.basic(reader, 'wrong') }),
      (e) => e.code === unauthorized);
    assert.equal(await driver.verifyAuthentication({ auth: neo4j.auth.basic(reader, 'wrong') }), false);
  } finally {
    await driver.close();
  }
});

test('a wrong session password on a pooled connection fails, and the driver recovers', async () => {
  const driver = connect(neo4j.auth.basic(reader, readerPassword));
  try {
    let session = driver.session({ database });
    await session.run('RETURN 1');
    await session.close();
    // The pooled connection is re-authenticated with LOGOFF and LOGON, pipelined with the
    // RUN and PULL. The driver's own LOGON error handler (BoltProtocol._onLoginError in
    // neo4j-driver-bolt-connection) reports a failed LOGON to the requests queued behind it
    // with code ProtocolError; the message is the server's Unauthorized message.
    session = driver.session({ database, auth: neo4j.auth.basic(reader, 'wrong') });
    await assert.rejects(session.run('RETURN 1'), (e) => e.message === message);
    await session.close();
    session = driver.session({ database });
    const res = await session.run('RETURN 2 AS two');
    assert.equal(res.records[0].get('two').toNumber(), 2);
    await session.close();
  } finally {
    await driver.close();
  }
});
