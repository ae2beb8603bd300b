#!/usr/bin/env node
'use strict';
// cdcstream_consumer: follow a cdcstream change stream and print each change as one JSON line.
//
// Output (stdout): one line per ChangeEvent in the protobuf JSON mapping with the .proto field
// names; int64 values stay exact decimal strings (the proto is loaded with longs: String, so no
// int64 ever passes through a JavaScript number). With --checkpoints, checkpoints are printed
// too, as {"checkpoint": {...}} lines. Diagnostics go to stderr.
//
// The consumer keeps the newest cursor it has seen (from changes and checkpoints). How a stream
// ends is decided from the status code and the google.rpc.ErrorInfo reason in the status
// details (the grpc-status-details-bin trailer, read by rpcstatus.js), compared with the
// cdcstream.v1.ErrorReason enum of the contract, never from the message text:
//   - UNAVAILABLE with reason STREAM_ROTATED or SERVER_SHUTTING_DOWN is a planned end (the
//     server sent a final checkpoint first): it resumes strictly after the newest cursor at
//     once, without backoff and without counting an attempt, provided the ended stream
//     delivered at least one message (so a server that keeps refusing cannot make it spin);
//   - other UNAVAILABLE and RESOURCE_EXHAUSTED ends resume after the newest cursor, waiting the
//     google.rpc.RetryInfo delay when the status has one and an exponential backoff otherwise,
//     with at most --max-retries consecutive failed attempts;
//   - OUT_OF_RANGE with reason CURSOR_EXPIRED stops: the message names the expired cursor and
//     the earliest retained cursor (ErrorInfo metadata "earliest_cursor") to restart from;
//   - any other error ends it.
// Every diagnostic names the status code and, when the status has one, the reason, as
// "UNAVAILABLE (STREAM_ROTATED): ...".
//
// A change too large for one gRPC message (gRPC's default receive limit is 4 MiB) arrives as
// ChangeFragment messages (proto/cdcstream/v1/service.proto): the consumer joins their data and
// decodes it as the ChangeEvent it prints, so big changes look like any other. It refuses a
// change larger than --max-change-bytes before buffering any of it, and a fragment that does not
// continue the change in progress; both end it with exit status 1. A partly received change is
// dropped when its stream breaks: its cursor was not received, so the resumed stream sends it
// again whole.
//
// Exit status: 0 after --max-events changes, 1 on a gRPC error (CURSOR_EXPIRED included; the
// status code and reason are printed to stderr) or a refused change, 2 on bad arguments.

const path = require('path');
const { parseArgs } = require('util');
const grpc = require('@grpc/grpc-js');
const protoLoader = require('@grpc/proto-loader');
const { toJSON, fromJSON } = require('./protojson');
const { loadErrorModel, EARLIEST_CURSOR_KEY } = require('./rpcstatus');

const PROG = 'cdcstream_consumer';
const RETRYABLE = new Set([grpc.status.UNAVAILABLE, grpc.status.RESOURCE_EXHAUSTED]);
const STATUS_NAME = Object.fromEntries(Object.entries(grpc.status).map(([k, v]) => [v, k]));
// The largest change (its protobuf encoding) reassembled from fragments unless
// --max-change-bytes says otherwise; the Go client library's default too.
const DEFAULT_MAX_CHANGE_BYTES = 128 * 1024 * 1024;

// Reassembly joins the ChangeFragment messages of one change (one stream attempt's worth).
// decode turns the joined bytes into a ChangeEvent object of the same form as resp.change.
class Reassembly {
  constructor(maxBytes, decode) {
    this.maxBytes = maxBytes;
    this.decode = decode;
    this.parts = null; // the data received so far; null when no change is in progress
  }

  bad(f, why) {
    this.parts = null;
    return new Error(`bad change fragment ${f.index || 0} of ${f.count || 0} (tx_id ${f.tx_id || '0'} seq ${f.seq || '0'}): ${why}`);
  }

