package detect

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"
	"gopkg.in/yaml.v3"

	"github.com/edgeflow/edgeflow/internal/testenv"
	"github.com/edgeflow/edgeflow/internal/tflite/golden"
	"github.com/edgeflow/edgeflow/stages"
	"github.com/edgeflow/edgeflow/stages/reading"
	"github.com/edgeflow/edgeflow/stages/stagetest"
)

// goTFLite is the module whose examples ship the SSD and MNIST models and pictures.
const goTFLite = "github.com/mattn/go-tflite@v1.0.1"

func exampleFile(t testing.TB, rel string) string {
	t.Helper()
	return filepath.Join(testenv.GoModuleDir(t, goTFLite), "_example", filepath.FromSlash(rel))
}

func TestConformance(t *testing.T) {
	model := exampleFile(t, "mnist/mnist_model.tflite")
	stagetest.Run(t, stages.KindProcessor, "detect", stagetest.Features{
		ValidConfig:    "model: " + model + "\ntop_k: 3",
		RequiredFields: []string{"model"},
		MalformedPayloads: [][]byte{
			[]byte(`{"stream":"s","ts":"2026-01-02T15:04:05Z","value":1}` + "\n"), // 1 reading, the model takes 784
		},
	})
}

func newDetector(t *testing.T, cfgYAML string) *Detector {
	t.Helper()
	cfg := DefaultConfig()
	if err := yaml.Unmarshal([]byte(cfgYAML), cfg); err != nil {
		t.Fatal(err)
	}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	d, err := New(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	return d
}

func imageMessage(t testing.TB, path string) *message.Message {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	msg := message.NewMessage("img-"+filepath.Base(path), data)
	msg.Metadata.Set(stages.MetaKind, stages.KindImage)
	msg.Metadata.Set(stages.MetaImageName, filepath.Base(path))
	msg.Metadata.Set(stages.MetaNode, "cam-1")
	return msg
}

func process(t *testing.T, d *Detector, msg *message.Message) Result {
	t.Helper()
	out, err := d.Process(context.Background(), msg)
	if err != nil {
		t.Fatal(err)
	}
	if len(out) != 1 || out[0].Metadata.Get(stages.MetaKind) != stages.KindInference {
		t.Fatalf("got %d messages, kind %q", len(out), out[0].Metadata.Get(stages.MetaKind))
	}
	for k, v := range msg.Metadata {
		if k != stages.MetaKind && out[0].Metadata.Get(k) != v {
			t.Errorf("metadata %s = %q, the input had %q", k, out[0].Metadata.Get(k), v)
		}
	}
	var res Result
	if err := json.Unmarshal(out[0].Payload, &res); err != nil {
		t.Fatal(err)
	}
	return res
}

// TestSSDExample runs go-tflite's SSD example: the people and laptops in
// example.jpg, labels found beside the model (labelmap.txt, "???" first).
func TestSSDExample(t *testing.T) {
	d := newDetector(t, "model: "+exampleFile(t, "ssd/detect.tflite")+"\noutput: ssd\nthreshold: 0.5\ntop_k: 0")
	if !strings.HasSuffix(d.LabelFile(), "labelmap.txt") {
		t.Errorf("label file %q, want labelmap.txt found beside the model", d.LabelFile())
	}
	res := process(t, d, imageMessage(t, exampleFile(t, "ssd/example.jpg")))
	count := map[string]int{}
	for _, det := range res.Detections {
		count[det.Label]++
		t.Logf("%-8s %.4f %+v", det.Label, det.Score, det.Box)
	}
	// TensorFlow Lite finds the two people at 0.77 and 0.70 and the laptop at
	// 0.75 on Pillow's input; the JPEG decoders' small differences may move
	// the weaker detections around 0.5.
	if len(res.Detections) < 3 || res.Detections[0].Label != "person" || res.Detections[1].Label != "laptop" ||
		count["person"] < 2 || count["laptop"] < 1 || res.Detections[0].Score < 0.7 {
		t.Errorf("detections %+v: want people and a laptop first", res.Detections)
	}
	if res.Input.Width != 1920 || res.Input.Height != 1280 || res.Input.Format != "jpeg" || res.Input.Name != "example.jpg" ||
		res.Model.File != "detect.tflite" || res.Model.Version != 1 || !strings.HasPrefix(res.Model.SHA256, "e4b118e5e453") {
		t.Errorf("input %+v, model %+v", res.Input, res.Model)
	}
}

// goldenCase loads one case of the interpreter's golden set.
func goldenCase(t *testing.T, id string) golden.Case {
	t.Helper()
	c, err := golden.LoadCase(filepath.Join(goldenDir, filepath.FromSlash(id)+".json"))
	if err != nil {
		t.Fatal(err)
	}
	if c.TFLite == nil {
		t.Fatalf("%s has no TFLite reference outputs", id)
	}
	return c
}

func modelPath(t *testing.T, c golden.Case) string {
	t.Helper()
	p, err := c.Model.Source.Locate(context.Background(), testenv.SharedFile(t, ""))
	if err != nil {
		testenv.Unavailable(t, err.Error())
	}
	return p
}

// TestGoldenThroughStage runs pictures whose decoding is exact (BMP, PNG)
// through the whole stage and expects TensorFlow Lite's reference outputs:
// preprocessing and interpreter together reproduce them.
func TestGoldenThroughStage(t *testing.T) {
	for _, tt := range []struct{ id, cfg string }{
		{"ssd_detect/grace_hopper", "output: raw"},
		{"mobilenet_v1_0.25_128_quant/cat", "output: raw"},
		{"mobilenet_quant_v1_224/peacock", "output: raw"},
		{"mnist/digit4", "output: raw"},
	} {
		t.Run(tt.id, func(t *testing.T) {
			c := goldenCase(t, tt.id)
			d := newDetector(t, "model: "+modelPath(t, c)+"\n"+tt.cfg)
			res := process(t, d, imageMessage(t, imageFile(t, c.Input.Source.ImageOrigin)))
			if len(res.Outputs) != len(c.TFLite.Outputs) {
				t.Fatalf("%d outputs, want %d", len(res.Outputs), len(c.TFLite.Outputs))
			}
			for i, want := range c.TFLite.Outputs {
				got := res.Outputs[i]
				for j, v := range got.Values {
					var w float64
					if want.Quantization != nil {
						w = float64(f(want.Quantization.Scale * float32(want.Ints[j]-want.Quantization.ZeroPoint)))
					} else {
						w = float64(f(want.Floats[j]))
					}
					if v != w {
						t.Fatalf("output %d (%s) value %d = %v, TFLite's reference %v", i, got.Name, j, v, w)
					}
				}
			}
		})
	}
}

func TestClassifyGolden(t *testing.T) {
	c := goldenCase(t, "mnist/digit7")
	d := newDetector(t, "model: "+modelPath(t, c)+"\ntop_k: 2")
	res := process(t, d, imageMessage(t, imageFile(t, c.Input.Source.ImageOrigin)))
	if len(res.Classes) != 2 || res.Classes[0].Index != c.Top5[0].Index || res.Classes[0].Score < res.Classes[1].Score {
		t.Fatalf("classes %+v, want top-1 %d", res.Classes, c.Top5[0].Index)
	}
}

// TestBadInputs: each bad message fails alone, naming itself; the next good
// one still runs.
func TestBadInputs(t *testing.T) {
	d := newDetector(t, "model: "+exampleFile(t, "mnist/mnist_model.tflite"))
	png, err := os.ReadFile(exampleFile(t, "mnist/3.png"))
	if err != nil {
		t.Fatal(err)
	}
	window := func(n int) []byte {
		var rs []reading.Reading
		for i := range n {
			rs = append(rs, reading.Reading{Stream: "s", Time: time.Unix(int64(i), 0), Value: 0.5})
		}
		return reading.AppendJSONLines(nil, rs)
	}
	for _, tt := range []struct {
		name, kind string
		payload    []byte
		want       error
	}{
		{"text", stages.KindImage, []byte("hello"), ErrNotImage},
		{"cut png", stages.KindImage, png[:len(png)/2], ErrNotImage},
		{"empty", stages.KindImage, nil, ErrNotImage},
		{"short window", stages.KindReadings, window(783), ErrInput},
		{"long window", stages.KindReadings, window(785), ErrInput},
		{"frame", stages.KindFrame, []byte("EFRM"), ErrInput},
		{"bad readings", stages.KindReadings, []byte("{oops"), ErrInput},
	} {
		t.Run(tt.name, func(t *testing.T) {
			msg := message.NewMessage("bad-"+strings.ReplaceAll(tt.name, " ", "-"), tt.payload)
			msg.Metadata.Set(stages.MetaKind, tt.kind)
			_, err := d.Process(context.Background(), msg)
			if !errors.Is(err, tt.want) || !strings.Contains(err.Error(), msg.UUID) || !stages.IsMalformed(err) {
				t.Fatalf("error %v: want a malformed-input error wrapping %v and naming %s", err, tt.want, msg.UUID)
			}
			good := message.NewMessage("good", png)
			good.Metadata.Set(stages.MetaKind, stages.KindImage)
			if res := process(t, d, good); len(res.Classes) == 0 || res.Classes[0].Index != 3 {
				t.Fatalf("after the bad message: %+v", res.Classes)
			}
		})
	}
}

// TestReadingsWindow feeds MNIST a picture as 784 readings and as three
// interleaved streams into a model of the same size.
func TestReadingsWindow(t *testing.T) {
	c := goldenCase(t, "mnist/digit3")
	d := newDetector(t, "model: "+modelPath(t, c))
	px, err := c.Input.Float32s()
	if err != nil {
		t.Fatal(err)
	}
	var rs []reading.Reading
	for i, v := range px {
		rs = append(rs, reading.Reading{Stream: "pixels", Time: time.Unix(int64(i), 0), Value: float64(v)})
	}
	res := process(t, d, reading.NewMessage(rs))
	if res.Input.Readings != 784 || res.Classes[0].Index != 3 {
		t.Fatalf("input %+v, classes %+v", res.Input, res.Classes)
	}
	// The same values as two streams of 392, interleaved: a, b, a, b …
	d2 := newDetector(t, "model: "+modelPath(t, c)+"\nstreams: [a, b]")
	var two []reading.Reading
	for i, v := range px {
		two = append(two, reading.Reading{Stream: string(rune('a' + i%2)), Time: time.Unix(int64(i/2), 0), Value: float64(v)})
	}
	slices.SortStableFunc(two, func(x, y reading.Reading) int { return strings.Compare(x.Stream, y.Stream) }) // all of a, then all of b
	if res2 := process(t, d2, reading.NewMessage(two)); !slices.Equal(res2.Classes, res.Classes) {
		t.Fatalf("interleaved streams: %+v, want %+v", res2.Classes, res.Classes)
	}
}

// TestSwapModelConcurrent processes messages from several goroutines while
// the model is swapped back and forth between two classifiers. Every result
// must equal the one its model gives alone: no message runs on a mixture or a
// half-loaded model, and none is lost.
func TestSwapModelConcurrent(t *testing.T) {
	a := goldenCase(t, "mobilenet_v1_0.25_128_quant/cat")
	b := goldenCase(t, "mnist/digit0") // a different input shape: the picture is resized for each
	pathA, pathB := modelPath(t, a), modelPath(t, b)
	dataA, _ := os.ReadFile(pathA)
	dataB, _ := os.ReadFile(pathB)
	picture := imageFile(t, a.Input.Source.ImageOrigin)

	want := map[string][]Class{} // model sha256 → classes
	for _, p := range []string{pathA, pathB} {
		res := process(t, newDetector(t, "model: "+p), imageMessage(t, picture))
		want[res.Model.SHA256] = res.Classes
	}
	d := newDetector(t, "model: "+pathA+"\nconcurrency: 3\nthreads: 1")
	const workers, perWorker = 4, 12
	var wg sync.WaitGroup
	errs := make(chan error, workers*perWorker)
	versions := make(chan int, workers*perWorker)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range perWorker {
				msg := imageMessage(t, picture)
				msg.UUID = fmt.Sprintf("w%d-%d", w, i)
				out, err := d.Process(context.Background(), msg)
				if err != nil {
					errs <- err
					continue
				}
				var res Result
				if err := json.Unmarshal(out[0].Payload, &res); err != nil {
					errs <- err
					continue
				}
				if !slices.Equal(res.Classes, want[res.Model.SHA256]) {
					errs <- fmt.Errorf("message %s on model %s@%d: %+v, want %+v", msg.UUID, res.Model.SHA256[:12], res.Model.Version, res.Classes, want[res.Model.SHA256])
				}
				versions <- res.Model.Version
			}
		}()
	}
	swaps := 0
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
loop:
	for {
		select {
		case <-done:
			break loop
		default:
		}
		data := dataB
		if swaps%2 == 1 {
			data = dataA
		}
		if err := d.SwapModel(context.Background(), data); err != nil {
			t.Fatal(err)
		}
		swaps++
		time.Sleep(2 * time.Millisecond)
	}
	close(errs)
	close(versions)
	for err := range errs {
		t.Error(err)
	}
	seen := map[int]bool{}
	n := 0
	for v := range versions {
		seen[v] = true
		n++
	}
	if n != workers*perWorker {
		t.Errorf("%d results, want %d", n, workers*perWorker)
	}
	t.Logf("%d swaps; results from %d model versions", swaps, len(seen))
	if swaps < 2 || len(seen) < 2 {
		t.Errorf("%d swaps, %d versions used: the test did not exercise swapping", swaps, len(seen))
	}
	// A model that does not fit leaves the current one in place.
	if err := d.SwapModel(context.Background(), []byte("not a model")); !errors.Is(err, ErrModel) {
		t.Errorf("swap to garbage: %v, want ErrModel", err)
	}
	if got := d.Model().Version; got != swaps+1 {
		t.Errorf("version %d after %d swaps and a failed one, want %d", got, swaps, swaps+1)
	}
}

