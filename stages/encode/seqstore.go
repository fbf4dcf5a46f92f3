package encode

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"math"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"sync"

	"github.com/edgeflow/edgeflow/stages"
)

// SeqReserve is how many sequence numbers per stream a SeqStore reserves with
// one durable write: a restarted encoder continues above the last reservation,
// so at most SeqReserve-1 numbers per stream are skipped by a restart, and the
// sequence file is rewritten once every SeqReserve frames of a stream.
const SeqReserve = 1024

// seqFileMu serialises the read-merge-write of every sequence file in the
// process, so that two encoders sharing a file (two encode stages of one
// pipeline) never overwrite each other's reservations.
var seqFileMu sync.Mutex

// SeqStore hands out per-stream frame sequence numbers that keep growing across
// restarts of the process, clean or not. Before it hands out a number above the
// stream's last durable reservation it reserves the next SeqReserve numbers in
// the sequence file (written to a temporary file, fsynced, renamed over the old
// one, directory fsynced). After a restart numbering continues at the last
// reservation + 1: numbers are skipped (gaps), never reused. A SeqStore with no
// file (an empty data dir) numbers every stream from 1 on each start.
//
// A SeqStore is safe for concurrent use.
type SeqStore struct {
	path string // "" keeps numbers in memory only
	log  *slog.Logger

	mu      sync.Mutex
	streams map[streamKey]*seqState
}

// seqState is one stream's numbering: last is the last number handed out,
// limit the highest number durably reserved.
type seqState struct{ last, limit uint64 }

// seqFileEntry is one stream in the sequence file.
type seqFileEntry struct {
	Node   string `json:"node"`
	Stream string `json:"stream"`
	// Reserved is the highest sequence number that may have been used.
	Reserved uint64 `json:"reserved"`
}

// seqFile is the sequence file's JSON document.
type seqFile struct {
	Version int            `json:"version"`
	Streams []seqFileEntry `json:"streams"`
}

// SeqFilePath is where the encoder of pipeline keeps its sequence file under a
// node's data dir: DATA_DIR/encode/PIPELINE.seq.json (the pipeline name
// path-escaped).
func SeqFilePath(dataDir, pipeline string) string {
	if pipeline == "" {
		pipeline = "_"
	}
	return filepath.Join(dataDir, "encode", url.PathEscape(pipeline)+".seq.json")
}

// OpenSeqStore loads the sequence file at path, creating its directory if
// needed; a missing file starts every stream at 1. path "" gives an in-memory
// store. A file that cannot be read or parsed is an error naming the file.
func OpenSeqStore(path string, log *slog.Logger) (*SeqStore, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	s := &SeqStore{path: path, log: log, streams: map[streamKey]*seqState{}}
	if path == "" {
		return s, nil
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, fmt.Errorf("encode: sequence file %s: %w", path, err)
	}
	seqFileMu.Lock()
	entries, err := readSeqFile(path)
	seqFileMu.Unlock()
	if err != nil {
		return nil, err
	}
	for _, e := range entries {
		// Every number up to Reserved may have been used before: continue above.
		s.streams[streamKey{e.Node, e.Stream}] = &seqState{last: e.Reserved, limit: e.Reserved}
	}
	return s, nil
}

// Next returns the next sequence number of the stream (node, stream). When the
// number lies past the stream's durable reservation, Next first reserves
// SeqReserve more. If that write fails the error is returned together with a
// usable number: numbering stays increasing within the process, and a restart
// before a later reservation succeeds may reuse numbers (the cloud
// deduplicator then tells the new frames by their later timestamps).
func (s *SeqStore) Next(node, stream string) (uint64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	k := streamKey{node, stream}
	st := s.streams[k]
	if st == nil {
		st = &seqState{}
		s.streams[k] = st
	}
	if st.last == math.MaxUint64 {
		return st.last, fmt.Errorf("encode: stream %s/%s: sequence numbers exhausted (sequence file %s)", node, stream, s.path)
	}
	st.last++
	if s.path == "" || st.last <= st.limit {
		return st.last, nil
	}
	old := st.limit
	st.limit = st.last + min(SeqReserve-1, math.MaxUint64-st.last)
	if err := s.persistLocked(); err != nil {
		st.limit = old
		return st.last, err
	}
	return st.last, nil
}