  // add returns the ChangeEvent that f completes, or null while fragments are due; it throws
  // on a refused change. Absent fields are proto3 defaults (the loader sets defaults: false).
  add(f) {
    const index = f.index || 0;
    const count = f.count || 0;
    const total = Number(f.total_size || '0');
    const txId = f.tx_id || '0';
    const seq = f.seq || '0';
    if (index === 0) {
      if (this.parts !== null) {
        throw this.bad(f, `a new change began before change tx_id ${this.txId} seq ${this.seq} was complete (${this.next} of ${this.count} fragments)`);
      }
      if (count < 2 || total === 0) throw this.bad(f, 'a fragmented change needs count >= 2 and total_size > 0');
      if (total > this.maxBytes) {
        throw new Error(`change tx_id ${txId} seq ${seq} is ${total} bytes, more than --max-change-bytes ${this.maxBytes}`);
      }
      Object.assign(this, { parts: [], size: 0, next: 0, count, total, txId, seq });
    } else if (this.parts === null) {
      throw this.bad(f, 'no change in progress (its first fragment is missing)');
    } else if (index !== this.next) {
      throw this.bad(f, `expected fragment ${this.next}`);
    } else if (count !== this.count || total !== this.total || txId !== this.txId || seq !== this.seq) {
      throw this.bad(f, `it does not belong to change tx_id ${this.txId} seq ${this.seq}`);
    }
    const data = Buffer.from(f.data || '', 'base64');
    if (data.length === 0 || this.size + data.length > this.total) {
      throw this.bad(f, `data of ${data.length} bytes after ${this.size} of ${this.total} bytes`);
    }
    const last = index === this.count - 1;
    if (Boolean(f.cursor) !== last) throw this.bad(f, 'the cursor belongs on the last fragment, and only there');
    this.parts.push(data);
    this.size += data.length;
    this.next++;
    if (!last) return null;
    if (this.size !== this.total) throw this.bad(f, `the change has ${this.size} bytes, announced ${this.total}`);
    let ev;
    try {
      ev = this.decode(Buffer.concat(this.parts));
    } catch (err) {
      throw this.bad(f, `the reassembled change does not decode: ${err.message}`);
    }
    if ((ev.tx_id || '0') !== this.txId || (ev.seq || '0') !== this.seq || !ev.cursor ||
        ev.cursor.id !== f.cursor.id || (ev.cursor.database || '') !== (f.cursor.database || '')) {
      throw this.bad(f, 'the reassembled change is not the one its fragments announced');
    }
    this.parts = null;
    return ev;
  }
}

// changeDecoder returns a function decoding a ChangeEvent's encoding into the object form
// proto-loader gives resp.change: the bytes are wrapped as SubscribeResponse field 1 (change)
// and decoded by the Subscribe method's own response deserializer.
function changeDecoder(pkgDef) {
  const deserialize = pkgDef['cdcstream.v1.ChangeStreamService'].Subscribe.responseDeserialize;
  return (bytes) => {
    const len = [];
    for (let n = bytes.length; ; n = Math.floor(n / 128)) {
      if (n < 128) {
        len.push(n);
        break;
      }
      len.push((n % 128) | 0x80);
    }
    return deserialize(Buffer.concat([Buffer.from([0x0a, ...len]), bytes])).change;
  };
}

function usage(msg) {
  if (msg) process.stderr.write(`${PROG}: ${msg}\n`);
  process.stderr.write(
    `usage: ${PROG} [--address HOST:PORT] [--database DB] [--from CURSOR_ID | --earliest]\n` +
      '       [--selector JSON]... [--max-events N] [--checkpoints] [--checkpoint-interval SECONDS]\n' +
      '       [--max-retries N] [--backoff SECONDS] [--max-change-bytes N]\n' +
      '       [--proto-dir DIR] [--proto-deps-dir DIR]\n',
  );
  process.exit(msg ? 2 : 0);
}

