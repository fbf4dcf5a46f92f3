package aggregate

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"pgregory.net/rapid"

	"github.com/edgeflow/edgeflow/internal/fl/model"
)

func TestWeightsSumToOne(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		ex := rapid.SliceOfN(rapid.Uint64Range(0, 1<<40), 1, 200).Draw(t, "examples")
		w, err := Weights(ex)
		var total uint64
		for _, e := range ex {
			total += e
		}
		if total == 0 {
			if !errors.Is(err, ErrNoUpdates) {
				t.Fatalf("all zero: error %v", err)
			}
			return
		}
		if err != nil {
			t.Fatal(err)
		}
		var sum float64
		for i, v := range w {
			if v < 0 || v > 1 {
				t.Fatalf("weight %d = %v", i, v)
			}
			sum += v
			if want := float64(ex[i]) / float64(total); math.Abs(v-want) > 1e-12 {
				t.Fatalf("weight %d = %v, want %v", i, v, want)
			}
		}
		if math.Abs(sum-1) > 1e-9 {
			t.Fatalf("Σ weights = %v", sum)
		}
	})
}

// TestFedAvgOfEqualDeltasIsTheDelta: a property of any weighting whose sum is 1.
func TestFedAvgOfEqualDeltasIsTheDelta(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		n := rapid.IntRange(1, 30).Draw(t, "n")
		d := rapid.SliceOfN(rapid.Float32Range(-10, 10), 1, 300).Draw(t, "delta")
		ex := rapid.SliceOfN(rapid.Uint64Range(1, 10000), n, n).Draw(t, "examples")
		w, _ := Weights(ex)
		deltas := make([][]float32, n)
		for i := range deltas {
			deltas[i] = d
		}
		dst := make([]float32, len(d))
		if err := (FedAvg{}).Combine(context.Background(), deltas, w, dst); err != nil {
			t.Fatal(err)
		}
		for i := range d {
			if math.Abs(float64(dst[i]-d[i])) > 1e-4*(1+math.Abs(float64(d[i]))) {
				t.Fatalf("coordinate %d: %v, want %v", i, dst[i], d[i])
			}
		}
	})
}

func TestRules(t *testing.T) {
	deltas := [][]float32{{1, 10}, {2, 20}, {3, 30}, {4, 40}, {100, -1000}}
	even := [][]float32{{1}, {2}, {3}, {10}}
	for _, tc := range []struct {
		name    string
		rule    Rule
		deltas  [][]float32
		weights []float64
		want    []float32
		err     string
	}{
		{"fedavg weighted", FedAvg{}, deltas[:2], []float64{0.25, 0.75}, []float32{1.75, 17.5}, ""},
		{"median odd", Median{}, deltas, nil, []float32{3, 20}, ""},
		{"median even", Median{}, even, nil, []float32{2.5}, ""},
		{"trimmed mean 0.2", TrimmedMean{Trim: 0.2}, deltas, nil, []float32{3, 20}, ""},
		{"trimmed mean 0", TrimmedMean{}, even, nil, []float32{4}, ""},
		{"trimmed mean out of range", TrimmedMean{Trim: 0.5}, even, nil, nil, "trim"},
		{"krum drops the outlier", Krum{Byzantine: 1}, deltas, nil, []float32{2, 20}, ""},
		{"multi-krum", Krum{Byzantine: 1, Select: 2}, deltas, nil, []float32{2.5, 25}, ""},
		{"krum needs n > 2f+2", Krum{Byzantine: 2}, deltas, nil, nil, "byzantine 2"},
		{"no deltas", FedAvg{}, nil, nil, nil, "no updates"},
		{"length mismatch", Median{}, [][]float32{{1, 2}, {1}}, nil, nil, "deltas[1]"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			n := 1
			if len(tc.deltas) > 0 {
				n = len(tc.deltas[0])
			}
			dst := make([]float32, n)
			err := tc.rule.Combine(context.Background(), tc.deltas, tc.weights, dst)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("error %v, want one with %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			for i := range tc.want {
				if math.Abs(float64(dst[i]-tc.want[i])) > 1e-5 {
					t.Fatalf("got %v, want %v", dst, tc.want)
				}
			}
		})
	}
}

