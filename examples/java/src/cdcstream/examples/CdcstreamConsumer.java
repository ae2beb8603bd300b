package cdcstream.examples;

import cdcstream.v1.Change.ChangeEvent;
import cdcstream.v1.ChangeStreamServiceGrpc;
import cdcstream.v1.CursorOuterClass.Cursor;
import cdcstream.v1.SelectorOuterClass.Selector;
import cdcstream.v1.Service.StartPosition;
import cdcstream.v1.Service.SubscribeRequest;
import cdcstream.v1.Service.SubscribeResponse;
import com.google.protobuf.InvalidProtocolBufferException;
import com.google.protobuf.MessageOrBuilder;
import com.google.protobuf.util.JsonFormat;
import io.grpc.Context;
import io.grpc.ManagedChannel;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.netty.NettyChannelBuilder;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;

/**
 * Follows a cdcstream change stream and prints each change as one JSON line.
 *
 * <p>Output (stdout): one line per ChangeEvent in the protobuf JSON mapping with the .proto field
 * names (JsonFormat; int64 values are exact decimal strings). With --checkpoints, checkpoints are
 * printed too, as {"checkpoint": {...}} lines. Diagnostics go to stderr.
 *
 * <p>The consumer keeps the newest cursor it has seen (from changes and checkpoints). When the
 * stream ends with UNAVAILABLE or RESOURCE_EXHAUSTED it resumes strictly after that cursor, with
 * exponential backoff and at most --max-retries consecutive failed attempts. Any other error ends
 * it.
 *
 * <p>Exit status: 0 after --max-events changes, 1 on a gRPC error (the status code name is
 * printed to stderr), 2 on bad arguments.
 */
public final class CdcstreamConsumer {
  private static final String PROG = "cdcstream_consumer";

  private static final JsonFormat.Printer PRINTER =
      JsonFormat.printer().preservingProtoFieldNames().omittingInsignificantWhitespace();

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
              + " [--checkpoint-interval SECONDS] [--max-retries N] [--backoff SECONDS]");
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

  private int follow(ChangeStreamServiceGrpc.ChangeStreamServiceBlockingStub stub) {
    String cursorId = from; // newest cursor seen; null until one is known
    long seen = 0;
    int failures = 0;
    while (true) {
      Status status;
      Context.CancellableContext ctx = Context.current().withCancellation();
      Context previous = ctx.attach();
      try {
        Iterator<SubscribeResponse> it = stub.subscribe(request(cursorId));
        while (it.hasNext()) {
          SubscribeResponse resp = it.next();
          switch (resp.getMessageCase()) {
            case CHANGE:
              failures = 0;
              ChangeEvent ev = resp.getChange();
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
        status = Status.OK.withDescription("stream ended without a status");
      } catch (StatusRuntimeException e) {
        status = e.getStatus();
        Status.Code code = status.getCode();
        if (code != Status.Code.UNAVAILABLE && code != Status.Code.RESOURCE_EXHAUSTED) {
          System.err.println(PROG + ": " + code + ": " + status.getDescription());
          return 1;
        }
      } finally {
        ctx.detach(previous);
        ctx.cancel(null);
      }
      failures++;
      if (failures > maxRetries) {
        System.err.println(
            PROG + ": giving up after " + failures + " attempts: " + status.getCode() + ": " + status.getDescription());
        return 1;
      }
      double delay =
          Math.min(backoff * Math.pow(2, failures - 1), 5.0) * ThreadLocalRandom.current().nextDouble(0.8, 1.2);
      System.err.printf(
          "%s: %s: %s; resuming after cursor %s in %.2fs (attempt %d of %d)%n",
          PROG, status.getCode(), status.getDescription(), cursorId, delay, failures, maxRetries);
      try {
        Thread.sleep((long) (delay * 1000));
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        return 1;
      }
    }
  }
}