func TestValidate(t *testing.T) {
	for _, tt := range []struct{ yaml, field string }{
		{"model: m.tflite", ""},
		{"model: ''", "model"},
		{"model: m.tflite\noutput: boxes", "output"},
		{"model: m.tflite\ntop_k: -1", "top_k"},
		{"model: m.tflite\noutput: ssd\nthreshold: 1.5", "threshold"},
		{"model: m.tflite\nscore: mse", "score"},
		{"model: m.tflite\noutput: score\nscore: mae", "score"},
		{"model: m.tflite\nmean: 127.5", "std"},
		{"model: m.tflite\nstd: -1", "std"},
		{"model: m.tflite\nstreams: [a, a]", "streams[1]"},
		{"model: m.tflite\nconcurrency: 0", "concurrency"},
		{"model: m.tflite\nthreads: -2", "threads"},
	} {
		cfg := DefaultConfig()
		if err := yaml.Unmarshal([]byte(tt.yaml), cfg); err != nil {
			t.Fatal(err)
		}
		if got := stages.FieldOf(cfg.Validate()); got != tt.field {
			t.Errorf("%q: error names %q, want %q", tt.yaml, got, tt.field)
		}
	}
}

func TestModelErrors(t *testing.T) {
	dir := t.TempDir()
	garbage := filepath.Join(dir, "garbage.tflite")
	os.WriteFile(garbage, []byte("TFL3 but not really a model"), 0o644)
	for _, tt := range []struct{ name, cfg, field string }{
		{"missing", "model: " + filepath.Join(dir, "none.tflite"), "model"},
		{"garbage", "model: " + garbage, "model"},
		{"ssd outputs on a classifier", "model: " + exampleFile(t, "mnist/mnist_model.tflite") + "\noutput: ssd", "model"},
		{"missing labels", "model: " + exampleFile(t, "mnist/mnist_model.tflite") + "\nlabels: " + filepath.Join(dir, "none.txt"), "labels"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			cfg := DefaultConfig()
			if err := yaml.Unmarshal([]byte(tt.cfg), cfg); err != nil {
				t.Fatal(err)
			}
			_, err := New(context.Background(), cfg)
			if stages.FieldOf(err) != tt.field {
				t.Fatalf("error %v names %q, want %q", err, stages.FieldOf(err), tt.field)
			}
		})
	}
}

