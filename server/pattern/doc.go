// Package pattern parses the pattern grammar of Neo4j's Kafka connector (and of Neo4j's Java CDC
// client, which implements it) into cdcstream selectors: the strings of
// SubscribeRequest.patterns, such as "(:Person{name,-age})" or
// "(:Person)-[:KNOWS{since}]->(:Person{id: 42})". docs/patterns.md documents the grammar with
// examples; this comment states the contract.
//
// Parse turns one string, holding one pattern or several separated by commas, into selectors:
//   - a node pattern "(:L1:L2{key: literal, prop, +prop, -prop, *})" becomes one NodeSelector
//     with those labels (all must be present), the key literals as its key, and the property
//     selectors as its Projection;
//   - a relationship pattern "(a)-[:TYPE{...}]->(b)" becomes one RelationshipSelector with the
//     type, the start and end node's labels and keys, the relationship's keys and projection;
//     "<-" swaps start and end; an undirected "-" (or "<->") becomes two selectors, one per
//     direction (one when both directions are the same selector). Property selectors are not
//     allowed on the end nodes of a relationship pattern, as in Neo4j's client.
//
// Projection: "*" or no property selector keeps every property; "-p" drops p; "p" or "+p"
// keeps only the named properties (besides "*", which keeps all). Exclusion wins.
//
// Parse only checks syntax and reports the first error as an *Error holding the character
// position (Unicode code points, counted from 1). It does not judge the values: a null or NaN
// key literal, a map as a key value, an overlong name or deep nesting come out as selectors
// that the server's selector validation refuses, as it refuses the same typed selectors. It
// never panics; work is linear in the input, which the caller bounds (the server counts pattern
// bytes against its selector byte limit before parsing), and literals nest at most MaxDepth
// levels, so no input exhausts the stack.
//
// Format writes a selector back in the grammar, canonically: Parse(Format(s)) yields s again
// for every selector Parse produced.
package pattern
