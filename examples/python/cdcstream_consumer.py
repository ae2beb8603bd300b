#!/usr/bin/python3
"""cdcstream_consumer: follow a cdcstream change stream and print each change as one JSON line.

Output (stdout): one line per ChangeEvent, in the protobuf JSON mapping with the .proto field
names (int64 values are JSON strings, exactly as protobuf JSON prints them). With --checkpoints,
checkpoints are printed too, as {"checkpoint": {...}} lines. Diagnostics go to stderr.

The consumer keeps the newest cursor it has seen (from changes and checkpoints). How a stream
ends is decided from the status code and the google.rpc.ErrorInfo reason in the status details
(the grpc-status-details-bin trailer), compared with the cdcstream.v1.ErrorReason enum of the
generated stubs, never from the message text:

- UNAVAILABLE with reason STREAM_ROTATED or SERVER_SHUTTING_DOWN is a planned end (the server
  sent a final checkpoint first): the consumer resumes strictly after the newest cursor at once,
  without backoff and without counting an attempt, provided the ended stream delivered at least
  one message (so a server that keeps refusing cannot make it spin).
- Other UNAVAILABLE and RESOURCE_EXHAUSTED ends (Neo4j unreachable, too many subscriptions)
  resume after the newest cursor, waiting the google.rpc.RetryInfo delay when the status has
  one and an exponential backoff otherwise, with at most --max-retries consecutive failed
  attempts.
- OUT_OF_RANGE with reason CURSOR_EXPIRED stops: the message names the expired cursor and the
  earliest retained cursor (ErrorInfo metadata "earliest_cursor") to restart from.
- Any other error ends it.

Every diagnostic names the status code and, when the status has one, the reason, as
"UNAVAILABLE (STREAM_ROTATED): ...".

A change too large for one gRPC message (gRPC's default receive limit is 4 MiB) arrives as
ChangeFragment messages (proto/cdcstream/v1/service.proto): the consumer joins their data and
decodes it as the ChangeEvent it prints, so big changes look like any other. It refuses a change
larger than --max-change-bytes before buffering any of it, and a fragment that does not continue
the change in progress; both end it with exit status 1. A partly received change is dropped
when its stream breaks: its cursor was not received, so the resumed stream sends it again whole.

With --transaction-markers the request asks for TransactionEnd markers and the consumer applies
changes per transaction: it buffers a transaction's changes and, when its marker arrives, prints
one line {"transaction": {"tx_id", "change_count", "cursor", "commit_time", "ended_by",
"changes": [...]}} holding them all. change_count is the number of buffered changes (the buffer
survives the consumer's resumes; the server's own count covers only its stream). ended_by is
"marker" when the server's TransactionEnd ended it, or "inferred" when a resume landed right
after the transaction's last change (no stream can mark it then) and a change of another
transaction, or a checkpoint of the resumed stream at another cursor, proved it ended.
--max-events then counts the changes of printed transactions and exits after the transaction
that reaches it.

Exit status: 0 after --max-events changes, 1 on a gRPC error (CURSOR_EXPIRED included; the
status code and reason are printed to stderr) or a refused change, 2 on bad arguments.

Stubs are generated from proto/ and examples/proto-deps/ (google.rpc.Status and its detail
messages) into ./gen (see README.md); CDCSTREAM_PY_GEN overrides that directory.
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
    from cdcstream.v1 import change_pb2, cursor_pb2, errors_pb2, selector_pb2, service_pb2, service_pb2_grpc  # noqa: E402
    from google.rpc import error_details_pb2, status_pb2  # noqa: E402  (from examples/proto-deps)
except ImportError as exc:  # stubs not generated yet
    sys.stderr.write(
        "cdcstream_consumer: generated stubs not found in %s (%s): run `make polyglot-gen`\n" % (_GEN, exc)
    )
    sys.exit(2)

PROG = "cdcstream_consumer"

# Status codes after which a resume from the newest cursor can succeed.
RETRYABLE = (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.RESOURCE_EXHAUSTED)

# The ErrorInfo domain of cdcstream's reasons: the proto package of the ErrorReason enum.
ERROR_DOMAIN = errors_pb2.DESCRIPTOR.package

# Reasons of a planned end: the server closed a healthy stream after a final checkpoint.
PLANNED = (errors_pb2.STREAM_ROTATED, errors_pb2.SERVER_SHUTTING_DOWN)

# The trailer that carries the serialized google.rpc.Status.
STATUS_DETAILS_KEY = "grpc-status-details-bin"

# The ErrorInfo metadata key holding the earliest retained cursor of a CURSOR_EXPIRED status.
EARLIEST_CURSOR_KEY = "earliest_cursor"

# The largest change (its protobuf encoding) reassembled from fragments unless --max-change-bytes
# says otherwise; the Go client library's default too.
DEFAULT_MAX_CHANGE_BYTES = 128 << 20


class FragmentError(Exception):
    """A change refused while reassembling its fragments."""


class Reassembly(object):
    """Joins the ChangeFragment messages of one change (one stream attempt's worth)."""

    def __init__(self, max_bytes):
        self.max_bytes = max_bytes
        self.parts = None  # the data received so far; None when no change is in progress
        self.size = self.count = self.next = self.total = self.tx_id = self.seq = 0

    def _bad(self, f, why):
        self.parts = None
        return FragmentError("bad change fragment %d of %d (tx_id %d seq %d): %s" % (f.index, f.count, f.tx_id, f.seq, why))

    def add(self, f):
        """Returns the ChangeEvent that f completes, or None while fragments are due; raises FragmentError."""
        if f.index == 0:
            if self.parts is not None:
                raise self._bad(f, "a new change began before change tx_id %d seq %d was complete (%d of %d fragments)" % (
                    self.tx_id, self.seq, self.next, self.count))
            if f.count < 2 or f.total_size == 0:
                raise self._bad(f, "a fragmented change needs count >= 2 and total_size > 0")
            if f.total_size > self.max_bytes:
                raise FragmentError("change tx_id %d seq %d is %d bytes, more than --max-change-bytes %d" % (
                    f.tx_id, f.seq, f.total_size, self.max_bytes))
            self.parts, self.size, self.next = [], 0, 0
            self.count, self.total, self.tx_id, self.seq = f.count, f.total_size, f.tx_id, f.seq
        elif self.parts is None:
            raise self._bad(f, "no change in progress (its first fragment is missing)")
        elif f.index != self.next:
            raise self._bad(f, "expected fragment %d" % self.next)
        elif (f.count, f.total_size, f.tx_id, f.seq) != (self.count, self.total, self.tx_id, self.seq):
            raise self._bad(f, "it does not belong to change tx_id %d seq %d" % (self.tx_id, self.seq))
        if not f.data or self.size + len(f.data) > self.total:
            raise self._bad(f, "data of %d bytes after %d of %d bytes" % (len(f.data), self.size, self.total))
        last = f.index == self.count - 1
        if f.HasField("cursor") != last:
            raise self._bad(f, "the cursor belongs on the last fragment, and only there")
        self.parts.append(f.data)
        self.size += len(f.data)
        self.next += 1
        if not last:
            return None
        if self.size != self.total:
            raise self._bad(f, "the change has %d bytes, announced %d" % (self.size, self.total))
        try:
            ev = change_pb2.ChangeEvent.FromString(b"".join(self.parts))
        except Exception as exc:  # google.protobuf.message.DecodeError
            raise self._bad(f, "the reassembled change does not decode: %s" % exc)
        if ev.tx_id != self.tx_id or ev.seq != self.seq or ev.cursor != f.cursor:
            raise self._bad(f, "the reassembled change is not the one its fragments announced")
        self.parts = None
        return ev


class Ending(object):
    """How a stream attempt ended: the status code and what its status details say."""

    def __init__(self, code, detail, trailers=()):
        self.code = code
        self.detail = detail
        # reason is an ErrorReason value (ERROR_REASON_UNSPECIFIED when the status has no
        # cdcstream ErrorInfo, or one with a reason newer than these stubs); reason_name is the
        # reason as sent, for messages.
        self.reason = errors_pb2.ERROR_REASON_UNSPECIFIED
        self.reason_name = ""
        self.metadata = {}
        # retry_delay is the RetryInfo delay in seconds, None without RetryInfo.
        self.retry_delay = None
        for key, value in trailers or ():
            if key == STATUS_DETAILS_KEY:
                self._decode(value)

    def _decode(self, raw):
        st = status_pb2.Status.FromString(raw)
        for any_msg in st.details:
            if any_msg.Is(error_details_pb2.ErrorInfo.DESCRIPTOR):
                info = error_details_pb2.ErrorInfo()
                any_msg.Unpack(info)
                if info.domain != ERROR_DOMAIN or self.reason_name:
                    continue
                self.reason_name = info.reason
                self.metadata = dict(info.metadata)
                if info.reason in errors_pb2.ErrorReason.keys():
                    self.reason = errors_pb2.ErrorReason.Value(info.reason)
            elif any_msg.Is(error_details_pb2.RetryInfo.DESCRIPTOR):
                ri = error_details_pb2.RetryInfo()
                any_msg.Unpack(ri)
                if ri.HasField("retry_delay") and ri.retry_delay.ToNanoseconds() >= 0:
                    self.retry_delay = ri.retry_delay.ToNanoseconds() / 1e9

    def __str__(self):
        """The status code, the reason when there is one, and the message."""
        reason = " (%s)" % self.reason_name if self.reason_name else ""
        return "%s%s: %s" % (self.code.name, reason, self.detail)


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
    p.add_argument("--transaction-markers", action="store_true",
                   help="ask for transaction end markers and print each transaction's changes as one line")
    p.add_argument("--checkpoint-interval", type=float, default=0, help="seconds of quiet before a checkpoint (0: server default)")
    p.add_argument("--max-retries", type=int, default=5, help="consecutive failed resume attempts before giving up")
    p.add_argument("--backoff", type=float, default=0.2, help="first resume delay in seconds (doubles, capped at 5s)")
    p.add_argument("--max-change-bytes", type=int, default=DEFAULT_MAX_CHANGE_BYTES,
                   help="largest change reassembled from fragments (default 128 MiB)")
    args = p.parse_args(argv)
    if args.max_events < 0 or args.max_retries < 0 or args.backoff < 0 or args.max_change_bytes < 1:
        p.error("--max-events, --max-retries and --backoff must not be negative, --max-change-bytes must be positive")
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
    req.transaction_markers = args.transaction_markers
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


class Transactions(object):
    """Buffers the changes of the open transaction until it ends (--transaction-markers)."""

    def __init__(self):
        self.changes = []  # the open transaction's changes, across resumes
        self.marked = None  # the tx_id of the last transaction printed
        # carried: the buffered changes all came on earlier stream attempts. Only then does a
        # checkpoint end the transaction: the stream that sent its changes marks it itself, and
        # may checkpoint inside a large transaction.
        self.carried = False

    def new_attempt(self):
        self.carried = bool(self.changes)

    def before(self, kind, msg):
        """Returns the line of the open transaction that msg (a change or checkpoint) proves ended, or None."""
        if not self.changes:
            return None
        last = self.changes[-1]
        if kind == "change" and msg.tx_id == last.tx_id:
            return None
        if kind == "checkpoint" and (not self.carried or msg.cursor.id == last.cursor.id):
            return None
        return self._end("inferred", None)

    def add(self, change):
        """Buffers a change; a change of a transaction already printed (a contract breach) is dropped."""
        if change.tx_id != self.marked:
            self.changes.append(change)
            self.carried = False

    def marker(self, end):
        """Returns the line for the server's TransactionEnd end, or None when it ends nothing buffered."""
        if not self.changes or end.tx_id != self.changes[-1].tx_id:
            return None
        return self._end("marker", end)

    def _end(self, ended_by, end):
        changes, self.changes = self.changes, []
        last = changes[-1]
        self.marked = last.tx_id
        commit = end.commit_time if end is not None and end.HasField("commit_time") else last.metadata.tx_commit_time
        line = {
            "tx_id": str(last.tx_id),
            "change_count": len(changes),
            "cursor": last.cursor.id,
            "commit_time": commit.ToJsonString() if commit.seconds or commit.nanos else None,
            "ended_by": ended_by,
            "changes": [json_format.MessageToDict(c, preserving_proto_field_name=True) for c in changes],
        }
        return json.dumps({"transaction": line}, separators=(",", ":"), sort_keys=True), len(changes)


def run(args):
    try:
        build_request(args, None)  # validate the selectors before connecting
    except json_format.ParseError as exc:
        sys.stderr.write("%s: bad --selector: %s\n" % (PROG, exc))
        return 2
    cursor_id = args.from_cursor  # newest cursor seen; None until one is known
    seen = 0
    failures = 0
    txs = Transactions() if args.transaction_markers else None
    with grpc.insecure_channel(args.address) as channel:
        stub = service_pb2_grpc.ChangeStreamServiceStub(channel)
        while True:
            call = stub.Subscribe(build_request(args, cursor_id))
            if txs is not None:
                txs.new_attempt()
            resumed_from = cursor_id
            delivered = False  # whether this attempt received any message
            frags = Reassembly(args.max_change_bytes)  # a change in progress dies with its stream
            try:
                for resp in call:
                    delivered = True
                    kind = resp.WhichOneof("message")
                    change = resp.change
                    if kind == "change_fragment":
                        try:
                            change = frags.add(resp.change_fragment)
                        except FragmentError as exc:
                            call.cancel()
                            sys.stderr.write("%s: %s\n" % (PROG, exc))
                            return 1
                        if change is None:
                            continue  # more fragments of the change are due
                        kind = "change"
                    if txs is not None and kind in ("change", "checkpoint", "transaction_end"):
                        failures = 0
                        if kind == "transaction_end":
                            done = txs.marker(resp.transaction_end)
                        else:
                            done = txs.before(kind, change if kind == "change" else resp.checkpoint)
                        if kind == "change":
                            cursor_id = change.cursor.id
                            txs.add(change)
                        elif kind == "checkpoint":
                            cursor_id = resp.checkpoint.cursor.id
                        if done is not None:
                            emit(done[0])
                            seen += done[1]
                            if args.max_events and seen >= args.max_events:
                                call.cancel()
                                return 0
                        if kind == "checkpoint" and args.checkpoints:
                            emit(json.dumps({"checkpoint": json_format.MessageToDict(
                                resp.checkpoint, preserving_proto_field_name=True)}, separators=(",", ":"), sort_keys=True))
                        continue
                    if kind == "change":
                        failures = 0
                        cursor_id = change.cursor.id
                        emit(to_json(change))
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
                end = Ending(grpc.StatusCode.OK, "stream ended without a status")
            except grpc.RpcError as err:
                end = Ending(err.code(), err.details(), err.trailing_metadata())
                if end.code == grpc.StatusCode.OUT_OF_RANGE and end.reason == errors_pb2.CURSOR_EXPIRED:
                    earliest = end.metadata.get(EARLIEST_CURSOR_KEY)
                    sys.stderr.write("%s: %s; cursor %r expired, earliest retained cursor: %s\n" % (
                        PROG, end, resumed_from,
                        "%r (restart with --from %s, changes in between are lost)" % (earliest, earliest)
                        if earliest else "unknown (restart with --earliest, changes in between are lost)"))
                    return 1
                if end.code not in RETRYABLE:
                    sys.stderr.write("%s: %s\n" % (PROG, end))
                    return 1
            if end.code == grpc.StatusCode.UNAVAILABLE and end.reason in PLANNED and delivered:
                # Not a failure: no backoff, no attempt counted.
                sys.stderr.write("%s: %s; resuming after cursor %r at once (planned end)\n" % (PROG, end, cursor_id))
                continue
            failures += 1
            if failures > args.max_retries:
                sys.stderr.write("%s: giving up after %d attempts: %s\n" % (PROG, failures, end))
                return 1
            if end.retry_delay is not None:
                delay = end.retry_delay  # the server said how long to wait
            else:
                delay = min(args.backoff * (2 ** (failures - 1)), 5.0) * random.uniform(0.8, 1.2)
            sys.stderr.write("%s: %s; resuming after cursor %r in %.2fs (attempt %d of %d)\n" % (
                PROG, end, cursor_id, delay, failures, args.max_retries))
            time.sleep(delay)


def main(argv=None):
    args = parse_args(sys.argv[1:] if argv is None else argv)
    try:
        return run(args)
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
