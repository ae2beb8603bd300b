'use strict';
// The statement @neo4j/graphql's CDC subscriptions engine sends on every poll, built the way
// the library builds it: CDCApi.createCDCQuery in packages/graphql/src/classes/subscription/
// cdc/cdc-api.ts, with the same Cypher Builder calls and the Cypher Builder version that
// @neo4j/graphql 7.6.3 depends on (3.2.2, pinned in package.json). The cursor and the
// selectors are inlined as literals, as the library does; the default selector is one node
// selector per label ({select: "n", labels: [label]}).
const Cypher = require('@neo4j/cypher-builder');

function createQuerySelectors(labels) {
  if (labels) {
    return labels.map((l) => new Cypher.Map({
      select: new Cypher.Literal('n'),
      labels: new Cypher.Literal([l]),
    }));
  }
  return [new Cypher.Map({ select: new Cypher.Literal('n') })];
}

function createCDCQuery(cursor, cdcSelectors) {
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

// pollStatement returns {cypher, params} for one poll from cursor over labels.
function pollStatement(cursor, labels) {
  return createCDCQuery(cursor, createQuerySelectors(labels)).build();
}

module.exports = { pollStatement };
