package server

import (
	"math"

	cdcstreamv1 "github.com/cdcstream/cdcstream/gen/cdcstream/v1"
	"google.golang.org/protobuf/proto"
)

// fragmentSlack bounds what a fragment's encoding adds to its data beyond the template that
// fragmentOverhead measures: the tag and length of data (1 + up to 5 bytes) and the growth of
// the length of the ChangeFragment itself inside SubscribeResponse (from 1 byte to up to 5).
const fragmentSlack = 1 + 5 + 4

// changeMessages returns the messages that carry ev to a client whose messages may be at most
// max bytes (proto.Size of a SubscribeResponse): one SubscribeResponse.change normally, or,
// when that would be larger than max, count >= 2 SubscribeResponse.change_fragment messages
// of at most min(max, FragmentBytes) bytes whose data, concatenated in order, is ev's protobuf
// encoding (see ChangeFragment in proto/cdcstream/v1/service.proto). max must be at least
// MinMaxMessageBytes (options.validate ensures it). ev is not modified, and the fragments share
// no memory with it.
func changeMessages(ev *cdcstreamv1.ChangeEvent, max int) []*cdcstreamv1.SubscribeResponse {
	whole := &cdcstreamv1.SubscribeResponse{Message: &cdcstreamv1.SubscribeResponse_Change{Change: ev}}
	if proto.Size(whole) <= max {
		return []*cdcstreamv1.SubscribeResponse{whole}
	}
	// Deterministic: the same change always splits the same way, so a change re-sent after a
	// reconnect is byte for byte what the client began to receive (not that it relies on it).
	data, err := proto.MarshalOptions{Deterministic: true}.Marshal(ev)
	if err != nil {
		// A ChangeEvent built by the poller always marshals (proto3, no required fields, valid
		// UTF-8 checked on the way in); if one ever did not, sending it whole lets the
		// transport report the error exactly as before fragments existed.
		return []*cdcstreamv1.SubscribeResponse{whole}
	}
	// Pieces of FragmentBytes, not max: each Send is bounded by the send timeout, and a slow
	// but reading client must be able to take one piece within it.
	chunk := min(max, FragmentBytes) - fragmentOverhead(ev, len(data))
	if chunk <= 0 {
		// Only a cursor of nearly max bytes could leave no room; Neo4j's are tens of bytes.
		return []*cdcstreamv1.SubscribeResponse{whole}
	}
	count := (len(data) + chunk - 1) / chunk
	msgs := make([]*cdcstreamv1.SubscribeResponse, 0, count)
	for i := range count {
		end := min((i+1)*chunk, len(data))
		f := &cdcstreamv1.ChangeFragment{
			Data:      data[i*chunk : end : end],
			Index:     uint32(i),
			Count:     uint32(count),
			TotalSize: uint64(len(data)),
			TxId:      ev.GetTxId(),
			Seq:       ev.GetSeq(),
		}
		if i == count-1 {
			f.Cursor = ev.GetCursor()
		}
		msgs = append(msgs, &cdcstreamv1.SubscribeResponse{
			Message: &cdcstreamv1.SubscribeResponse_ChangeFragment{ChangeFragment: f}})
	}
	return msgs
}

// fragmentOverhead is an upper bound of the bytes a fragment message of ev spends on
// everything but its data: the fields of the last fragment (which also carries the cursor)
// with the largest index and count, plus fragmentSlack.
func fragmentOverhead(ev *cdcstreamv1.ChangeEvent, total int) int {
	template := &cdcstreamv1.SubscribeResponse{Message: &cdcstreamv1.SubscribeResponse_ChangeFragment{
		ChangeFragment: &cdcstreamv1.ChangeFragment{
			Index:     math.MaxUint32,
			Count:     math.MaxUint32,
			TotalSize: uint64(total),
			TxId:      ev.GetTxId(),
			Seq:       ev.GetSeq(),
			Cursor:    ev.GetCursor(),
		}}}
	return proto.Size(template) + fragmentSlack
}
