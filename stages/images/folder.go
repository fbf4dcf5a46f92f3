package images

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"image"
	_ "image/jpeg" // registers the decoders DecodeConfig checks with
	_ "image/png"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/ThreeDotsLabs/watermill"
	"github.com/ThreeDotsLabs/watermill/message"
	_ "golang.org/x/image/bmp"

	"github.com/edgeflow/edgeflow/stages"
)

// FolderConfig configures the images source.
type FolderConfig struct {
	Path        string        `yaml:"path" doc:"Folder to watch; files directly in it are taken, subfolders are not." required:"true" example:"/var/lib/edgeflow/camera"`
	Extensions  []string      `yaml:"extensions" doc:"File name extensions taken (case does not matter); other files are left alone." example:"[.jpg, .png]"`
	Poll        time.Duration `yaml:"poll" doc:"How often the folder is listed."`
	Settle      time.Duration `yaml:"settle" doc:"A file is taken once it was last modified this long ago, so that pictures still being written are not read half-way."`
	Existing    bool          `yaml:"existing" doc:"Take the pictures already in the folder when the pipeline starts; false: only those appearing later."`
	After       string        `yaml:"after" doc:"What happens to a picture once the pipeline acknowledged it: keep (left in place; taken again only when rewritten), delete, or move into move_to." enum:"keep|delete|move"`
	MoveTo      string        `yaml:"move_to" doc:"With after: move, the folder pictures are moved into (created when missing); pictures the pipeline kept rejecting go there too, into a failed subfolder." example:"/var/lib/edgeflow/camera/done"`
	Once        bool          `yaml:"once" doc:"List the folder once, send every picture there (without waiting for settle), then end (the pipeline drains and stops when all its sources ended)."`
	Stream      string        `yaml:"stream" doc:"The edgeflow-stream of the messages. Empty: the folder's name."`
	MaxBytes    int64         `yaml:"max_bytes" doc:"Largest picture file taken; larger ones are logged and skipped." advanced:"true"`
	MaxAttempts int           `yaml:"max_attempts" doc:"How often a picture the pipeline rejects (nacks) is sent before it is logged and given up (moved to move_to/failed with after: move)." advanced:"true"`
}

func defaultFolderConfig() *FolderConfig {
	return &FolderConfig{Extensions: []string{".jpg", ".jpeg", ".png", ".bmp"}, Poll: time.Second, Settle: 500 * time.Millisecond,
		Existing: true, After: "keep", MaxBytes: 32 << 20, MaxAttempts: 3}
}

