'use strict';
// Neo4j's JavaScript CDC example ("Example CDC usage in JavaScript",
// https://neo4j.com/docs/cdc/current/examples/js): its functions with their statement texts
// unchanged. Two changes only: applyChange hands the change to a callback instead of printing
// it with util.inspect, and main's command-line parsing (yargs) is left out; the loop
// (queryChangesLoop) is bounded by a number of rounds so that it ends.

let applyChange = (change) => console.log(change.toObject());

function setApplyChange(fn) {
  applyChange = fn;
}

async function queryChanges(driver, database, cursor, selectors) {
  const session = driver.session({ database: database });
  try {
    const current = currentChangeId(driver, database);
    await session.executeRead((tx) => {
      return tx.run('CALL db.cdc.query($from, $selectors)',
        { from: cursor, selectors: selectors });
    })
      .then((res) => {
        if (res.records.length === 0) {
          cursor = current;
        } else {
          res.records.map((change) => {
            applyChange(change);
            cursor = change.get('id');
          });
        }
      });
  } catch (e) {
    console.log('Failed to apply change', e);
  } finally {
    session.close();
  }
  return cursor;
}

function queryChangesLoop(driver, database, cursor, selectors, rounds, done) {
  if (rounds === 0) {
    done(cursor);
    return;
  }
  setTimeout(async () => {
    cursor = await queryChanges(driver, database, cursor, selectors);
    queryChangesLoop(driver, database, cursor, selectors, rounds - 1, done);
  }, 500);
}

function earliestChangeId(driver, database) {
  return driver.executeQuery('CALL db.cdc.earliest', {}, { database: database })
    .then((res) => {
      return res.records[0].get('id');
    });
}

function currentChangeId(driver, database) {
  return driver.executeQuery('CALL db.cdc.current', {}, { 'database': database })
    .then((res) => {
      return res.records[0].get('id');
    });
}

module.exports = { setApplyChange, queryChanges, queryChangesLoop, earliestChangeId, currentChangeId };