function number(name, text) {
  const n = Number(text);
  if (!Number.isFinite(n) || n < 0) usage(`--${name} must be a non-negative number, got ${JSON.stringify(text)}`);
  return n;
}

function options(argv) {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      options: {
        address: { type: 'string', default: '127.0.0.1:50051' },
        database: { type: 'string', default: '' },
        from: { type: 'string' },
        earliest: { type: 'boolean', default: false },
        selector: { type: 'string', multiple: true, default: [] },
        'max-events': { type: 'string', default: '0' },
        checkpoints: { type: 'boolean', default: false },
        'checkpoint-interval': { type: 'string', default: '0' },
        'max-retries': { type: 'string', default: '5' },
        backoff: { type: 'string', default: '0.2' },
        'max-change-bytes': { type: 'string', default: String(DEFAULT_MAX_CHANGE_BYTES) },
        'proto-dir': { type: 'string', default: path.join(__dirname, '..', '..', 'proto') },
        'proto-deps-dir': { type: 'string', default: path.join(__dirname, '..', 'proto-deps') },
        help: { type: 'boolean', short: 'h', default: false },
      },
      strict: true,
      allowPositionals: false,
    }).values;
  } catch (err) {
    usage(err.message);
  }
  if (parsed.help) usage('');
  if (parsed.from !== undefined && parsed.earliest) usage('--from and --earliest are mutually exclusive');
  if (!(Number(parsed['max-change-bytes']) >= 1)) usage('--max-change-bytes must be positive');
  return {
    address: parsed.address,
    database: parsed.database,
    from: parsed.from,
    earliest: parsed.earliest,
    selectors: parsed.selector,
    maxEvents: number('max-events', parsed['max-events']),
    checkpoints: parsed.checkpoints,
    checkpointInterval: number('checkpoint-interval', parsed['checkpoint-interval']),
    maxRetries: number('max-retries', parsed['max-retries']),
    backoff: number('backoff', parsed.backoff),
    maxChangeBytes: number('max-change-bytes', parsed['max-change-bytes']),
    protoDir: parsed['proto-dir'],
    protoDepsDir: parsed['proto-deps-dir'],
  };
}

function buildRequest(pkgDef, opts, cursorId) {
  const req = { database: opts.database };
  if (cursorId !== undefined) req.from_cursor = { id: cursorId, database: opts.database };
  else req.position = opts.earliest ? 'START_POSITION_EARLIEST' : 'START_POSITION_NOW';
  req.selectors = opts.selectors.map((text) => fromJSON(pkgDef, 'cdcstream.v1.Selector', JSON.parse(text)));
  if (opts.checkpointInterval > 0) {
    const nanos = Math.round(opts.checkpointInterval * 1e9);
    req.checkpoint_interval = { seconds: String(Math.floor(nanos / 1e9)), nanos: nanos % 1e9 };
  }
  return req;
}

function line(obj) {
  process.stdout.write(JSON.stringify(obj) + '\n');
}