func layout() model.Layout { return model.MLPLayout(3, 2) } // 8 parameters

func update(round uint64, node string, examples uint64, v float32) *model.Update {
	p := make([]float32, layout().NumParams())
	for i := range p {
		p[i] = v
	}
	return &model.Update{Round: round, Node: node, Examples: examples, Kind: model.KindDelta, Layout: layout(), Params: p}
}

func TestAggregateRejectsAndWeighs(t *testing.T) {
	global, _ := model.New(layout())
	for i := range global.Params {
		global.Params[i] = 1
	}
	nan := update(4, "d", 10, 0)
	nan.Params[3] = float32(math.NaN())
	weights := update(4, "e", 20, 3) // full weights 3 → delta 2
	weights.Kind = model.KindWeights
	res, err := Aggregate(context.Background(), 4, global, []*model.Update{
		update(4, "a", 20, 1), update(3, "b", 10, 5), update(4, "a", 20, 9), nan, weights, nil,
		{Round: 4, Node: "f", Kind: model.KindDelta, Layout: model.MLPLayout(2, 2), Params: make([]float32, 6)},
	}, Config{})
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(res.Used) != "[a e]" || res.Examples != 40 || len(res.Rejected) != 5 {
		t.Fatalf("used %v (%d examples), rejected %v", res.Used, res.Examples, res.Rejected)
	}
	for _, p := range res.Model.Params { // 1 + (20·1 + 20·2)/40
		if math.Abs(float64(p)-2.5) > 1e-6 {
			t.Fatalf("params %v, want 2.5", res.Model.Params)
		}
	}
	if global.Params[0] != 1 {
		t.Fatal("global model modified")
	}
	if _, err := Aggregate(context.Background(), 5, global, []*model.Update{update(4, "a", 1, 1)}, Config{}); !errors.Is(err, ErrNoUpdates) {
		t.Fatalf("no usable update: error %v", err)
	}
}

func TestPrivacyClipsAndAddsStatedNoise(t *testing.T) {
	l := model.MLPLayout(100, 100) // 10,100 parameters
	global, _ := model.New(l)
	var ups []*model.Update
	for i := range 10 {
		p := make([]float32, l.NumParams())
		p[0] = 100 // norm 100, clipped to 1
		ups = append(ups, &model.Update{Round: 1, Node: fmt.Sprint(i), Examples: uint64(1 + i), Kind: model.KindDelta, Layout: l, Params: p})
	}
	res, err := Aggregate(context.Background(), 1, global, ups, Config{Privacy: &Privacy{ClipNorm: 1, NoiseMultiplier: 2, Seed: 3}})
	if err != nil {
		t.Fatal(err)
	}
	if res.Clipped != 10 || res.NoiseStddev != 0.2 {
		t.Fatalf("clipped %d, noise σ %v; want 10 and 2·1/10", res.Clipped, res.NoiseStddev)
	}
	var sq float64
	for _, v := range res.Model.Params[1:] {
		sq += float64(v) * float64(v)
	}
	sd := math.Sqrt(sq / float64(len(res.Model.Params)-1))
	if math.Abs(sd-0.2) > 0.01 {
		t.Fatalf("measured noise σ %v, stated 0.2", sd)
	}
	again, _ := Aggregate(context.Background(), 1, global, ups, Config{Privacy: &Privacy{ClipNorm: 1, NoiseMultiplier: 2, Seed: 3}})
	if again.Model.Params[5] != res.Model.Params[5] {
		t.Fatal("same seed, different noise")
	}
}

