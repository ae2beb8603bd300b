#!/usr/bin/python3
"""cdcstream_consumer: follow a cdcstream change stream and print each change as one JSON line.

Output (stdout): one line per ChangeEvent, in the protobuf JSON mapping with the .proto field
names (int64 values are JSON strings, exactly as protobuf JSON prints them). With --checkpoints,
checkpoints are printed too, as {"checkpoint": {...}} lines. Diagnostics go to stderr.

The consumer keeps the newest cursor it has seen (from changes and checkpoints). When the stream
ends with UNAVAILABLE or RESOURCE_EXHAUSTED (server restarting, Neo4j unreachable, too many
subscriptions) it resumes strictly after that cursor, with exponential backoff and at most
--max-retries consecutive failed attempts. Any other error ends it.

Exit status: 0 after --max-events changes, 1 on a gRPC error (the status code name is printed
to stderr), 2 on bad arguments.

Stubs are generated from proto/ into ./gen (see README.md); CDCSTREAM_PY_GEN overrides that
directory.
"""

import argparse
import json
import os
import random
import sys
import time

_GEN = os.environ.get("CDCSTREAM_PY_GEN") or os.path.join(os.path.dirname(os.path.abspath(__file__)), "gen")
sys.path.insert(0, _GEN)

import grpc  # noqa: E402  (Debian python3-grpcio)
from google.protobuf import json_format  # noqa: E402  (Debian python3-protobuf)

try:
    from cdcstream.v1 import cursor_pb2, selector_pb2, service_pb2, service_pb2_grpc  # noqa: E402
except ImportError as exc:  # stubs not generated yet
    sys.stderr.write(
        "cdcstream_consumer: generated stubs not found in %s (%s): run `make polyglot-gen`\n" % (_GEN, exc)
    )
    sys.exit(2)

PROG = "cdcstream_consumer"

# Status codes after which a resume from the newest cursor can succeed.
RETRYABLE = (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.RESOURCE_EXHAUSTED)


def parse_args(argv):
    p = argparse.ArgumentParser(prog=PROG, description="Follow a cdcstream change stream.")
    p.add_argument("--address", default="127.0.0.1:50051", help="server host:port (plaintext)")
    p.add_argument("--database", default="", help="Neo4j database (empty: server default)")
    start = p.add_mutually_exclusive_group()
    start.add_argument("--from", dest="from_cursor", metavar="CURSOR_ID", help="resume strictly after this cursor id")
    start.add_argument("--earliest", action="store_true", help="start at the earliest retained change")
    p.add_argument(
        "--selector",
        action="append",
        default=[],
        metavar="JSON",
        help='a cdcstream.v1.Selector in protobuf JSON, e.g. \'{"node":{"labels":["Person"]}}\'; repeatable (OR)',
    )
    p.add_argument("--max-events", type=int, default=0, help="exit 0 after this many changes (0: run until interrupted)")
    p.add_argument("--checkpoints", action="store_true", help="also print checkpoints as JSON lines")
    p.add_argument("--checkpoint-interval", type=float, default=0, help="seconds of quiet before a checkpoint (0: server default)")
    p.add_argument("--max-retries", type=int, default=5, help="consecutive failed resume attempts before giving up")
    p.add_argument("--backoff", type=float, default=0.2, help="first resume delay in seconds (doubles, capped at 5s)")
    args = p.parse_args(argv)
    if args.max_events < 0 or args.max_retries < 0 or args.backoff < 0:
        p.error("--max-events, --max-retries and --backoff must not be negative")
    return args


def build_request(args, cursor_id):
    """Returns the SubscribeRequest for the first attempt (cursor_id None) or a resume."""
    req = service_pb2.SubscribeRequest(database=args.database)
    if cursor_id is not None:
        req.from_cursor.CopyFrom(cursor_pb2.Cursor(id=cursor_id, database=args.database))
    elif args.earliest:
        req.position = service_pb2.START_POSITION_EARLIEST
    else:
        req.position = service_pb2.START_POSITION_NOW
    for text in args.selector:
        sel = req.selectors.add()
        json_format.Parse(text, sel)
    if args.checkpoint_interval > 0:
        req.checkpoint_interval.FromNanoseconds(int(args.checkpoint_interval * 1e9))
    return req


def to_json(msg):
    """One compact JSON line in the protobuf JSON mapping, with .proto field names."""
    d = json_format.MessageToDict(msg, preserving_proto_field_name=True)
    return json.dumps(d, separators=(",", ":"), sort_keys=True)


def emit(line):
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


def run(args):
    try:
        build_request(args, None)  # validate the selectors before connecting
    except json_format.ParseError as exc:
        sys.stderr.write("%s: bad --selector: %s\n" % (PROG, exc))
        return 2
    cursor_id = args.from_cursor  # newest cursor seen; None until one is known
    seen = 0
    failures = 0
    with grpc.insecure_channel(args.address) as channel:
        stub = service_pb2_grpc.ChangeStreamServiceStub(channel)
        while True:
            call = stub.Subscribe(build_request(args, cursor_id))
            try:
                for resp in call:
                    kind = resp.WhichOneof("message")
                    if kind == "change":
                        failures = 0
                        cursor_id = resp.change.cursor.id
                        emit(to_json(resp.change))
                        seen += 1
                        if args.max_events and seen >= args.max_events:
                            call.cancel()
                            return 0
                    elif kind == "checkpoint":
                        failures = 0
                        cursor_id = resp.checkpoint.cursor.id
                        if args.checkpoints:
                            emit(json.dumps({"checkpoint": json_format.MessageToDict(
                                resp.checkpoint, preserving_proto_field_name=True)}, separators=(",", ":"), sort_keys=True))
                    # Unknown message kinds are ignored, as the contract requires.
                code, detail = grpc.StatusCode.OK, "stream ended without a status"
            except grpc.RpcError as err:
                code, detail = err.code(), err.details()
                if code not in RETRYABLE:
                    sys.stderr.write("%s: %s: %s\n" % (PROG, code.name, detail))
                    return 1
            failures += 1
            if failures > args.max_retries:
                sys.stderr.write("%s: giving up after %d attempts: %s: %s\n" % (PROG, failures, code.name, detail))
                return 1
            delay = min(args.backoff * (2 ** (failures - 1)), 5.0) * random.uniform(0.8, 1.2)
            sys.stderr.write("%s: %s: %s; resuming after cursor %r in %.2fs (attempt %d of %d)\n" % (
                PROG, code.name, detail, cursor_id, delay, failures, args.max_retries))
            time.sleep(delay)


def main(argv=None):
    args = parse_args(sys.argv[1:] if argv is None else argv)
    try:
        return run(args)
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
