package encode_test

import (
	"testing"

	"github.com/edgeflow/edgeflow/stages"
	_ "github.com/edgeflow/edgeflow/stages/encode"
	"github.com/edgeflow/edgeflow/stages/stagetest"
)

func TestEncodeConformance(t *testing.T) {
	stagetest.Run(t, stages.KindProcessor, "encode", stagetest.Features{
		ValidConfig: "codec: lz4\nblock_size: 10\nmax_age: 1s",
		Buffers:     true,
		MalformedPayloads: [][]byte{
			[]byte(`{"stream":"t","ts":"2262-04-12T00:00:00Z","value":1}`), // beyond Unix nanoseconds
			[]byte(`{"stream":"","ts":"2026-01-02T15:04:05Z","value":1}`),
		},
	})
}

func TestDecodeConformance(t *testing.T) {
	stagetest.Run(t, stages.KindProcessor, "decode", stagetest.Features{
		MalformedPayloads: [][]byte{[]byte("EFRM\x01\x03\x00"), []byte("EFRM")},
	})
}