func TestReadLabels(t *testing.T) {
	dir := t.TempDir()
	for _, tt := range []struct {
		name, text string
		want       []string
	}{
		{"lines", "background\ntench\n\n", []string{"background", "tench"}},
		{"numbered", "0  person\n1  bicycle\n3 car\n", []string{"person", "bicycle", "", "car"}},
		{"crlf", "a\r\nb\r\n", []string{"a", "b"}},
	} {
		p := filepath.Join(dir, tt.name+".txt")
		os.WriteFile(p, []byte(tt.text), 0o644)
		l, err := readLabels(p)
		if err != nil || !slices.Equal(l.names, tt.want) {
			t.Errorf("%s: %q, %v; want %q", tt.name, l.names, err, tt.want)
		}
	}
	ssd := labelSet{names: []string{"???", "person", "bicycle"}}
	if ssd.label(0, true) != "person" || ssd.label(0, false) != "???" || ssd.label(9, true) != "" || ssd.label(-1, false) != "" {
		t.Error("label offset for ssd label maps")
	}
}

// TestRunning: a stage built for a pipeline is listed under its name until closed.
func TestRunning(t *testing.T) {
	reg, _ := stages.Lookup(stages.KindProcessor, "detect")
	cfg := DefaultConfig()
	cfg.Model = exampleFile(t, "mnist/mnist_model.tflite")
	v, err := reg.Build(context.Background(), cfg, stages.Env{Pipeline: "door-cam"})
	if err != nil {
		t.Fatal(err)
	}
	d := v.(*Detector)
	if got := Running("door-cam"); len(got) != 1 || got[0] != d {
		t.Fatalf("Running: %v", got)
	}
	d.Close()
	if got := Running("door-cam"); len(got) != 0 {
		t.Fatalf("Running after Close: %v", got)
	}
}