func TestSample(t *testing.T) {
	clients := make([]string, 100)
	for i := range clients {
		clients[i] = fmt.Sprintf("node%03d", i)
	}
	for _, tc := range []struct {
		name string
		s    Sampling
		n    int
		want int
		err  string
	}{
		{"fraction", Sampling{Fraction: 0.1}, 100, 10, ""},
		{"minimum", Sampling{Fraction: 0.01, Min: 5}, 100, 5, ""},
		{"rounded up", Sampling{Fraction: 0.1}, 15, 2, ""},
		{"capped", Sampling{Fraction: 0.5, Min: 20}, 8, 8, ""},
		{"bad fraction", Sampling{Fraction: 0}, 10, 0, "fraction"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Sample(7, clients[:tc.n], tc.s)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("error %v", err)
				}
				return
			}
			if err != nil || len(got) != tc.want {
				t.Fatalf("%d clients (%v), want %d", len(got), err, tc.want)
			}
		})
	}
	a, _ := Sample(3, clients, Sampling{Fraction: 0.1, Seed: 1})
	reversed := make([]string, len(clients))
	for i, c := range clients {
		reversed[len(clients)-1-i] = c
	}
	b, _ := Sample(3, reversed, Sampling{Fraction: 0.1, Seed: 1})
	c, _ := Sample(4, clients, Sampling{Fraction: 0.1, Seed: 1})
	if fmt.Sprint(a) != fmt.Sprint(b) || fmt.Sprint(a) == fmt.Sprint(c) {
		t.Fatalf("round 3: %v and %v (reversed input); round 4: %v", a, b, c)
	}
}

func TestRoundQuorumDeadlineAndLateUpdates(t *testing.T) {
	t0 := time.Unix(1000, 0)
	r, err := NewRound(5, []string{"a", "b", "c"}, RoundPolicy{Quorum: 2, Timeout: time.Minute}, t0)
	if err != nil {
		t.Fatal(err)
	}
	steps := []struct {
		u    *model.Update
		at   time.Duration
		want Verdict
	}{
		{update(4, "a", 1, 0), time.Second, Late},
		{update(6, "a", 1, 0), time.Second, Future},
		{update(5, "x", 1, 0), time.Second, Unselected},
		{update(5, "a", 1, 0), 2 * time.Second, Accepted},
		{update(5, "a", 1, 0), 3 * time.Second, Duplicate},
	}
	for i, s := range steps {
		if got := r.Offer(s.u, t0.Add(s.at)); got != s.want {
			t.Fatalf("step %d: %v, want %v", i, got, s.want)
		}
	}
	if r.Ready(t0.Add(59 * time.Second)) {
		t.Fatal("ready with 1 of quorum 2 before the deadline")
	}
	if !r.Ready(t0.Add(time.Minute)) {
		t.Fatal("not ready at the deadline: a straggler blocks the round")
	}
	if got := r.Offer(update(5, "b", 1, 0), t0.Add(time.Minute)); got != Late {
		t.Fatalf("at the deadline: %v", got)
	}
	ups, st := r.Close(t0.Add(time.Minute))
	if len(ups) != 1 || st.Accepted != 1 || st.Late != 2 || st.Future != 1 || st.Duplicate != 1 || st.Unselected != 1 ||
		fmt.Sprint(st.Stragglers) != "[b c]" {
		t.Fatalf("stats %+v, %d updates", st, len(ups))
	}
}

// fakeTransport delivers the updates it is given, then blocks.
type fakeTransport struct {
	broadcasts int
	queue      chan *model.Update
}

func (f *fakeTransport) Broadcast(context.Context, uint64, []string, model.Model) error {
	f.broadcasts++
	return nil
}

