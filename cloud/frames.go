package cloud

import (
	"fmt"
	"time"

	"github.com/edgeflow/edgeflow/stages"
	"github.com/edgeflow/edgeflow/stages/encode/frame"
	"github.com/edgeflow/edgeflow/stages/reading"
)

// decodeFrame decodes one whole frame into a Batch. The frame's own header is
// authoritative for node, stream and sequence (it is covered by the frame's
// checksum; message headers are not).
func decodeFrame(d *frame.Decoder, src []byte, blk *frame.Block) (Batch, error) {
	h, err := d.Decode(src, blk)
	if err != nil {
		return Batch{}, err
	}
	if len(blk.Timestamps) != len(blk.Values) {
		return Batch{}, fmt.Errorf("frame %s/%s seq %d: %d timestamps but %d values: %w",
			h.Node, h.Stream, h.Seq, len(blk.Timestamps), len(blk.Values), frame.ErrCorrupt)
	}
	rs := make([]reading.Reading, len(blk.Timestamps))
	for i, ts := range blk.Timestamps {
		rs[i] = reading.Reading{Node: h.Node, Stream: h.Stream, Time: time.Unix(0, ts).UTC(), Value: blk.Values[i]}
	}
	return Batch{Kind: stages.KindFrame, Node: h.Node, Stream: h.Stream, Seq: h.Seq, Header: h,
		Readings: rs, WireBytes: len(src)}, nil
}
