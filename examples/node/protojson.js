'use strict';
// Conversion between the objects @grpc/proto-loader produces (keepCase, longs: String,
// enums: String, bytes: String, defaults: false) and the protobuf JSON mapping with .proto field
// names, driven by the message descriptors in the package definition. proto-loader's objects
// are close to protobuf JSON already; what differs is handled here: well-known types
// (Timestamp, Duration, NullValue), non-finite doubles, and strict parsing (unknown fields are
// an error, lowerCamelCase names are accepted) for the --selector argument.

/** Resolves the type reference `ref` used inside message `scope` of the package definition. */
function resolve(pkgDef, scope, desc, ref) {
  if (ref.startsWith('.')) return { name: ref.slice(1), desc: pkgDef[ref.slice(1)] && pkgDef[ref.slice(1)].type };
  const nested = (desc.nestedType || []).find((n) => n.name === ref);
  if (nested) return { name: `${scope}.${ref}`, desc: nested };
  const parts = scope.split('.');
  for (let i = parts.length; i >= 0; i--) {
    const name = parts.slice(0, i).concat(ref).join('.');
    if (pkgDef[name]) return { name, desc: pkgDef[name].type };
  }
  throw new Error(`cannot resolve type ${ref} in ${scope}`);
}

function isMapEntry(d) {
  return Boolean(d && d.options && d.options.mapEntry);
}

function pad(n, width) {
  return String(n).padStart(width, '0');
}

/** Fractional seconds as protobuf JSON prints them: 0, 3, 6 or 9 digits. */
function fraction(nanos) {
  if (!nanos) return '';
  if (nanos % 1e6 === 0) return '.' + pad(nanos / 1e6, 3);
  if (nanos % 1e3 === 0) return '.' + pad(nanos / 1e3, 6);
  return '.' + pad(nanos, 9);
}

function timestampToJSON(v) {
  const seconds = BigInt(v.seconds || '0');
  const nanos = v.nanos || 0;
  const d = new Date(Number(seconds) * 1000);
  const ymd = `${pad(d.getUTCFullYear(), 4)}-${pad(d.getUTCMonth() + 1, 2)}-${pad(d.getUTCDate(), 2)}`;
  const hms = `${pad(d.getUTCHours(), 2)}:${pad(d.getUTCMinutes(), 2)}:${pad(d.getUTCSeconds(), 2)}`;
  return `${ymd}T${hms}${fraction(nanos)}Z`;
}

function durationToJSON(v) {
  let seconds = BigInt(v.seconds || '0');
  let nanos = v.nanos || 0;
  const negative = seconds < 0n || nanos < 0;
  if (seconds < 0n) seconds = -seconds;
  if (nanos < 0) nanos = -nanos;
  return `${negative ? '-' : ''}${seconds}${fraction(nanos)}s`;
}

function timestampFromJSON(s) {
  const m = /^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})(\.\d{1,9})?(Z|[+-]\d{2}:\d{2})$/.exec(s);
  if (!m) throw new Error(`bad timestamp ${JSON.stringify(s)}`);
  const millis = Date.parse(m[1] + m[3]);
  if (Number.isNaN(millis)) throw new Error(`bad timestamp ${JSON.stringify(s)}`);
  return { seconds: String(millis / 1000), nanos: m[2] ? Number(m[2].slice(1).padEnd(9, '0')) : 0 };
}

function durationFromJSON(s) {
  const m = /^(-)?(\d+)(\.\d{1,9})?s$/.exec(s);
  if (!m) throw new Error(`bad duration ${JSON.stringify(s)}`);
  const sign = m[1] ? -1 : 1;
  const nanos = m[3] ? Number(m[3].slice(1).padEnd(9, '0')) : 0;
  return { seconds: (m[1] || '') + m[2], nanos: sign * nanos };
}

function scalarToJSON(field, v) {
  if ((field.type === 'TYPE_DOUBLE' || field.type === 'TYPE_FLOAT') && !Number.isFinite(v)) {
    return Number.isNaN(v) ? 'NaN' : v > 0 ? 'Infinity' : '-Infinity';
  }
  // JSON.stringify prints -0 as 0; protobuf JSON parsers accept a double as a string, so keep
  // the sign that way.
  if (Object.is(v, -0)) return '-0';
  return v; // int64 is already a decimal string, bytes a base64 string, enums their names
}

/**
 * toJSON converts a decoded message of type `name` into the protobuf JSON mapping with .proto
 * field names (int64 values stay exact decimal strings).
 */
