'use strict';
// @neo4j/graphql's CDC poller, the class CDCApi of packages/graphql/src/classes/subscription/
// cdc/cdc-api.ts, ported from TypeScript with its statements built the way the library builds
// them: the same Cypher Builder calls, with the Cypher Builder version that @neo4j/graphql
// 7.6.3 depends on (3.2.2, pinned in package.json). The cursor and the selectors are inlined
// as literals, as the library does; the default selector is one node selector per label
// ({select: "n", labels: [label]}). Every poll is one statement:
//
//   CALL db.cdc.current() YIELD id AS currentId
//   OPTIONAL CALL db.cdc.query('<cursor>', [{select: 'n', labels: ['Company']}]) YIELD id AS id, txId, seq, event, metadata
//   WITH *
//   ORDER BY txId ASC, seq ASC
//   RETURN currentId, id, event, metadata, count(id) AS eventCount
//
// When it returns no event the cursor moves to currentId; when the cursor is stale (GQLSTATUS
// 52N27 to 52N30 or InvalidIdentifier) the poller warns, moves the cursor to db.cdc.current
// and returns no events, as the library does.
const Cypher = require('@neo4j/cypher-builder');
const { Neo4jError } = require('neo4j-driver');

// errorHasGQLStatus is the library's utils/error-has-gql-status: the status of the error or
// of any error in its cause chain.
function errorHasGQLStatus(err, status) {
  for (let e = err; e; e = e.cause) {
    if (e.gqlStatus === status) return true;
  }
  return false;
}

class CDCApi {
  constructor(driver, queryConfig) {
    this.driver = driver;
    this.cursor = '';
    this.queryConfig = queryConfig;
    this.warnings = [];
  }

  // queryEvents queries the events since the last call.
  async queryEvents(labels, txFilter) {
    if (!this.cursor) {
      await this.refreshCursor();
    }
    const cdcSelectors = this.createQuerySelectors(labels);
    if (txFilter) {
      cdcSelectors.map((selector) => selector.set('txMetadata', txFilter));
    }
    const cdcQueryProcedure = this.createCDCQuery(this.cursor, cdcSelectors);
    try {
      const events = await this.runProcedure(cdcQueryProcedure);
      const firstEventOrNull = events[0];
      if (!firstEventOrNull) {
        throw new Error('No records found on CDC transaction, this is likely a problem with the GraphQL library, please reach support');
      }
      if (firstEventOrNull.eventCount.toInt() === 0) {
        this.cursor = firstEventOrNull.currentId;
        return [];
      }
      this.updateChangeIdWithLastEvent(events);
      return events;
    } catch (err) {
      if (err instanceof Neo4jError) {
        if (errorHasGQLStatus(err, '52N27') || errorHasGQLStatus(err, '52N28') || errorHasGQLStatus(err, '52N29') ||
          errorHasGQLStatus(err, '52N30') || err.code === 'Neo.ClientError.ChangeDataCapture.InvalidIdentifier') {
          this.warnings.push(err); // the library: console.warn(err)
          await this.refreshCursor();
          return [];
        }
      }
      throw err;
    }
  }

  async refreshCursor() {
    this.cursor = await this.fetchCurrentChangeId();
  }

  async fetchCurrentChangeId() {
    const result = await this.runProcedure(Cypher.db.cdc.current());
    if (result[0] && result[0].id) {
      return result[0].id;
    }
    throw new Error('id not available on cdc.current');
  }

  createCDCQuery(cursor, cdcSelectors) {
    const cursorLiteral = new Cypher.Literal(cursor);
    const currentId = new Cypher.NamedVariable('currentId');
    const changeId = new Cypher.NamedVariable('id');
    const event = new Cypher.NamedVariable('event');
    const metadata = new Cypher.NamedVariable('metadata');
    const txId = new Cypher.NamedVariable('txId');
    const seq = new Cypher.NamedVariable('seq');
    return Cypher.utils.concat(
      Cypher.db.cdc.current().yield(['id', currentId]),
      Cypher.db.cdc
        .query(cursorLiteral, cdcSelectors)
        .optional()
        .yield(['id', changeId], 'txId', 'seq', 'event', 'metadata')
        .with('*')
        .orderBy([txId, 'ASC'], [seq, 'ASC'])
        .return(currentId, changeId, event, metadata, [Cypher.count(changeId), 'eventCount']),
    );
  }

  updateChangeIdWithLastEvent(events) {
    const lastEvent = events[events.length - 1];
    if (lastEvent) {
      this.cursor = lastEvent.id;
    }
  }

  createQuerySelectors(labels) {
    if (labels) {
      return labels.map((l) => new Cypher.Map({
        select: new Cypher.Literal('n'),
        labels: new Cypher.Literal([l]),
      }));
    }
    return [new Cypher.Map({ select: new Cypher.Literal('n') })];
  }

  async runProcedure(procedure) {
    const { cypher, params } = procedure.build();
    const result = await this.driver.executeQuery(cypher, params, this.queryConfig);
    return result.records.map((record) => record.toObject());
  }
}

// pollStatement returns {cypher, params} of one poll from cursor over labels.
function pollStatement(cursor, labels) {
  const api = new CDCApi(null);
  return api.createCDCQuery(cursor, api.createQuerySelectors(labels)).build();
}

module.exports = { CDCApi, pollStatement };