function main() {
  const opts = options(process.argv.slice(2));
  const pkgDef = protoLoader.loadSync('cdcstream/v1/service.proto', {
    includeDirs: [opts.protoDir],
    keepCase: true, // .proto field names, as in the JSON output
    longs: String, // int64 as exact decimal strings, never a float
    enums: String,
    bytes: String, // base64, as protobuf JSON
    defaults: false,
    oneofs: false,
  });
  try {
    buildRequest(pkgDef, opts, undefined); // validate the selectors before connecting
  } catch (err) {
    usage(`bad --selector: ${err.message}`);
  }
  const { Reason, ending } = loadErrorModel(opts.protoDir, opts.protoDepsDir);
  // Reasons of a planned end: the server closed a healthy stream after a final checkpoint.
  const PLANNED = new Set([Reason.STREAM_ROTATED, Reason.SERVER_SHUTTING_DOWN]);
  const proto = grpc.loadPackageDefinition(pkgDef);
  const client = new proto.cdcstream.v1.ChangeStreamService(opts.address, grpc.credentials.createInsecure());
  const decodeChange = changeDecoder(pkgDef);

  let cursorId = opts.from; // newest cursor seen; undefined until one is known
  let seen = 0;
  let failures = 0;
  let done = false;

  const finish = (code) => {
    done = true;
    process.exitCode = code;
    client.close();
  };

  const attempt = () => {
    const resumedFrom = cursorId;
    let delivered = false; // whether this attempt received any message
    const frags = new Reassembly(opts.maxChangeBytes, decodeChange); // dies with its stream
    const call = client.Subscribe(buildRequest(pkgDef, opts, cursorId));
    call.on('data', (resp) => {
      if (done) return;
      delivered = true;
      let change = resp.change;
      if (resp.change_fragment) {
        try {
          change = frags.add(resp.change_fragment);
        } catch (err) {
          process.stderr.write(`${PROG}: ${err.message}\n`);
          finish(1);
          call.cancel();
          return;
        }
        if (!change) return; // more fragments of the change are due
      }
      if (change) {
        failures = 0;
        cursorId = change.cursor.id;
        line(toJSON(pkgDef, 'cdcstream.v1.ChangeEvent', change));
        seen++;
        if (opts.maxEvents && seen >= opts.maxEvents) {
          finish(0);
          call.cancel();
        }
      } else if (resp.checkpoint) {
        failures = 0;
        cursorId = resp.checkpoint.cursor.id;
        if (opts.checkpoints) line({ checkpoint: toJSON(pkgDef, 'cdcstream.v1.Checkpoint', resp.checkpoint) });
      }
      // Unknown message kinds are ignored, as the contract requires.
    });
    // 'status' comes once per call, after the last 'data', for errors and clean ends alike.
    call.on('status', (st) => {
      if (done) return;
      const end = ending(st);
      if (st.code === grpc.status.OK) end.detail = 'stream ended without a status';
      const what = `${STATUS_NAME[st.code] || String(st.code)}${end.reasonName ? ` (${end.reasonName})` : ''}: ${end.detail}`;
      if (st.code === grpc.status.OUT_OF_RANGE && end.reason === Reason.CURSOR_EXPIRED) {
        const earliest = end.metadata[EARLIEST_CURSOR_KEY];
        process.stderr.write(
          `${PROG}: ${what}; cursor ${JSON.stringify(resumedFrom ?? null)} expired, earliest retained cursor: ` +
            (earliest
              ? `${JSON.stringify(earliest)} (restart with --from ${earliest}, changes in between are lost)\n`
              : 'unknown (restart with --earliest, changes in between are lost)\n'),
        );
        finish(1);
        return;
      }
      if (st.code !== grpc.status.OK && !RETRYABLE.has(st.code)) {
        process.stderr.write(`${PROG}: ${what}\n`);
        finish(1);
        return;
      }
      if (st.code === grpc.status.UNAVAILABLE && PLANNED.has(end.reason) && delivered) {
        // Not a failure: no backoff, no attempt counted.
        process.stderr.write(`${PROG}: ${what}; resuming after cursor ${JSON.stringify(cursorId ?? null)} at once (planned end)\n`);
        setImmediate(attempt);
        return;
      }
      failures++;
      if (failures > opts.maxRetries) {
        process.stderr.write(`${PROG}: giving up after ${failures} attempts: ${what}\n`);
        finish(1);
        return;
      }
      const delay =
        end.retryDelay !== undefined
          ? end.retryDelay // the server said how long to wait
          : Math.min(opts.backoff * 2 ** (failures - 1), 5) * (0.8 + 0.4 * Math.random());
      process.stderr.write(
        `${PROG}: ${what}; resuming after cursor ${JSON.stringify(cursorId ?? null)} ` +
          `in ${delay.toFixed(2)}s (attempt ${failures} of ${opts.maxRetries})\n`,
      );
      setTimeout(attempt, delay * 1000);
    });
    call.on('error', () => {}); // reported through 'status'
  };
  attempt();
}

main();