func (f *fakeTransport) Receive(ctx context.Context) (*model.Update, error) {
	select {
	case u := <-f.queue:
		return u, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

func TestRunRound(t *testing.T) {
	global, _ := model.New(layout())
	clients := []string{"a", "b", "c", "d"}
	tr := &fakeTransport{queue: make(chan *model.Update, 10)}
	tr.queue <- update(1, "a", 10, 9) // an old round's: late
	tr.queue <- update(2, "a", 10, 1)
	tr.queue <- update(2, "b", 30, 2)
	c := Coordinator{Sampling: Sampling{Fraction: 1}, Policy: RoundPolicy{Timeout: 50 * time.Millisecond}}
	res, st, err := c.RunRound(context.Background(), tr, 2, clients, global)
	if err != nil {
		t.Fatal(err)
	}
	if tr.broadcasts != 1 || st.Accepted != 2 || st.Late != 1 || fmt.Sprint(st.Stragglers) != "[c d]" {
		t.Fatalf("stats %+v", st)
	}
	if got := res.Model.Params[0]; math.Abs(float64(got)-1.75) > 1e-6 {
		t.Fatalf("param %v, want (10·1+30·2)/40", got)
	}
}

func randomDeltas(n, params int) ([][]float32, []float64) {
	rng := rand.New(rand.NewPCG(1, 2))
	deltas := make([][]float32, n)
	ex := make([]uint64, n)
	for i := range deltas {
		deltas[i] = make([]float32, params)
		for j := range deltas[i] {
			deltas[i][j] = float32(rng.NormFloat64() * 0.01)
		}
		ex[i] = uint64(300 + rng.IntN(600))
	}
	w, _ := Weights(ex)
	return deltas, w
}

// BenchmarkCombine: 100 updates of the 2NN's 199,210 parameters.
func BenchmarkCombine(b *testing.B) {
	deltas, w := randomDeltas(100, 199210)
	dst := make([]float32, 199210)
	for _, r := range []Rule{FedAvg{}, Median{}, TrimmedMean{Trim: 0.1}, Krum{Byzantine: 10, Select: 10}} {
		b.Run(r.Name(), func(b *testing.B) {
			for b.Loop() {
				if err := r.Combine(context.Background(), deltas, w, dst); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func TestSelectKMatchesSort(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		v := rapid.SliceOfN(rapid.Float32Range(-5, 5), 1, 200).Draw(t, "v")
		if rapid.Bool().Draw(t, "ties") {
			for i := range v {
				v[i] = float32(int(v[i]))
			}
		}
		k := rapid.IntRange(0, len(v)-1).Draw(t, "k")
		sorted := append([]float32(nil), v...)
		slices.Sort(sorted)
		selectK(v, k)
		if v[k] != sorted[k] {
			t.Fatalf("v[%d] = %v, sorted has %v", k, v[k], sorted[k])
		}
		for i := range v {
			if (i < k && v[i] > v[k]) || (i > k && v[i] < v[k]) {
				t.Fatalf("v[%d] = %v on the wrong side of v[%d] = %v", i, v[i], k, v[k])
			}
		}
	})
}

func TestAggregateDoesNotDependOnArrivalOrder(t *testing.T) {
	global, _ := model.New(layout())
	rapid.Check(t, func(t *rapid.T) {
		n := rapid.IntRange(1, 12).Draw(t, "n")
		var ups []*model.Update
		for i := range n {
			u := update(1, fmt.Sprintf("n%02d", i), rapid.Uint64Range(1, 1000).Draw(t, "examples"), 0)
			for j := range u.Params {
				u.Params[j] = rapid.Float32Range(-1, 1).Draw(t, "v")
			}
			ups = append(ups, u)
		}
		perm := rapid.Permutation(ups).Draw(t, "order")
		a, err := Aggregate(context.Background(), 1, global, ups, Config{})
		if err != nil {
			t.Fatal(err)
		}
		b, err := Aggregate(context.Background(), 1, global, perm, Config{})
		if err != nil {
			t.Fatal(err)
		}
		for i := range a.Model.Params {
			if math.Float32bits(a.Model.Params[i]) != math.Float32bits(b.Model.Params[i]) {
				t.Fatalf("param %d: %v in one order, %v in another", i, a.Model.Params[i], b.Model.Params[i])
			}
		}
	})
}
