package detect_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/edgeflow/edgeflow/internal/testenv"
	"github.com/edgeflow/edgeflow/pipelines"
	"github.com/edgeflow/edgeflow/stages"
	"github.com/edgeflow/edgeflow/stages/detect"
	_ "github.com/edgeflow/edgeflow/stages/images"
	_ "github.com/edgeflow/edgeflow/stages/kafka"
	_ "github.com/edgeflow/edgeflow/stages/stdout"
)

// TestCameraSSDExample runs pipelines/examples/camera-ssd.yaml against the
// real Kafka broker, with the folder, model and topic pointed at a test's: two
// pictures in, two detection results on the topic, pictures moved aside, and
// a file that is no picture left alone.
func TestCameraSSDExample(t *testing.T) {
	brokers := testenv.RequireKafka(t)
	ex := filepath.Join(testenv.GoModuleDir(t, "github.com/mattn/go-tflite@v1.0.1"), "_example", "ssd")
	camera, done := t.TempDir(), filepath.Join(t.TempDir(), "done")
	for _, src := range []string{filepath.Join(ex, "example.jpg"), testenv.SharedFile(t, "models/coral/grace_hopper.bmp")} {
		data, err := os.ReadFile(src)
		if err != nil {
			t.Fatal(err)
		}
		name := filepath.Base(src)
		if strings.HasSuffix(name, ".bmp") {
			name = "grace_hopper.png" // listed by extension; the format is read from the content
		}
		if err := os.WriteFile(filepath.Join(camera, name), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	os.WriteFile(filepath.Join(camera, "broken.jpg"), []byte("half a picture"), 0o644)

	text, err := os.ReadFile(filepath.Join(testenv.RepoRoot(), "pipelines", "examples", "camera-ssd.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	topic := fmt.Sprintf("edgeflow.test.detections.%d", time.Now().UnixNano())
	yaml := strings.NewReplacer(
		"path: /var/lib/edgeflow/camera\n", "path: "+camera+"\n    once: true\n    settle: 0s\n",
		"move_to: /var/lib/edgeflow/camera/done", "move_to: "+done,
		"model: /var/lib/edgeflow/models/detect.tflite", "model: "+filepath.Join(ex, "detect.tflite"),
		"topic: edgeflow.detections", "topic: "+topic,
	).Replace(string(text))
	p, err := pipelines.Load("camera-ssd.yaml", []byte(yaml))
	if err != nil {
		t.Fatalf("%v\n%s", err, yaml)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	runner, err := p.Build(ctx, stages.Env{Node: stages.Node{ID: "cam-node", Brokers: brokers}})
	if err != nil {
		t.Fatal(err)
	}
	if err := runner.Run(ctx); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"example.jpg", "grace_hopper.png"} {
		if _, err := os.Stat(filepath.Join(done, name)); err != nil {
			t.Errorf("%s not moved: %v", name, err)
		}
	}
	if _, err := os.Stat(filepath.Join(camera, "broken.jpg")); err != nil {
		t.Errorf("broken.jpg: %v", err)
	}

	r := kafka.NewReader(kafka.ReaderConfig{Brokers: brokers, Topic: topic, StartOffset: kafka.FirstOffset, MaxWait: 200 * time.Millisecond})
	defer r.Close()
	found := map[string][]string{}
	for len(found) < 2 {
		m, err := r.ReadMessage(ctx)
		if err != nil {
			t.Fatalf("reading %s: %v (results so far %v)", topic, err, found)
		}
		var res detect.Result
		if err := json.Unmarshal(m.Value, &res); err != nil {
			t.Fatal(err)
		}
		headers := map[string]string{}
		for _, h := range m.Headers {
			headers[h.Key] = string(h.Value)
		}
		if headers[stages.MetaKind] != stages.KindInference || headers[stages.MetaImageName] != res.Input.Name ||
			!strings.HasPrefix(headers[detect.MetaModel], "e4b118e5e453@1") || res.Input.Node != "cam-node" {
			t.Errorf("headers %v, input %+v", headers, res.Input)
		}
		for _, d := range res.Detections {
			found[res.Input.Name] = append(found[res.Input.Name], d.Label)
		}
	}
	t.Log(found)
	if !strings.HasPrefix(strings.Join(found["example.jpg"], ","), "person,laptop,person") ||
		!strings.HasPrefix(strings.Join(found["grace_hopper.png"], ","), "person,tie") {
		t.Errorf("detections %v", found)
	}
}

// TestCorruptPictureDeadLettered: a JPEG whose header reads but whose data is
// cut short passes the images source's check, fails in detect as malformed,
// and the runtime dead-letters it (no dead_letter: sink here, so it is logged
// and counted) and acknowledges it, while the good picture's result reaches
// the sink: the pipeline keeps flowing, nothing is nacked.
func TestCorruptPictureDeadLettered(t *testing.T) {
	ex := filepath.Join(testenv.GoModuleDir(t, "github.com/mattn/go-tflite@v1.0.1"), "_example")
	camera := t.TempDir()
	good, err := os.ReadFile(filepath.Join(ex, "mnist", "3.png"))
	if err != nil {
		t.Fatal(err)
	}
	jpg, err := os.ReadFile(filepath.Join(ex, "ssd", "example.jpg"))
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(camera, "a-good.png"), good, 0o644)
	os.WriteFile(filepath.Join(camera, "b-cut.jpg"), jpg[:2000], 0o644)
	p, err := pipelines.Load("cut.yaml", []byte(fmt.Sprintf(`name: cut
sources:
  - {type: images, path: %s, once: true}
stages:
  - {type: detect, model: %s, top_k: 1}
sinks:
  - {type: stdout, output: stderr}
`, camera, filepath.Join(ex, "mnist", "mnist_model.tflite"))))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	runner, err := p.Build(ctx, stages.Env{Node: stages.Node{ID: "n1"}})
	if err != nil {
		t.Fatal(err)
	}
	if err := runner.Run(ctx); err != nil {
		t.Fatal(err)
	}
	st := runner.Stats()
	t.Log(st)
	dead := uint64(0)
	for _, d := range st.DeadLetters {
		if strings.Contains(d.Path, "detect") {
			dead += d.Count
		}
	}
	if st.Acked != 2 || st.Nacked != 0 || dead != 1 {
		t.Fatalf("acked %d, nacked %d, dead letters from detect %d (%+v); want 2, 0, 1", st.Acked, st.Nacked, dead, st.DeadLetters)
	}
}
