package images

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"
	"gopkg.in/yaml.v3"

	"github.com/edgeflow/edgeflow/stages"
	"github.com/edgeflow/edgeflow/stages/stagetest"
)

func TestConformanceFolder(t *testing.T) {
	stagetest.Run(t, stages.KindSource, "images", stagetest.Features{
		ValidConfig:    "path: " + t.TempDir(),
		RequiredFields: []string{"path"},
	})
}

func TestConformanceHTTP(t *testing.T) {
	stagetest.Run(t, stages.KindSource, "http-images", stagetest.Features{ValidConfig: "address: 127.0.0.1:0"})
}

func pngBytes(t *testing.T, shade uint8) []byte {
	t.Helper()
	img := image.NewGray(image.Rect(0, 0, 4, 3))
	for i := range img.Pix {
		img.Pix[i] = shade
	}
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func write(t *testing.T, path string, data []byte, age time.Duration) {
	t.Helper()
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	when := time.Now().Add(-age)
	if err := os.Chtimes(path, when, when); err != nil {
		t.Fatal(err)
	}
}

// deadLetters collects what a source hands to the dead-letter route.
type deadLetters struct {
	mu   sync.Mutex
	msgs []*message.Message
}

func (d *deadLetters) route(ctx context.Context, msg *message.Message, reason error) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	msg.Metadata.Set(stages.MetaError, reason.Error())
	d.msgs = append(d.msgs, msg)
	return nil
}

func folderSource(t *testing.T, cfgYAML string, dl ...*deadLetters) *FolderSource {
	t.Helper()
	cfg := defaultFolderConfig()
	if err := yaml.Unmarshal([]byte(cfgYAML), cfg); err != nil {
		t.Fatal(err)
	}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	env := stages.Env{Node: stages.Node{ID: "edge-1"}}
	if len(dl) > 0 {
		env.DeadLetters = dl[0].route
	}
	src, err := buildFolder(context.Background(), cfg, env)
	if err != nil {
		t.Fatal(err)
	}
	return src.(*FolderSource)
}

