package cdcstream.examples;

import cdcstream.v1.Change.ChangeEvent;
import cdcstream.v1.ChangeStreamServiceGrpc;
import cdcstream.v1.CursorOuterClass.Cursor;
import cdcstream.v1.Errors.ErrorReason;
import cdcstream.v1.SelectorOuterClass.Selector;
import cdcstream.v1.Service.ChangeFragment;
import cdcstream.v1.Service.StartPosition;
import cdcstream.v1.Service.SubscribeRequest;
import cdcstream.v1.Service.SubscribeResponse;
import com.google.protobuf.Any;
import com.google.protobuf.ByteString;
import com.google.protobuf.InvalidProtocolBufferException;
import com.google.protobuf.MessageOrBuilder;
import com.google.protobuf.util.JsonFormat;
import com.google.rpc.ErrorInfo;
import com.google.rpc.RetryInfo;
import io.grpc.Context;
import io.grpc.ManagedChannel;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.netty.NettyChannelBuilder;
import io.grpc.protobuf.StatusProto;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.EnumSet;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;

/**
 * Follows a cdcstream change stream and prints each change as one JSON line.
 *
 * <p>Output (stdout): one line per ChangeEvent in the protobuf JSON mapping with the .proto field
 * names (JsonFormat; int64 values are exact decimal strings). With --checkpoints, checkpoints are
 * printed too, as {"checkpoint": {...}} lines. Diagnostics go to stderr.
 *
 * <p>The consumer keeps the newest cursor it has seen (from changes and checkpoints). How a
 * stream ends is decided from the status code and the google.rpc.ErrorInfo reason in the status
 * details (the grpc-status-details-bin trailer, read with grpc-java's StatusProto), compared with
 * the generated cdcstream.v1.ErrorReason enum, never from the message text:
 *
 * <ul>
 *   <li>UNAVAILABLE with reason STREAM_ROTATED or SERVER_SHUTTING_DOWN is a planned end (the
 *       server sent a final checkpoint first): it resumes strictly after the newest cursor at
 *       once, without backoff and without counting an attempt, provided the ended stream
 *       delivered at least one message (so a server that keeps refusing cannot make it spin);
 *   <li>other UNAVAILABLE and RESOURCE_EXHAUSTED ends resume after the newest cursor, waiting the
 *       google.rpc.RetryInfo delay when the status has one and an exponential backoff otherwise,
 *       with at most --max-retries consecutive failed attempts;
 *   <li>OUT_OF_RANGE with reason CURSOR_EXPIRED stops: the message names the expired cursor and
 *       the earliest retained cursor (ErrorInfo metadata "earliest_cursor") to restart from;
 *   <li>any other error ends it.
 * </ul>
 *
 * <p>Every diagnostic names the status code and, when the status has one, the reason, as
 * "UNAVAILABLE (STREAM_ROTATED): ...".
 *
 * <p>A change too large for one gRPC message (gRPC's default receive limit is 4 MiB) arrives as
 * ChangeFragment messages (proto/cdcstream/v1/service.proto): the consumer joins their data and
 * decodes it as the ChangeEvent it prints, so big changes look like any other. It refuses a change
 * larger than --max-change-bytes before buffering any of it, and a fragment that does not continue
 * the change in progress; both end it with exit status 1. A partly received change is dropped when
 * its stream breaks: its cursor was not received, so the resumed stream sends it again whole.
 *
 * <p>Exit status: 0 after --max-events changes, 1 on a gRPC error (CURSOR_EXPIRED included; the
 * status code and reason are printed to stderr) or a refused change, 2 on bad arguments.
 */
public final class CdcstreamConsumer {
  private static final String PROG = "cdcstream_consumer";

  /** The ErrorInfo domain of cdcstream's reasons: the proto package of the ErrorReason enum. */
  private static final String ERROR_DOMAIN = ErrorReason.getDescriptor().getFile().getPackage();

  /** Reasons of a planned end: the server closed a healthy stream after a final checkpoint. */
  private static final EnumSet<ErrorReason> PLANNED =
      EnumSet.of(ErrorReason.STREAM_ROTATED, ErrorReason.SERVER_SHUTTING_DOWN);

