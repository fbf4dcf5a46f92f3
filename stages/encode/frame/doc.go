// Package frame implements edgeflow's versioned binary frame format and its
// lossless codec for sensor streams, specified byte by byte in
// docs/frame-format.md. The encode stage hands an Encoder one Block per stream
// (node, stream, sequence number, timestamps, values); Encode writes the
// timestamps as deltas of deltas and the values as decimal-scaled integers
// (deltas, or ranks among the block's distinct integers, with per-value bit
// corrections so that NaN payloads, ±Inf, -0 and noisy digits survive bit for
// bit) or as XOR byte planes, entropy codes the integers (bit-packing, Rice,
// sparse or Huffman, whichever is smallest), optionally runs a
// zlib/lz4/zstd back end, and appends one self-delimiting frame with a CRC-32C.
// Cloud consumers split a byte stream with FrameLen, peek with ReadHeader and
// get the Block back with a Decoder; every malformed input yields an error
// wrapping ErrCorrupt. Options.MaxError trades exactness for size within a
// guaranteed bound: integers on a grid, delta coded or, for readings with an
// hourly, daily or weekly rhythm, coded against the reading one such period
// back (lag.go). CodecF32DiffZlib reproduces a lossy float32-difference
// method for comparison only.
//
// On amd64 the hottest loops run in assembly where the CPU allows: decimal
// scaling four values at a time with AVX2 (scale_amd64.s), Rice encoding and
// decoding with BMI2 (rice_amd64.s). Each has a pure-Go twin that runs
// elsewhere and that the tests compare it with, value by value and byte by
// byte; the frames are the same either way.
package frame
