'use strict';
// Neo4j's documented Python CDC loop, the class CDCService of "Example CDC usage in Python"
// (https://neo4j.com/docs/cdc/current/examples/python), ported method by method to the
// JavaScript driver with its three statement texts unchanged:
//
//   CALL db.cdc.query($cursor, $selectors)   in a read transaction (execute_read)
//   CALL db.cdc.earliest                     through the driver's execute_query
//   CALL db.cdc.current                      through the driver's execute_query
//
// As in the original, the current change id is read before the query, and when the query
// returns nothing the cursor moves to that id, so that strict selectors cannot leave the
// cursor behind the retained log. apply_change prints the record as JSON; the port collects
// it in this.applied instead, so that the tests can check what the loop saw.

class CDCService {
  constructor(driver, database, startCursor = null, selectors = null) {
    this.driver = driver;
    this.database = database;
    this.cursor = startCursor;
    this.selectors = selectors;
    this.applied = [];
  }

  // Python's __init__ calls current_change_id() when no start cursor is given; a JavaScript
  // constructor cannot wait, so create() does it.
  static async create(driver, database, startCursor = null, selectors = null) {
    const svc = new CDCService(driver, database, startCursor, selectors);
    if (svc.cursor === null) {
      svc.cursor = await svc.currentChangeId();
    }
    return svc;
  }

  applyChange(record) {
    const recordDict = {};
    for (const k of ['id', 'txId', 'seq', 'event', 'metadata']) {
      recordDict[k] = record.get(k);
    }
    this.applied.push(recordDict);
  }

  async queryChangesQuery(tx) {
    const current = await this.currentChangeId();
    const result = await tx.run('CALL db.cdc.query($cursor, $selectors)',
      { cursor: this.cursor, selectors: this.selectors });
    if (result.records.length === 0) {
      this.cursor = current;
    } else {
      for (const record of result.records) {
        try {
          this.applyChange(record);
        } catch (e) {
          console.log('Error whilst applying change', e);
          break;
        }
        this.cursor = record.get('id');
      }
    }
  }

  async queryChanges() {
    const session = this.driver.session({ database: this.database });
    try {
      await session.executeRead((tx) => this.queryChangesQuery(tx));
    } finally {
      await session.close();
    }
  }

  async earliestChangeId() {
    const { records } = await this.driver.executeQuery('CALL db.cdc.earliest', {}, { database: this.database });
    return records[0].get('id');
  }

  async currentChangeId() {
    const { records } = await this.driver.executeQuery('CALL db.cdc.current', {}, { database: this.database });
    return records[0].get('id');
  }

  // run is the original's endless loop (while True: query changes, pause); rounds bounds it.
  async run(rounds, pauseMs = 500) {
    for (let i = 0; i < rounds; i++) {
      await this.queryChanges();
      await new Promise((r) => setTimeout(r, pauseMs));
    }
  }
}

module.exports = { CDCService };