  /** The ErrorInfo metadata key holding the earliest retained cursor of CURSOR_EXPIRED. */
  private static final String EARLIEST_CURSOR_KEY = "earliest_cursor";

  private static final JsonFormat.Printer PRINTER =
      JsonFormat.printer().preservingProtoFieldNames().omittingInsignificantWhitespace();

  /**
   * The largest change (its protobuf encoding) reassembled from fragments unless
   * --max-change-bytes says otherwise; the Go client library's default too.
   */
  private static final long DEFAULT_MAX_CHANGE_BYTES = 128L << 20;

  private final PrintStream out =
      new PrintStream(new java.io.FileOutputStream(java.io.FileDescriptor.out), false, StandardCharsets.UTF_8);

  // Options, set from the command line.
  private String address = "127.0.0.1:50051";
  private String database = "";
  private String from;
  private boolean earliest;
  private final List<Selector> selectors = new ArrayList<>();
  private long maxEvents;
  private boolean checkpoints;
  private double checkpointInterval;
  private int maxRetries = 5;
  private double backoff = 0.2;
  private long maxChangeBytes = DEFAULT_MAX_CHANGE_BYTES;

  private CdcstreamConsumer() {}

  public static void main(String[] args) {
    CdcstreamConsumer c = new CdcstreamConsumer();
    int code;
    try {
      c.parse(args);
      code = c.run();
    } catch (UsageException e) {
      if (!e.getMessage().isEmpty()) {
        System.err.println(PROG + ": " + e.getMessage());
      }
      System.err.println(
          "usage: "
              + PROG
              + " [--address HOST:PORT] [--database DB] [--from CURSOR_ID | --earliest]"
              + " [--selector JSON]... [--max-events N] [--checkpoints]"
              + " [--checkpoint-interval SECONDS] [--max-retries N] [--backoff SECONDS]"
              + " [--max-change-bytes N]");
      code = e.getMessage().isEmpty() ? 0 : 2;
    }
    c.out.flush();
    System.exit(code);
  }

  /** Bad command-line arguments. */
  private static final class UsageException extends Exception {
    private static final long serialVersionUID = 1L;

    UsageException(String msg) {
      super(msg);
    }
  }

  private void parse(String[] args) throws UsageException {
    for (int i = 0; i < args.length; i++) {
      String a = args[i];
      String value = null;
      int eq = a.indexOf('=');
      if (a.startsWith("--") && eq > 0) {
        value = a.substring(eq + 1);
        a = a.substring(0, eq);
      }
      switch (a) {
        case "-h":
        case "--help":
          throw new UsageException("");
        case "--earliest":
          earliest = true;
          continue;
        case "--checkpoints":
          checkpoints = true;
          continue;
        default:
          break;
      }
      if (value == null) {
        if (i + 1 >= args.length) {
          throw new UsageException("missing value for " + a);
        }
        value = args[++i];
      }
      switch (a) {
        case "--address":
          address = value;
          break;
        case "--database":
          database = value;
          break;
        case "--from":
          from = value;
          break;
        case "--selector":
          Selector.Builder b = Selector.newBuilder();
          try {
            JsonFormat.parser().merge(value, b);
          } catch (InvalidProtocolBufferException | RuntimeException e) {
            throw new UsageException("bad --selector: " + e.getMessage());
          }
          selectors.add(b.build());
          break;
        case "--max-events":
          maxEvents = (long) number(a, value);
          break;
        case "--checkpoint-interval":
          checkpointInterval = number(a, value);
          break;
        case "--max-retries":
          maxRetries = (int) number(a, value);
          break;
        case "--backoff":
          backoff = number(a, value);
          break;
        case "--max-change-bytes":
          maxChangeBytes = (long) number(a, value);
          if (maxChangeBytes < 1) {
            throw new UsageException("--max-change-bytes must be positive");
          }
          break;
        default:
          throw new UsageException("unknown argument " + a);
      }
    }
    if (from != null && earliest) {
      throw new UsageException("--from and --earliest are mutually exclusive");
    }
  }