// Path is the sequence file, "" for an in-memory store.
func (s *SeqStore) Path() string { return s.path }

// persistLocked merges the store's reservations into the sequence file (the
// larger of the two wins per stream) and replaces the file durably.
func (s *SeqStore) persistLocked() error {
	seqFileMu.Lock()
	defer seqFileMu.Unlock()
	entries, err := readSeqFile(s.path)
	if err != nil {
		return err
	}
	merged := make(map[streamKey]uint64, len(entries)+len(s.streams))
	for _, e := range entries {
		merged[streamKey{e.Node, e.Stream}] = e.Reserved
	}
	for k, st := range s.streams {
		merged[k] = max(merged[k], st.limit)
	}
	doc := seqFile{Version: 1, Streams: make([]seqFileEntry, 0, len(merged))}
	for k, r := range merged {
		if r > 0 {
			doc.Streams = append(doc.Streams, seqFileEntry{Node: k.node, Stream: k.stream, Reserved: r})
		}
	}
	sort.Slice(doc.Streams, func(i, j int) bool {
		a, b := doc.Streams[i], doc.Streams[j]
		if a.Node != b.Node {
			return a.Node < b.Node
		}
		return a.Stream < b.Stream
	})
	data, err := json.MarshalIndent(doc, "", "  ")
	if err != nil {
		return fmt.Errorf("encode: sequence file %s: %w", s.path, err)
	}
	return writeFileDurably(s.path, append(data, '\n'))
}

// readSeqFile returns the entries of the sequence file at path, none when it
// does not exist.
func readSeqFile(path string) ([]seqFileEntry, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("encode: sequence file %s: %w", path, err)
	}
	var doc seqFile
	if err := json.Unmarshal(data, &doc); err != nil {
		return nil, fmt.Errorf("encode: sequence file %s: %w (remove the file to number every stream from 1 again)", path, err)
	}
	if doc.Version != 1 {
		return nil, fmt.Errorf("encode: sequence file %s: version %d unknown (want 1)", path, doc.Version)
	}
	return doc.Streams, nil
}

// writeFileDurably replaces path with data so that after a crash path holds
// either the old or the new content: temporary file, fsync, rename, fsync of
// the directory.
func writeFileDurably(path string, data []byte) (err error) {
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, filepath.Base(path)+".tmp*")
	if err != nil {
		return fmt.Errorf("encode: sequence file %s: %w", path, err)
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
			err = fmt.Errorf("encode: sequence file %s: %w", path, err)
		}
	}()
	if _, err = tmp.Write(data); err != nil {
		return err
	}
	if err = tmp.Sync(); err != nil {
		return err
	}
	if err = tmp.Close(); err != nil {
		return err
	}
	if err = os.Rename(tmp.Name(), path); err != nil {
		return err
	}
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// openEncoderSeqStore opens the sequence store of an encoder built with env:
// the pipeline's sequence file under the node's data dir, or an in-memory store
// when the node has none.
func openEncoderSeqStore(env stages.Env) (*SeqStore, error) {
	path := ""
	if env.Node.DataDir != "" {
		path = SeqFilePath(env.Node.DataDir, env.Pipeline)
	}
	return OpenSeqStore(path, env.Log())
}

// nextSeq returns the next sequence number of stream k. A failed reservation
// is logged; the number is still used (see SeqStore.Next).
func (e *Encoder) nextSeq(k streamKey) uint64 {
	seq, err := e.seqs.Next(k.node, k.stream)
	if err != nil {
		e.env.Log().Error("encode: could not reserve sequence numbers durably; a restart may reuse numbers",
			"node", k.node, "stream", k.stream, "seq", seq, "err", err)
	}
	return seq
}
