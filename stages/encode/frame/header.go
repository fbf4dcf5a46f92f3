package frame

import (
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"io"
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// frameInfo is a parsed header plus where the frame's parts lie.
type frameInfo struct {
	Header
	node, stream []byte // aliases of the source
	transform    uint8
	rawLen       int // body length before the back end
	payloadLen   int // stored payload length
	headerLen    int // bytes before the payload
	frameLen     int // whole frame, checksum included
}

func corruptf(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrCorrupt}, args...)...)
}

// errTruncated marks a frame that ends early; it also wraps io.ErrUnexpectedEOF
// so stream readers can tell "need more bytes" from garbage.
func errTruncated(what string, off int) error {
	return fmt.Errorf("%w: truncated in %s at byte %d: %w", ErrCorrupt, what, off, io.ErrUnexpectedEOF)
}

type headerReader struct {
	src []byte
	off int
}

func (r *headerReader) uvarint(what string) (uint64, error) {
	v, n := binary.Uvarint(r.src[r.off:])
	if n == 0 {
		return 0, errTruncated(what, r.off)
	}
	if n < 0 {
		return 0, corruptf("%s at byte %d: varint overflows 64 bits", what, r.off)
	}
	r.off += n
	return v, nil
}

func (r *headerReader) name(what string) ([]byte, error) {
	l, err := r.uvarint(what + " length")
	if err != nil {
		return nil, err
	}
	if l > MaxNameLen {
		return nil, corruptf("%s length %d at byte %d exceeds %d", what, l, r.off, MaxNameLen)
	}
	if uint64(len(r.src)-r.off) < l {
		return nil, errTruncated(what, r.off)
	}
	b := r.src[r.off : r.off+int(l)]
	r.off += int(l)
	return b, nil
}

// parseHeader reads the header of the first frame in src. It needs only the
// header bytes, not the payload, and checks no checksum.
func parseHeader(src []byte) (frameInfo, error) {
	var fi frameInfo
	if len(src) < 7 {
		return fi, errTruncated("fixed header", len(src))
	}
	if [4]byte(src[:4]) != frameMagic {
		return fi, corruptf("bad magic % x at byte 0 (want % x)", src[:4], frameMagic[:])
	}
	fi.Version = src[4]
	if fi.Version != Version {
		return fi, corruptf("version %d at byte 4 unsupported (this decoder reads version %d)", fi.Version, Version)
	}
	fi.Codec = Codec(src[5])
	if fi.Codec > CodecF32DiffZlib {
		return fi, corruptf("codec %d at byte 5 unknown", src[5])
	}
	flags := src[6]
	if flags&flagReserved != 0 {
		return fi, corruptf("reserved flag bits %#02x set at byte 6", flags&flagReserved)
	}
	fi.Lossy = flags&flagLossy != 0
	fi.transform = (flags & flagTransformMask) >> 1
	switch {
	case fi.transform > transformGridLag:
		return fi, corruptf("value transform %d at byte 6 unknown (this decoder reads 0 to %d)", fi.transform, transformGridLag)
	case (fi.transform == transformF32Diff) != (fi.Codec == CodecF32DiffZlib):
		return fi, corruptf("value transform %s does not match codec %s", transformNames[fi.transform], fi.Codec)
	case (fi.transform == transformGrid || fi.transform == transformGridLag || fi.transform == transformF32Diff) && !fi.Lossy:
		return fi, corruptf("lossy transform %s without the lossy flag", transformNames[fi.transform])
	}
	r := headerReader{src: src, off: 7}
	var err error
	if fi.node, err = r.name("node"); err != nil {
		return fi, err
	}
	if fi.stream, err = r.name("stream"); err != nil {
		return fi, err
	}
	if fi.Seq, err = r.uvarint("sequence number"); err != nil {
		return fi, err
	}
	ts, err := r.uvarint("first timestamp")
	if err != nil {
		return fi, err
	}
	fi.FirstTimestamp = unzigzag(ts)
	count, err := r.uvarint("count")
	if err != nil {
		return fi, err
	}
	if count > MaxCount {
		return fi, corruptf("count %d exceeds %d", count, MaxCount)
	}
	fi.Count = int(count)
	rawLen, err := r.uvarint("body length")
	if err != nil {
		return fi, err
	}
	if rawLen > maxBodyLen(fi.Count) {
		return fi, corruptf("body length %d too large for %d values", rawLen, count)
	}
	fi.rawLen = int(rawLen)
	payloadLen, err := r.uvarint("payload length")
	if err != nil {
		return fi, err
	}
	if payloadLen > MaxFrameSize {
		return fi, corruptf("payload length %d exceeds %d", payloadLen, MaxFrameSize)
	}
	if payloadLen > rawLen || (fi.Codec == CodecNone && payloadLen != rawLen) {
		return fi, corruptf("payload length %d with body length %d (codec %s)", payloadLen, rawLen, fi.Codec)
	}
	fi.payloadLen = int(payloadLen)
	fi.headerLen = r.off
	fi.frameLen = r.off + fi.payloadLen + 4
	if fi.frameLen > MaxFrameSize {
		return fi, corruptf("frame length %d exceeds %d", fi.frameLen, MaxFrameSize)
	}
	return fi, nil
}

// maxBodyLen bounds the body (before the back end) of a frame of count values:
// no encoding this package writes needs more.
func maxBodyLen(count int) uint64 {
	return 32*uint64(count) + 1024
}

// readFrame parses the header of the first frame in src and verifies its checksum.
func readFrame(src []byte) (frameInfo, error) {
	fi, err := parseHeader(src)
	if err != nil {
		return fi, err
	}
	if len(src) < fi.frameLen {
		return fi, errTruncated("payload", len(src))
	}
	end := fi.headerLen + fi.payloadLen
	want := binary.LittleEndian.Uint32(src[end:])
	if got := crc32.Checksum(src[:end], castagnoli); got != want {
		return fi, corruptf("checksum mismatch at byte %d: stored %08x, computed %08x", end, want, got)
	}
	return fi, nil
}

// ReadHeader returns the header of the first frame in src after verifying the
// frame's checksum, without decoding the payload.
func ReadHeader(src []byte) (Header, error) {
	fi, err := readFrame(src)
	if err != nil {
		return Header{}, err
	}
	fi.Node = string(fi.node)
	fi.Stream = string(fi.stream)
	return fi.Header, nil
}

// FrameLen returns the length in bytes of the first frame in src, checksum
// included. It needs only the frame's header: a reader of a byte stream may call
// it as soon as a few dozen bytes are buffered (the error wraps
// io.ErrUnexpectedEOF while the header is incomplete) and then read the rest.
// It does not verify the checksum.
func FrameLen(src []byte) (int, error) {
	fi, err := parseHeader(src)
	if err != nil {
		return 0, err
	}
	return fi.frameLen, nil
}

// Next splits the first frame off src, which may hold several frames back to
// back (a Kafka message, a file): it returns that frame and the bytes after it.
// A malformed or incomplete first frame is an error wrapping ErrCorrupt. Only
// the header is checked; Decoder.Decode checks the rest.
func Next(src []byte) (first, rest []byte, err error) {
	n, err := FrameLen(src)
	if err != nil {
		return nil, src, err
	}
	if n <= 0 || n > len(src) {
		return nil, src, fmt.Errorf("%w: frame of %d bytes but only %d left", ErrCorrupt, n, len(src))
	}
	return src[:n:n], src[n:], nil
}

func zigzag(v int64) uint64   { return uint64(v<<1) ^ uint64(v>>63) }
func unzigzag(u uint64) int64 { return int64(u>>1) ^ -int64(u&1) }