  private static double number(String name, String text) throws UsageException {
    try {
      double d = Double.parseDouble(text);
      if (d >= 0 && !Double.isInfinite(d)) {
        return d;
      }
    } catch (NumberFormatException e) {
      // reported below
    }
    throw new UsageException(name + " must be a non-negative number, got \"" + text + "\"");
  }

  private SubscribeRequest request(String cursorId) {
    SubscribeRequest.Builder req = SubscribeRequest.newBuilder().setDatabase(database).addAllSelectors(selectors);
    if (cursorId != null) {
      req.setFromCursor(Cursor.newBuilder().setId(cursorId).setDatabase(database));
    } else {
      req.setPosition(earliest ? StartPosition.START_POSITION_EARLIEST : StartPosition.START_POSITION_NOW);
    }
    if (checkpointInterval > 0) {
      long nanos = Math.round(checkpointInterval * 1e9);
      req.setCheckpointInterval(
          com.google.protobuf.Duration.newBuilder()
              .setSeconds(nanos / 1_000_000_000L)
              .setNanos((int) (nanos % 1_000_000_000L)));
    }
    return req.build();
  }

  private static String json(MessageOrBuilder m) {
    try {
      return PRINTER.print(m);
    } catch (InvalidProtocolBufferException e) {
      throw new IllegalStateException("cannot print " + m.getClass().getName(), e);
    }
  }