// Validate checks the config and names the bad field.
func (c *FolderConfig) Validate() error {
	if c.Path == "" {
		return stages.FieldErrorf("path", "path is empty: name the folder to watch")
	}
	if len(c.Extensions) == 0 {
		return stages.FieldErrorf("extensions", "extensions is empty: list the file extensions to take, e.g. [.jpg, .png]")
	}
	for i, e := range c.Extensions {
		if !strings.HasPrefix(e, ".") || len(e) < 2 || strings.ContainsAny(e, `/\`) {
			return stages.FieldErrorf(fmt.Sprintf("extensions[%d]", i), "extension %q: want a dot and a name, like .jpg", e)
		}
	}
	if c.Poll <= 0 {
		return stages.FieldErrorf("poll", "poll %v must be positive", c.Poll)
	}
	if c.Settle < 0 {
		return stages.FieldErrorf("settle", "settle %v must not be negative", c.Settle)
	}
	switch c.After {
	case "keep", "delete":
		if c.MoveTo != "" {
			return stages.FieldErrorf("move_to", "move_to is set but after is %s: set after: move", c.After)
		}
	case "move":
		if c.MoveTo == "" {
			return stages.FieldErrorf("move_to", "after: move needs move_to, the folder to move pictures into")
		}
	default:
		return stages.FieldErrorf("after", "after %q unknown (want keep|delete|move)", c.After)
	}
	if c.MaxBytes < 1 {
		return stages.FieldErrorf("max_bytes", "max_bytes %d must be positive", c.MaxBytes)
	}
	if c.MaxAttempts < 1 {
		return stages.FieldErrorf("max_attempts", "max_attempts %d must be at least 1", c.MaxAttempts)
	}
	return nil
}

// FolderSource sends the pictures appearing in a folder.
type FolderSource struct {
	cfg  *FolderConfig
	env  stages.Env
	node string
	log  *slog.Logger
	exts []string
	// seen holds the size and modification time each file had when it was
	// taken (or skipped), so it is taken again only when rewritten.
	seen map[string]fileStamp
}

type fileStamp struct {
	size  int64
	mtime time.Time
}

func buildFolder(_ context.Context, cfg *FolderConfig, env stages.Env) (stages.Source, error) {
	st, err := os.Stat(cfg.Path)
	if err != nil {
		return nil, stages.FieldErrorf("path", "%w", err)
	}
	if !st.IsDir() {
		return nil, stages.FieldErrorf("path", "%s is not a folder", cfg.Path)
	}
	if cfg.After == "move" {
		if err := os.MkdirAll(cfg.MoveTo, 0o755); err != nil {
			return nil, stages.FieldErrorf("move_to", "%w", err)
		}
	}
	exts := make([]string, len(cfg.Extensions))
	for i, e := range cfg.Extensions {
		exts[i] = strings.ToLower(e)
	}
	return &FolderSource{cfg: cfg, env: env, node: env.Node.ID, log: env.Log().With("stage", "images", "path", cfg.Path),
		exts: exts, seen: map[string]fileStamp{}}, nil
}

// Read lists the folder every poll interval and sends each settled new or
// rewritten picture, oldest first, waiting for the pipeline's answer. It
// returns ctx.Err() when ctx ends, or nil after one listing with once.
func (s *FolderSource) Read(ctx context.Context, emit stages.EmitFunc) error {
	first := true
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		files, err := s.list()
		if err != nil {
			return fmt.Errorf("images source: %w", err)
		}
		for _, f := range files {
			if first && !s.cfg.Existing {
				s.seen[f.path] = f.stamp
				continue
			}
			if time.Since(f.stamp.mtime) < s.cfg.Settle && !s.cfg.Once {
				continue // still being written, perhaps: next round
			}
			if err := s.send(ctx, emit, f); err != nil {
				return err
			}
		}
		first = false
		if s.cfg.Once {
			return nil
		}
		if err := stages.Sleep(ctx, s.cfg.Poll); err != nil {
			return err
		}
	}
}

type candidate struct {
	path  string
	stamp fileStamp
}

// list returns the folder's pictures not taken yet in their present form,
// oldest first.
func (s *FolderSource) list() ([]candidate, error) {
	entries, err := os.ReadDir(s.cfg.Path)
	if err != nil {
		return nil, err
	}
	var out []candidate
	for _, e := range entries {
		if !e.Type().IsRegular() || !slices.Contains(s.exts, strings.ToLower(filepath.Ext(e.Name()))) {
			continue
		}
		info, err := e.Info()
		if err != nil {
			continue // gone meanwhile
		}
		p := filepath.Join(s.cfg.Path, e.Name())
		st := fileStamp{size: info.Size(), mtime: info.ModTime()}
		if prev, ok := s.seen[p]; ok && prev == st {
			continue
		}
		out = append(out, candidate{p, st})
	}
	sort.SliceStable(out, func(i, j int) bool {
		if !out[i].stamp.mtime.Equal(out[j].stamp.mtime) {
			return out[i].stamp.mtime.Before(out[j].stamp.mtime)
		}
		return out[i].path < out[j].path
	})
	return out, nil
}

// send reads one picture, checks it and hands it to the pipeline.
func (s *FolderSource) send(ctx context.Context, emit stages.EmitFunc, f candidate) error {
	s.seen[f.path] = f.stamp // taken or given up: not again unless rewritten
	if f.stamp.size > s.cfg.MaxBytes {
		s.log.Warn("images source: picture skipped", "file", f.path, "err", fmt.Sprintf("%d bytes, max_bytes is %d", f.stamp.size, s.cfg.MaxBytes))
		return nil
	}
	data, err := os.ReadFile(f.path)
	if errors.Is(err, fs.ErrNotExist) {
		delete(s.seen, f.path)
		return nil
	}
	if err != nil {
		s.log.Warn("images source: picture skipped", "file", f.path, "err", err)
		return nil
	}
	format, err := CheckPicture(data)
	if err != nil {
		// Not a picture: to the dead letters (the file stays where it is).
		dl := stages.NewDeadLetter(data, f.path)
		return stages.DeadLetterRetrying(ctx, s.env, dl, fmt.Errorf("%s: %w", f.path, err), func(err error, wait time.Duration) {
			s.log.Warn("images source: dead letter not written; trying again", "file", f.path, "wait", wait, "err", err)
		})
	}
	name := filepath.Base(f.path)
	stream := s.cfg.Stream
	if stream == "" {
		stream = filepath.Base(filepath.Clean(s.cfg.Path))
	}
	wait := stages.RetryFirstBackoff
	for attempt := 1; ; attempt++ {
		msg := NewMessage(data, name, format)
		msg.Metadata.Set(stages.MetaNode, s.node)
		msg.Metadata.Set(stages.MetaStream, stream)
		err := emit(ctx, msg)
		switch {
		case err == nil:
			return s.done(f.path, false)
		case ctx.Err() != nil:
			delete(s.seen, f.path) // not acknowledged: again next time
			return ctx.Err()
		case !errors.Is(err, stages.ErrNacked):
			return fmt.Errorf("images source: %s: %w", f.path, err)
		case attempt >= s.cfg.MaxAttempts:
			s.log.Error("images source: pipeline rejected the picture; giving up", "file", f.path, "attempts", attempt, "err", err)
			return s.done(f.path, true)
		}
		s.log.Warn("images source: pipeline rejected the picture; sending it again", "file", f.path, "attempt", attempt, "wait", wait, "err", err)
		if err := stages.Sleep(ctx, wait); err != nil {
			delete(s.seen, f.path)
			return err
		}
		wait = min(2*wait, stages.RetryMaxBackoff)
	}
}

// done applies cfg.After to a picture the pipeline acknowledged (or gave up on).
func (s *FolderSource) done(path string, failed bool) error {
	switch s.cfg.After {
	case "delete":
		if failed {
			return nil // keep what was not processed
		}
		if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
			s.log.Warn("images source: cannot delete a sent picture", "file", path, "err", err)
		}
		delete(s.seen, path)
	case "move":
		dir := s.cfg.MoveTo
		if failed {
			dir = filepath.Join(dir, "failed")
			if err := os.MkdirAll(dir, 0o755); err != nil {
				s.log.Warn("images source: cannot create the failed folder", "dir", dir, "err", err)
				return nil
			}
		}
		if err := os.Rename(path, filepath.Join(dir, filepath.Base(path))); err != nil {
			s.log.Warn("images source: cannot move a sent picture", "file", path, "err", err)
			return nil
		}
		delete(s.seen, path)
	}
	return nil
}

// CheckPicture reads a picture's header and returns its format ("jpeg",
// "png", "bmp"), or an error for anything else.
func CheckPicture(data []byte) (string, error) {
	cfg, format, err := image.DecodeConfig(bytes.NewReader(data))
	if err != nil {
		return "", fmt.Errorf("not a JPEG, PNG or BMP picture: %w", err)
	}
	if cfg.Width < 1 || cfg.Height < 1 {
		return "", fmt.Errorf("%s picture of %d×%d pixels", format, cfg.Width, cfg.Height)
	}
	return format, nil
}

// MetaImageFormat is the metadata key of image messages naming the format:
// jpeg, png or bmp.
const MetaImageFormat = "edgeflow-image-format"

// NewMessage returns an image message holding data: kind image, the name in
// edgeflow-image-name and the format in edgeflow-image-format.
func NewMessage(data []byte, name, format string) *message.Message {
	msg := message.NewMessage(watermill.NewUUID(), data)
	msg.Metadata.Set(stages.MetaKind, stages.KindImage)
	if name != "" {
		msg.Metadata.Set(stages.MetaImageName, name)
	}
	if format != "" {
		msg.Metadata.Set(MetaImageFormat, format)
	}
	return msg
}

var (
	_ stages.Source = (*FolderSource)(nil)
	_ stages.Config = (*FolderConfig)(nil)
)
