package anomaly

import (
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"slices"
	"strconv"
	"strings"
)

// Reading is one row of the TelosB file
// (reading,mote_id,indoor,humidity,temperature,label).
type Reading struct {
	Line        int    // line in the file, 1-based (the header is line 1)
	Seq         int    // the reading column: the mote's sample number, one every 5 s
	Node        string // mote id
	Indoor      bool
	Humidity    float64 // relative humidity, %
	Temperature float64 // °C
	Anomaly     bool    // label 1
}

// Channels returns the values a Windower takes: humidity, then temperature.
func (r Reading) Channels() []float64 { return []float64{r.Humidity, r.Temperature} }

// ChannelNames names the values of Reading.Channels, in order.
var ChannelNames = []string{"humidity", "temperature"}

// ErrFormat is wrapped by every error about malformed TelosB input.
var ErrFormat = errors.New("malformed telosb readings")

var telosbHeader = []string{"reading", "mote_id", "indoor", "humidity", "temperature", "label"}

// ReadTelosB parses a TelosB CSV file; name is used in errors
// ("multihop.csv:12: humidity: ..."). Values must be finite, indoor and
// label 0 or 1, and each mote's reading numbers must increase.
func ReadTelosB(ctx context.Context, r io.Reader, name string) ([]Reading, error) {
	cr := csv.NewReader(r)
	cr.FieldsPerRecord = len(telosbHeader)
	cr.ReuseRecord = true
	head, err := cr.Read()
	if err != nil {
		return nil, fmt.Errorf("%s:1: header: %w: %w", name, ErrFormat, err)
	}
	for i, want := range telosbHeader {
		if strings.TrimSpace(head[i]) != want {
			return nil, fmt.Errorf("%s:1: header column %d is %q, want %q: %w", name, i+1, head[i], want, ErrFormat)
		}
	}
	var out []Reading
	last := map[string]int{}
	for {
		if len(out)%4096 == 0 {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
		}
		rec, err := cr.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			var pe *csv.ParseError
			if errors.As(err, &pe) {
				return nil, fmt.Errorf("%s:%d: %w: %w", name, pe.Line, ErrFormat, pe.Err)
			}
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		line, _ := cr.FieldPos(0)
		rd := Reading{Line: line}
		fail := func(col int, format string, args ...any) error {
			return fmt.Errorf("%s:%d: %s: %s: %w", name, line, telosbHeader[col], fmt.Sprintf(format, args...), ErrFormat)
		}
		if rd.Seq, err = strconv.Atoi(strings.TrimSpace(rec[0])); err != nil || rd.Seq < 0 {
			return nil, fail(0, "%q is not a reading number", rec[0])
		}
		if rd.Node = strings.TrimSpace(rec[1]); rd.Node == "" {
			return nil, fail(1, "empty")
		}
		flags := [2]*bool{&rd.Indoor, &rd.Anomaly}
		for k, col := range [2]int{2, 5} {
			switch strings.TrimSpace(rec[col]) {
			case "0":
			case "1":
				*flags[k] = true
			default:
				return nil, fail(col, "%q, want 0 or 1", rec[col])
			}
		}
		for k, col := range [2]int{3, 4} {
			v, err := strconv.ParseFloat(strings.TrimSpace(rec[col]), 64)
			if err != nil || math.IsNaN(v) || math.IsInf(v, 0) {
				return nil, fail(col, "%q is not a finite number", rec[col])
			}
			if k == 0 {
				rd.Humidity = v
			} else {
				rd.Temperature = v
			}
		}
		if prev, ok := last[rd.Node]; ok && rd.Seq <= prev {
			return nil, fail(0, "mote %s: reading %d after %d, want increasing", rd.Node, rd.Seq, prev)
		}
		last[rd.Node] = rd.Seq
		out = append(out, rd)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%s: no readings: %w", name, ErrFormat)
	}
	return out, nil
}

// LoadTelosB reads the TelosB file at path.
func LoadTelosB(ctx context.Context, path string) ([]Reading, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return ReadTelosB(ctx, f, path)
}

// Node is one edge node's readings in time order.
type Node struct {
	ID       string
	Indoor   bool
	Readings []Reading
}

// Anomalies counts the node's readings labelled anomalous.
func (n Node) Anomalies() int {
	c := 0
	for _, r := range n.Readings {
		if r.Anomaly {
			c++
		}
	}
	return c
}

// ByNode groups readings per mote, motes sorted by id (numerically when
// both ids are numbers), each mote's readings in file order.
func ByNode(readings []Reading) []Node {
	idx := map[string]int{}
	var nodes []Node
	for _, r := range readings {
		i, ok := idx[r.Node]
		if !ok {
			i = len(nodes)
			idx[r.Node] = i
			nodes = append(nodes, Node{ID: r.Node, Indoor: r.Indoor})
		}
		nodes[i].Readings = append(nodes[i].Readings, r)
	}
	slices.SortFunc(nodes, func(a, b Node) int {
		x, ex := strconv.Atoi(a.ID)
		y, ey := strconv.Atoi(b.ID)
		if ex == nil && ey == nil && x != y {
			return x - y
		}
		return strings.Compare(a.ID, b.ID)
	})
	return nodes
}