func TestFolderOnceMove(t *testing.T) {
	dir, done := t.TempDir(), filepath.Join(t.TempDir(), "done")
	write(t, filepath.Join(dir, "b.png"), pngBytes(t, 2), time.Minute)
	write(t, filepath.Join(dir, "a.PNG"), pngBytes(t, 1), 2*time.Minute) // older: first
	write(t, filepath.Join(dir, "notes.txt"), []byte("not taken"), time.Minute)
	write(t, filepath.Join(dir, "fake.jpg"), []byte("not a picture"), time.Minute)
	write(t, filepath.Join(dir, "nacked.png"), pngBytes(t, 3), 30*time.Second)
	var dl deadLetters
	src := folderSource(t, "path: "+dir+"\nonce: true\nafter: move\nmove_to: "+done+"\nmax_attempts: 2", &dl)
	var names []string
	attempts := 0
	err := src.Read(context.Background(), func(ctx context.Context, msg *message.Message) error {
		name := msg.Metadata.Get(stages.MetaImageName)
		if msg.Metadata.Get(stages.MetaKind) != stages.KindImage || msg.Metadata.Get(stages.MetaNode) != "edge-1" ||
			msg.Metadata.Get(stages.MetaStream) != filepath.Base(dir) || msg.Metadata.Get(MetaImageFormat) != "png" {
			t.Errorf("metadata %v", msg.Metadata)
		}
		if name == "nacked.png" {
			attempts++
			return fmt.Errorf("model says no: %w", stages.ErrNacked)
		}
		names = append(names, name)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(names, []string{"a.PNG", "b.png"}) || attempts != 2 {
		t.Fatalf("sent %v, nacked.png tried %d times", names, attempts)
	}
	if len(dl.msgs) != 1 || string(dl.msgs[0].Payload) != "not a picture" || dl.msgs[0].Metadata.Get(stages.MetaSource) != filepath.Join(dir, "fake.jpg") ||
		!strings.Contains(dl.msgs[0].Metadata.Get(stages.MetaError), "not a JPEG, PNG or BMP picture") {
		t.Fatalf("dead letters %v", dl.msgs)
	}
	for _, p := range []string{filepath.Join(done, "a.PNG"), filepath.Join(done, "b.png"), filepath.Join(done, "failed", "nacked.png"), filepath.Join(dir, "fake.jpg"), filepath.Join(dir, "notes.txt")} {
		if _, err := os.Stat(p); err != nil {
			t.Errorf("%s: %v", p, err)
		}
	}
}

// TestFolderWatch: pictures appearing later are sent once settled, a
// rewritten one again; existing: false leaves the first ones alone.
func TestFolderWatch(t *testing.T) {
	dir := t.TempDir()
	write(t, filepath.Join(dir, "old.png"), pngBytes(t, 1), time.Minute)
	src := folderSource(t, "path: "+dir+"\npoll: 20ms\nsettle: 50ms\nexisting: false")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var mu sync.Mutex
	var got []string
	done := make(chan error, 1)
	go func() {
		done <- src.Read(ctx, func(ctx context.Context, msg *message.Message) error {
			mu.Lock()
			defer mu.Unlock()
			got = append(got, msg.Metadata.Get(stages.MetaImageName)+fmt.Sprint(len(msg.Payload)))
			return nil
		})
	}()
	waitFor := func(n int) []string {
		for ctx.Err() == nil {
			mu.Lock()
			g := slices.Clone(got)
			mu.Unlock()
			if len(g) >= n {
				return g
			}
			time.Sleep(10 * time.Millisecond)
		}
		t.Fatalf("timed out waiting for %d pictures", n)
		return nil
	}
	time.Sleep(60 * time.Millisecond)
	p := filepath.Join(dir, "latest.png")
	write(t, p, pngBytes(t, 5), 0)
	first := waitFor(1)
	big := image.NewRGBA(image.Rect(0, 0, 8, 8))
	big.Set(1, 1, color.RGBA{255, 0, 0, 255})
	var b bytes.Buffer
	png.Encode(&b, big)
	write(t, p, b.Bytes(), -time.Second) // rewritten: a new modification time
	all := waitFor(2)
	cancel()
	<-done
	if len(all) != 2 || !strings.HasPrefix(all[0], "latest.png") || !strings.HasPrefix(all[1], "latest.png") || all[0] == all[1] || first[0] != all[0] {
		t.Fatalf("sent %v", all)
	}
}

func TestFolderValidate(t *testing.T) {
	for _, tt := range []struct{ yaml, field string }{
		{"path: x", ""},
		{"path: ''", "path"},
		{"path: x\nextensions: []", "extensions"},
		{"path: x\nextensions: [jpg]", "extensions[0]"},
		{"path: x\npoll: 0s", "poll"},
		{"path: x\nafter: move", "move_to"},
		{"path: x\nmove_to: y", "move_to"},
		{"path: x\nafter: burn", "after"},
		{"path: x\nmax_attempts: 0", "max_attempts"},
	} {
		cfg := defaultFolderConfig()
		if err := yaml.Unmarshal([]byte(tt.yaml), cfg); err != nil {
			t.Fatal(err)
		}
		if got := stages.FieldOf(cfg.Validate()); got != tt.field {
			t.Errorf("%q: error names %q, want %q", tt.yaml, got, tt.field)
		}
	}
}

func TestHTTPImages(t *testing.T) {
	cfg := defaultHTTPConfig()
	cfg.Address, cfg.Path = "127.0.0.1:0", "/images/"
	v, err := buildHTTP(context.Background(), cfg, stages.Env{Node: stages.Node{ID: "edge-1"}})
	if err != nil {
		t.Fatal(err)
	}
	src := v.(*HTTPSource)
	defer src.Close()
	ctx, cancel := context.WithCancel(context.Background())
	var mu sync.Mutex
	var got []*message.Message
	done := make(chan error, 1)
	go func() {
		done <- src.Read(ctx, func(ctx context.Context, msg *message.Message) error {
			mu.Lock()
			defer mu.Unlock()
			got = append(got, msg)
			if msg.Metadata.Get(stages.MetaImageName) == "reject.png" {
				return stages.ErrNacked
			}
			return nil
		})
	}()
	base := "http://" + src.Addr().String()
	post := func(path, ctype string, body []byte, header ...string) (int, map[string]any) {
		req, _ := http.NewRequest(http.MethodPost, base+path, bytes.NewReader(body))
		req.Header.Set("Content-Type", ctype)
		if len(header) == 2 {
			req.Header.Set(header[0], header[1])
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var m map[string]any
		json.NewDecoder(resp.Body).Decode(&m)
		return resp.StatusCode, m
	}
	pic := pngBytes(t, 7)
	for _, tt := range []struct {
		path, ctype string
		body        []byte
		status      int
	}{
		{"/images/door.png", "image/png", pic, 200},
		{"/images/?name=gate.png", "application/octet-stream", pic, 200},
		{"/images/x.jpg", "image/jpeg", pic, 400}, // a PNG labelled JPEG
		{"/images/x.png", "image/png", []byte("text"), 400},
		{"/images/x.png", "text/plain", pic, 415},
		{"/images/reject.png", "image/png", pic, 503},
	} {
		status, body := post(tt.path, tt.ctype, tt.body, "X-Edgeflow-Node", "cam-7")
		if status != tt.status {
			t.Errorf("POST %s (%s): %d %v, want %d", tt.path, tt.ctype, status, body, tt.status)
		}
	}
	cancel()
	if err := <-done; err != context.Canceled {
		t.Errorf("Read returned %v", err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(got) != 3 || got[0].Metadata.Get(stages.MetaImageName) != "door.png" || got[1].Metadata.Get(stages.MetaImageName) != "gate.png" ||
		got[0].Metadata.Get(stages.MetaNode) != "cam-7" || !bytes.Equal(got[0].Payload, pic) {
		t.Fatalf("emitted %d messages: %v", len(got), got)
	}
}
