'use strict';
// Reading cdcstream's error details: the google.rpc.Status a gRPC server sends, serialized, in
// the grpc-status-details-bin trailer, with its google.rpc.ErrorInfo (reason, domain, metadata)
// and google.rpc.RetryInfo. The reason is compared with the cdcstream.v1.ErrorReason enum loaded
// from proto/cdcstream/v1/errors.proto, never with a spelled-out string; the google.rpc messages
// come from examples/proto-deps. Decoding uses protobufjs, the library @grpc/proto-loader is
// built on.

const fs = require('fs');
const path = require('path');
const protobuf = require('protobufjs');

/** The trailer that carries the serialized google.rpc.Status. */
const STATUS_DETAILS_KEY = 'grpc-status-details-bin';

/** The ErrorInfo metadata key holding the earliest retained cursor of a CURSOR_EXPIRED status. */
const EARLIEST_CURSOR_KEY = 'earliest_cursor';

/**
 * Loads errors.proto (from protoDir) and the google.rpc messages (from depsDir) and returns
 * { Reason, domain, ending }: Reason maps each ErrorReason name to its number (the enum of the
 * contract), domain is the ErrorInfo domain of cdcstream's reasons (the enum's proto package),
 * and ending(status) reads a grpc-js status object ({code, details, metadata}).
 */
function loadErrorModel(protoDir, depsDir) {
  const root = new protobuf.Root();
  root.resolvePath = (origin, target) => {
    for (const dir of [depsDir, protoDir]) {
      const p = path.join(dir, target);
      if (fs.existsSync(p)) return p;
    }
    return target; // google/protobuf/*.proto: protobufjs has them built in
  };
  root.loadSync(['cdcstream/v1/errors.proto', 'google/rpc/status.proto', 'google/rpc/error_details.proto'], {
    keepCase: true,
  });
  const reasonEnum = root.lookupEnum('cdcstream.v1.ErrorReason');
  const Status = root.lookupType('google.rpc.Status');
  const ErrorInfo = root.lookupType('google.rpc.ErrorInfo');
  const RetryInfo = root.lookupType('google.rpc.RetryInfo');
  const domain = reasonEnum.parent.fullName.replace(/^\./, '');
  const Reason = Object.freeze({ ...reasonEnum.values });
  const typeName = (t) => t.fullName.replace(/^\./, '');

  /**
   * How a stream attempt ended: { code, detail, reason, reasonName, metadata, retryDelay }.
   * reason is an ErrorReason number (ERROR_REASON_UNSPECIFIED without a cdcstream ErrorInfo,
   * or for a reason newer than the loaded proto); reasonName is the reason as sent; retryDelay
   * is the RetryInfo delay in seconds, or undefined.
   */
  function ending(st) {
    const end = {
      code: st.code,
      detail: st.details,
      reason: Reason.ERROR_REASON_UNSPECIFIED,
      reasonName: '',
      metadata: {},
      retryDelay: undefined,
    };
    const raw = st.metadata ? st.metadata.get(STATUS_DETAILS_KEY) : [];
    if (raw.length === 0) return end;
    const status = Status.decode(raw[0]);
    for (const any of status.details || []) {
      const name = any.type_url.slice(any.type_url.lastIndexOf('/') + 1);
      if (name === typeName(ErrorInfo)) {
        const info = ErrorInfo.toObject(ErrorInfo.decode(any.value), { defaults: true });
        if (info.domain !== domain || end.reasonName) continue;
        end.reasonName = info.reason;
        end.metadata = info.metadata || {};
        if (Object.prototype.hasOwnProperty.call(Reason, info.reason)) end.reason = Reason[info.reason];
      } else if (name === typeName(RetryInfo)) {
        const ri = RetryInfo.toObject(RetryInfo.decode(any.value), { longs: Number });
        if (ri.retry_delay) {
          const delay = (ri.retry_delay.seconds || 0) + (ri.retry_delay.nanos || 0) / 1e9;
          if (delay >= 0) end.retryDelay = delay;
        }
      }
    }
    return end;
  }

  return { Reason, domain, ending };
}

module.exports = { loadErrorModel, EARLIEST_CURSOR_KEY, STATUS_DETAILS_KEY };
