package reading

import (
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// Reading is one value of one stream at one instant.
type Reading struct {
	Node   string            // edge node id; filled by the source from the node when empty
	Stream string            // sensor/stream name, unique within a node
	Time   time.Time         // when the value was measured
	Value  float64           // the value; any float64, NaN and ±Inf included
	Labels map[string]string // optional
}

// canonicalNaN is the bit pattern of math.NaN(), spelled plainly as "NaN".
var canonicalNaN = math.Float64bits(math.NaN())

// FormatValue spells v so that ParseValue gives back the same bits.
func FormatValue(v float64) string {
	return string(AppendValue(nil, v))
}

// AppendValue appends FormatValue(v) to dst.
func AppendValue(dst []byte, v float64) []byte {
	switch {
	case math.IsNaN(v):
		if b := math.Float64bits(v); b != canonicalNaN {
			return fmt.Appendf(dst, "NaN(0x%016x)", b)
		}
		return append(dst, "NaN"...)
	case math.IsInf(v, 1):
		return append(dst, "+Inf"...)
	case math.IsInf(v, -1):
		return append(dst, "-Inf"...)
	}
	return strconv.AppendFloat(dst, v, 'g', -1, 64)
}

// ParseValue parses a value spelled by FormatValue, or any decimal or hex float
// strconv.ParseFloat accepts. Values out of float64 range are errors, not ±Inf.
func ParseValue(s string) (float64, error) {
	if rest, ok := strings.CutPrefix(s, "NaN(0x"); ok && strings.HasSuffix(rest, ")") {
		b, err := strconv.ParseUint(strings.TrimSuffix(rest, ")"), 16, 64)
		if err != nil || !math.IsNaN(math.Float64frombits(b)) {
			return 0, fmt.Errorf("value %q: bad NaN payload", s)
		}
		return math.Float64frombits(b), nil
	}
	switch s {
	case "NaN", "nan":
		return math.NaN(), nil
	case "+Inf", "Inf", "inf", "+inf":
		return math.Inf(1), nil
	case "-Inf", "-inf":
		return math.Inf(-1), nil
	}
	v, err := strconv.ParseFloat(s, 64)
	if err != nil {
		var ne *strconv.NumError
		if ok := asNumError(err, &ne); ok && ne.Err == strconv.ErrRange {
			return 0, fmt.Errorf("value %q out of float64 range", s)
		}
		return 0, fmt.Errorf("value %q is not a number", s)
	}
	return v, nil
}

func asNumError(err error, target **strconv.NumError) bool {
	ne, ok := err.(*strconv.NumError)
	if ok {
		*target = ne
	}
	return ok
}

// MarshalJSON writes {"node":…,"stream":…,"ts":RFC 3339,"value":…,"labels":…};
// non-finite values are JSON strings.
func (r Reading) MarshalJSON() ([]byte, error) {
	return AppendJSON(nil, r), nil
}

// AppendJSON appends r as one JSON object (no newline) to dst.
func AppendJSON(dst []byte, r Reading) []byte {
	dst = append(dst, '{')
	if r.Node != "" {
		dst = append(dst, `"node":`...)
		dst = appendJSONString(dst, r.Node)
		dst = append(dst, ',')
	}
	dst = append(dst, `"stream":`...)
	dst = appendJSONString(dst, r.Stream)
	dst = append(dst, `,"ts":"`...)
	dst = r.Time.UTC().AppendFormat(dst, time.RFC3339Nano)
	dst = append(dst, `","value":`...)
	if math.IsNaN(r.Value) || math.IsInf(r.Value, 0) {
		dst = append(dst, '"')
		dst = AppendValue(dst, r.Value)
		dst = append(dst, '"')
	} else {
		dst = AppendValue(dst, r.Value)
	}
	if len(r.Labels) > 0 {
		b, _ := json.Marshal(r.Labels)
		dst = append(dst, `,"labels":`...)
		dst = append(dst, b...)
	}
	return append(dst, '}')
}

func appendJSONString(dst []byte, s string) []byte {
	if isPlain(s) {
		dst = append(dst, '"')
		dst = append(dst, s...)
		return append(dst, '"')
	}
	b, _ := json.Marshal(s)
	return append(dst, b...)
}

// isPlain reports whether s needs no escaping in JSON (printable ASCII, no
// quote or backslash, and none of the characters encoding/json escapes).
func isPlain[S string | []byte](s S) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c >= 0x7f || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			return false
		}
	}
	return true
}

// UnmarshalJSON reads the form MarshalJSON writes. "ts" may also be a number of
// seconds since the Unix epoch; "value" a number or a string spelled as ParseValue
// accepts. A multi-value object ("values") is an error here: use ParseJSONLine.
func (r *Reading) UnmarshalJSON(b []byte) error {
	rs, err := ParseJSONLine(b, nil)
	if err != nil {
		return err
	}
	if len(rs) != 1 {
		return fmt.Errorf(`object holds %d readings ("values"), want one`, len(rs))
	}
	*r = rs[0]
	return nil
}

// ParseTime accepts RFC 3339 (with or without fractional seconds), the same with a
// space instead of "T" and no zone (taken as UTC, as in the NAB data set), or a
// number of seconds since the Unix epoch.
//
// Times whose UTC year falls outside 0000–9999 are errors: RFC 3339 cannot spell them.
func ParseTime(s string) (time.Time, error) {
	t, err := parseTime(s)
	if err != nil {
		return t, err
	}
	if y := t.UTC().Year(); y < 0 || y > 9999 {
		return time.Time{}, fmt.Errorf("timestamp %q: year %d out of range 0000-9999", s, y)
	}
	return t, nil
}

func parseTime(s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, fmt.Errorf("timestamp is empty")
	}
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t, nil
	}
	for _, layout := range []string{"2006-01-02 15:04:05.999999999", "2006-01-02T15:04:05.999999999", "2006-01-02 15:04:05.999999999Z07:00"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t, nil
		}
	}
	if t, ok := parseUnixDecimal(s); ok {
		return t, nil
	}
	if f, err := strconv.ParseFloat(s, 64); err == nil && !math.IsNaN(f) && !math.IsInf(f, 0) && math.Abs(f) < 1e11 {
		sec, frac := math.Modf(f)
		return time.Unix(int64(sec), int64(math.Round(frac*1e9))).UTC(), nil
	}
	return time.Time{}, fmt.Errorf("timestamp %q is not RFC 3339 (e.g. 2026-01-02T15:04:05Z) nor Unix seconds", s)
}

// parseUnixDecimal parses plain decimal Unix seconds ("1700000000.123456789")
// exactly to the nanosecond, which a float64 cannot hold.
func parseUnixDecimal(s string) (time.Time, bool) {
	neg := false
	if rest, ok := strings.CutPrefix(s, "-"); ok {
		neg, s = true, rest
	}
	intPart, frac, hasFrac := strings.Cut(s, ".")
	if intPart == "" || len(intPart) > 11 || len(frac) > 9 || (hasFrac && frac == "") {
		return time.Time{}, false
	}
	for _, c := range intPart + frac {
		if c < '0' || c > '9' {
			return time.Time{}, false
		}
	}
	sec, err := strconv.ParseInt(intPart, 10, 64)
	if err != nil || sec >= 1e11 {
		return time.Time{}, false
	}
	var nsec int64
	if frac != "" {
		n, _ := strconv.ParseInt(frac, 10, 64)
		for i := len(frac); i < 9; i++ {
			n *= 10
		}
		nsec = n
	}
	if neg {
		sec, nsec = -sec, -nsec
	}
	return time.Unix(sec, nsec).UTC(), true
}
