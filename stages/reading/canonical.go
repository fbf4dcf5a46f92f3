package reading

import (
	"bytes"
	"time"
)

// parseCanonical parses a line in exactly the form AppendJSON writes without
// labels and with plain strings — what flows between stages — several times
// faster than encoding/json. It reports false for anything else, which the
// general parser then handles (and reports errors for); for every line it
// accepts, the result equals the general parser's.
//
// Node and stream strings equal to those of prev (the previous reading of a
// payload, or nil) are shared with it instead of allocated again.
func parseCanonical(line []byte, prev *Reading) (Reading, bool) {
	var r Reading
	p := bytes.TrimSpace(line)
	var ok bool
	if p, ok = cutPrefix(p, `{`); !ok {
		return r, false
	}
	if rest, ok := cutPrefix(p, `"node":"`); ok {
		var node []byte
		if node, p, ok = cutPlain(rest); !ok {
			return r, false
		}
		if p, ok = cutPrefix(p, `,`); !ok {
			return r, false
		}
		if prev != nil && prev.Node == string(node) {
			r.Node = prev.Node
		} else {
			r.Node = string(node)
		}
	}
	if p, ok = cutPrefix(p, `"stream":"`); !ok {
		return r, false
	}
	var stream, ts []byte
	if stream, p, ok = cutPlain(p); !ok || len(stream) == 0 {
		return r, false
	}
	if p, ok = cutPrefix(p, `,"ts":"`); !ok {
		return r, false
	}
	if ts, p, ok = cutPlain(p); !ok {
		return r, false
	}
	t, err := time.Parse(time.RFC3339Nano, string(ts))
	if err != nil || t.UTC().Year() > 9999 || t.UTC().Year() < 0 {
		return r, false
	}
	if p, ok = cutPrefix(p, `,"value":`); !ok {
		return r, false
	}
	var value []byte
	if rest, ok := cutPrefix(p, `"`); ok {
		if value, p, ok = cutPlain(rest); !ok {
			return r, false
		}
	} else {
		end := bytes.IndexByte(p, '}')
		if end < 0 || !isJSONNumber(p[:end]) {
			return r, false
		}
		value, p = p[:end], p[end:]
	}
	if string(p) != "}" {
		return r, false // labels, or something else: the general parser decides
	}
	v, err := ParseValue(string(value))
	if err != nil {
		return r, false
	}
	if prev != nil && prev.Stream == string(stream) {
		r.Stream = prev.Stream
	} else {
		r.Stream = string(stream)
	}
	r.Time, r.Value = t, v
	return r, true
}

func cutPrefix(p []byte, prefix string) ([]byte, bool) {
	if len(p) < len(prefix) || string(p[:len(prefix)]) != prefix {
		return p, false
	}
	return p[len(prefix):], true
}

// cutPlain splits p at the next quote; the string before it must need no escaping.
func cutPlain(p []byte) (s, rest []byte, ok bool) {
	end := bytes.IndexByte(p, '"')
	if end < 0 || !isPlain(p[:end]) {
		return nil, p, false
	}
	return p[:end], p[end+1:], true
}

// isJSONNumber reports whether b is a number in JSON's grammar:
// -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
func isJSONNumber(b []byte) bool {
	i := 0
	if i < len(b) && b[i] == '-' {
		i++
	}
	digits := func() int {
		n := 0
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			i++
			n++
		}
		return n
	}
	switch {
	case i < len(b) && b[i] == '0':
		i++
	case digits() == 0:
		return false
	}
	if i < len(b) && b[i] == '.' {
		i++
		if digits() == 0 {
			return false
		}
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		if digits() == 0 {
			return false
		}
	}
	return i == len(b)
}