function toJSON(pkgDef, name, msg, desc = pkgDef[name].type) {
  if (name === 'google.protobuf.Timestamp') return timestampToJSON(msg);
  if (name === 'google.protobuf.Duration') return durationToJSON(msg);
  const out = {};
  for (const field of desc.field) {
    const v = msg[field.name];
    if (v === undefined || v === null) continue;
    out[field.name] = fieldToJSON(pkgDef, name, desc, field, v);
  }
  return out;
}

function fieldToJSON(pkgDef, scope, desc, field, v) {
  if (field.type === 'TYPE_MESSAGE') {
    const t = resolve(pkgDef, scope, desc, field.typeName);
    if (isMapEntry(t.desc)) {
      const valueField = t.desc.field.find((f) => f.name === 'value');
      const m = {};
      for (const [k, item] of Object.entries(v)) m[k] = valueToJSON(pkgDef, t.name, t.desc, valueField, item);
      return m;
    }
  }
  if (field.label === 'LABEL_REPEATED') return v.map((item) => valueToJSON(pkgDef, scope, desc, field, item));
  return valueToJSON(pkgDef, scope, desc, field, v);
}

function valueToJSON(pkgDef, scope, desc, field, v) {
  if (field.type === 'TYPE_MESSAGE') {
    const t = resolve(pkgDef, scope, desc, field.typeName);
    return toJSON(pkgDef, t.name, v, t.desc);
  }
  if (field.type === 'TYPE_ENUM' && /(^|\.)google\.protobuf\.NullValue$/.test(field.typeName)) return null;
  return scalarToJSON(field, v);
}

function lowerCamel(s) {
  return s.replace(/_([a-z0-9])/g, (_, c) => c.toUpperCase());
}

/**
 * fromJSON parses protobuf JSON (proto or lowerCamelCase field names) into an object that
 * proto-loader serializes as message `name`. Unknown fields are an error, as in every protobuf
 * JSON parser, so a mistyped selector never silently matches everything.
 */
function fromJSON(pkgDef, name, json, desc = pkgDef[name].type) {
  if (name === 'google.protobuf.Timestamp') return timestampFromJSON(json);
  if (name === 'google.protobuf.Duration') return durationFromJSON(json);
  if (json === null || typeof json !== 'object' || Array.isArray(json)) {
    throw new Error(`${name}: expected a JSON object, got ${JSON.stringify(json)}`);
  }
  const out = {};
  for (const [key, v] of Object.entries(json)) {
    const field = desc.field.find((f) => f.name === key || lowerCamel(f.name) === key);
    if (!field) throw new Error(`${name}: unknown field ${JSON.stringify(key)}`);
    if (v === null && !(field.type === 'TYPE_ENUM' && /NullValue$/.test(field.typeName))) continue;
    out[field.name] = fieldFromJSON(pkgDef, name, desc, field, v);
  }
  return out;
}

function fieldFromJSON(pkgDef, scope, desc, field, v) {
  if (field.type === 'TYPE_MESSAGE') {
    const t = resolve(pkgDef, scope, desc, field.typeName);
    if (isMapEntry(t.desc)) {
      const valueField = t.desc.field.find((f) => f.name === 'value');
      const m = {};
      for (const [k, item] of Object.entries(v)) m[k] = valueFromJSON(pkgDef, t.name, t.desc, valueField, item);
      return m;
    }
  }
  if (field.label === 'LABEL_REPEATED') {
    if (!Array.isArray(v)) throw new Error(`${scope}.${field.name}: expected a JSON array`);
    return v.map((item) => valueFromJSON(pkgDef, scope, desc, field, item));
  }
  return valueFromJSON(pkgDef, scope, desc, field, v);
}

function valueFromJSON(pkgDef, scope, desc, field, v) {
  if (field.type === 'TYPE_MESSAGE') {
    const t = resolve(pkgDef, scope, desc, field.typeName);
    return fromJSON(pkgDef, t.name, v, t.desc);
  }
  if (field.type === 'TYPE_ENUM') {
    if (/NullValue$/.test(field.typeName)) return 'NULL_VALUE';
    const t = resolve(pkgDef, scope, desc, field.typeName);
    const known = t.desc.value.some((e) => e.name === v || e.number === v);
    if (!known) throw new Error(`${scope}.${field.name}: unknown enum value ${JSON.stringify(v)}`);
    return v;
  }
  return v;
}

module.exports = { toJSON, fromJSON };