  private int run() {
    int colon = address.lastIndexOf(':');
    if (colon <= 0) {
      System.err.println(PROG + ": --address must be host:port, got \"" + address + "\"");
      return 2;
    }
    String host = address.substring(0, colon);
    int port;
    try {
      port = Integer.parseInt(address.substring(colon + 1));
    } catch (NumberFormatException e) {
      System.err.println(PROG + ": --address must be host:port, got \"" + address + "\"");
      return 2;
    }
    ManagedChannel channel = NettyChannelBuilder.forAddress(host, port).usePlaintext().build();
    try {
      return follow(ChangeStreamServiceGrpc.newBlockingStub(channel));
    } finally {
      channel.shutdownNow();
      try {
        channel.awaitTermination(5, TimeUnit.SECONDS);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
    }
  }

  /** A change refused while reassembling its fragments. */
  private static final class FragmentException extends Exception {
    private static final long serialVersionUID = 1L;

    FragmentException(String msg) {
      super(msg);
    }
  }

  /** Joins the ChangeFragment messages of one change (one stream attempt's worth). */
  private static final class Reassembly {
    private final long maxBytes;
    /** The data received so far; null when no change is in progress. */
    private ByteString.Output parts;

    private long size;
    private long total;
    private int count;
    private int next;
    private long txId;
    private long seq;

    Reassembly(long maxBytes) {
      this.maxBytes = maxBytes;
    }

    private FragmentException bad(ChangeFragment f, String why) {
      parts = null;
      return new FragmentException(
          String.format(
              "bad change fragment %d of %d (tx_id %d seq %d): %s",
              Integer.toUnsignedLong(f.getIndex()), Integer.toUnsignedLong(f.getCount()), f.getTxId(), f.getSeq(), why));
    }

    /** Returns the ChangeEvent that f completes, or null while fragments are due. */
    ChangeEvent add(ChangeFragment f) throws FragmentException {
      if (f.getIndex() == 0) {
        if (parts != null) {
          throw bad(
              f,
              String.format(
                  "a new change began before change tx_id %d seq %d was complete (%d of %d fragments)",
                  txId, seq, next, count));
        }
        if (Integer.compareUnsigned(f.getCount(), 2) < 0 || f.getTotalSize() == 0) {
          throw bad(f, "a fragmented change needs count >= 2 and total_size > 0");
        }
        if (Long.compareUnsigned(f.getTotalSize(), maxBytes) > 0) {
          throw new FragmentException(
              String.format(
                  "change tx_id %d seq %d is %s bytes, more than --max-change-bytes %d",
                  f.getTxId(), f.getSeq(), Long.toUnsignedString(f.getTotalSize()), maxBytes));
        }
        parts = ByteString.newOutput();
        size = 0;
        next = 0;
        count = f.getCount();
        total = f.getTotalSize();
        txId = f.getTxId();
        seq = f.getSeq();
      } else if (parts == null) {
        throw bad(f, "no change in progress (its first fragment is missing)");
      } else if (f.getIndex() != next) {
        throw bad(f, "expected fragment " + next);
      } else if (f.getCount() != count || f.getTotalSize() != total || f.getTxId() != txId || f.getSeq() != seq) {
        throw bad(f, String.format("it does not belong to change tx_id %d seq %d", txId, seq));
      }
      ByteString data = f.getData();
      if (data.isEmpty() || size + data.size() > total) {
        throw bad(f, String.format("data of %d bytes after %d of %d bytes", data.size(), size, total));
      }
      boolean last = f.getIndex() == count - 1;
      if (f.hasCursor() != last) {
        throw bad(f, "the cursor belongs on the last fragment, and only there");
      }
      try {
        data.writeTo(parts);
      } catch (java.io.IOException e) {
        throw new IllegalStateException("ByteString.Output cannot fail", e);
      }
      size += data.size();
      next++;
      if (!last) {
        return null;
      }
      if (size != total) {
        throw bad(f, String.format("the change has %d bytes, announced %d", size, total));
      }
      ChangeEvent ev;
      try {
        ev = ChangeEvent.parseFrom(parts.toByteString());
      } catch (InvalidProtocolBufferException e) {
        throw bad(f, "the reassembled change does not decode: " + e.getMessage());
      }
      if (ev.getTxId() != txId || ev.getSeq() != seq || !ev.getCursor().equals(f.getCursor())) {
        throw bad(f, "the reassembled change is not the one its fragments announced");
      }
      parts = null;
      return ev;
    }
  }

  /** How a stream attempt ended: the status and what its status details say. */
  private static final class Ending {
    final Status status;
    /**
     * The ErrorInfo reason; ERROR_REASON_UNSPECIFIED without a cdcstream ErrorInfo, UNRECOGNIZED
     * for a reason newer than these stubs.
     */
    ErrorReason reason = ErrorReason.ERROR_REASON_UNSPECIFIED;
    /** The reason as sent, for messages; empty without a cdcstream ErrorInfo. */
    String reasonName = "";
    Map<String, String> metadata = Map.of();
    /** The RetryInfo delay in seconds, or null without RetryInfo. */
    Double retryDelay;

    Ending(Status status, Throwable t) {
      this.status = status;
      com.google.rpc.Status details = t == null ? null : StatusProto.fromThrowable(t);
      if (details == null) {
        return;
      }
      for (Any any : details.getDetailsList()) {
        try {
          if (any.is(ErrorInfo.class)) {
            ErrorInfo info = any.unpack(ErrorInfo.class);
            if (!info.getDomain().equals(ERROR_DOMAIN) || !reasonName.isEmpty()) {
              continue;
            }
            reasonName = info.getReason();
            metadata = info.getMetadataMap();
            reason = ErrorReason.UNRECOGNIZED;
            for (ErrorReason r : ErrorReason.values()) {
              if (r != ErrorReason.UNRECOGNIZED && r.name().equals(reasonName)) {
                reason = r;
              }
            }
          } else if (any.is(RetryInfo.class)) {
            RetryInfo ri = any.unpack(RetryInfo.class);
            if (ri.hasRetryDelay()) {
              double d = ri.getRetryDelay().getSeconds() + ri.getRetryDelay().getNanos() / 1e9;
              if (d >= 0) {
                retryDelay = d;
              }
            }
          }
        } catch (InvalidProtocolBufferException e) {
          // a malformed detail message: act on the status code alone
        }
      }
    }

    /** The status code, the reason when there is one, and the message. */
    @Override
    public String toString() {
      return status.getCode() + (reasonName.isEmpty() ? "" : " (" + reasonName + ")") + ": " + status.getDescription();
    }
  }

  private int follow(ChangeStreamServiceGrpc.ChangeStreamServiceBlockingStub stub) {
    String cursorId = from; // newest cursor seen; null until one is known
    long seen = 0;
    int failures = 0;
    while (true) {
      Ending end;
      String resumedFrom = cursorId;
      boolean delivered = false; // whether this attempt received any message
      Reassembly frags = new Reassembly(maxChangeBytes); // a change in progress dies with its stream
      Context.CancellableContext ctx = Context.current().withCancellation();
      Context previous = ctx.attach();
      try {
        Iterator<SubscribeResponse> it = stub.subscribe(request(cursorId));
        while (it.hasNext()) {
          SubscribeResponse resp = it.next();
          delivered = true;
          ChangeEvent ev = resp.getChange();
          SubscribeResponse.MessageCase kind = resp.getMessageCase();
          if (kind == SubscribeResponse.MessageCase.CHANGE_FRAGMENT) {
            try {
              ev = frags.add(resp.getChangeFragment());
            } catch (FragmentException e) {
              System.err.println(PROG + ": " + e.getMessage());
              return 1;
            }
            if (ev == null) {
              continue; // more fragments of the change are due
            }
            kind = SubscribeResponse.MessageCase.CHANGE;
          }
          switch (kind) {
            case CHANGE:
              failures = 0;
              cursorId = ev.getCursor().getId();
              out.println(json(ev));
              out.flush();
              seen++;
              if (maxEvents > 0 && seen >= maxEvents) {
                return 0;
              }
              break;
            case CHECKPOINT:
              failures = 0;
              cursorId = resp.getCheckpoint().getCursor().getId();
              if (checkpoints) {
                out.println("{\"checkpoint\":" + json(resp.getCheckpoint()) + "}");
                out.flush();
              }
              break;
            default:
              break; // unknown message kinds are ignored, as the contract requires
          }
        }
        end = new Ending(Status.OK.withDescription("stream ended without a status"), null);
      } catch (StatusRuntimeException e) {
        end = new Ending(e.getStatus(), e);
        Status.Code code = end.status.getCode();
        if (code == Status.Code.OUT_OF_RANGE && end.reason == ErrorReason.CURSOR_EXPIRED) {
          String earliest = end.metadata.get(EARLIEST_CURSOR_KEY);
          System.err.println(
              PROG
                  + ": "
                  + end
                  + "; cursor "
                  + (resumedFrom == null ? "null" : "\"" + resumedFrom + "\"")
                  + " expired, earliest retained cursor: "
                  + (earliest == null || earliest.isEmpty()
                      ? "unknown (restart with --earliest, changes in between are lost)"
                      : "\"" + earliest + "\" (restart with --from " + earliest + ", changes in between are lost)"));
          return 1;
        }
        if (code != Status.Code.UNAVAILABLE && code != Status.Code.RESOURCE_EXHAUSTED) {
          System.err.println(PROG + ": " + end);
          return 1;
        }
      } finally {
        ctx.detach(previous);
        ctx.cancel(null);
      }
      if (end.status.getCode() == Status.Code.UNAVAILABLE && PLANNED.contains(end.reason) && delivered) {
        // Not a failure: no backoff, no attempt counted.
        System.err.println(PROG + ": " + end + "; resuming after cursor " + cursorId + " at once (planned end)");
        continue;
      }
      failures++;
      if (failures > maxRetries) {
        System.err.println(PROG + ": giving up after " + failures + " attempts: " + end);
        return 1;
      }
      double delay =
          end.retryDelay != null
              ? end.retryDelay // the server said how long to wait
              : Math.min(backoff * Math.pow(2, failures - 1), 5.0) * ThreadLocalRandom.current().nextDouble(0.8, 1.2);
      System.err.printf(
          "%s: %s; resuming after cursor %s in %.2fs (attempt %d of %d)%n",
          PROG, end, cursorId, delay, failures, maxRetries);
      try {
        Thread.sleep((long) (delay * 1000));
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        return 1;
      }
    }
  }
}
