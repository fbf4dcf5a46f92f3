package testenv

import (
	"bytes"
	"encoding/json"
	"os/exec"
	"sync"
	"testing"
)

var goModuleDirs sync.Map // "module@version" -> directory

// GoModuleDir returns the directory of a Go module version in the module
// cache, downloading it with `go mod download -json` (run in a temporary
// directory, so the module never enters edgeflow's go.mod). Tests use it for
// files that a module ships, such as the .tflite models of
// github.com/mattn/go-tflite. When the download fails: see Unavailable.
func GoModuleDir(t testing.TB, moduleAtVersion string) string {
	t.Helper()
	if dir, ok := goModuleDirs.Load(moduleAtVersion); ok {
		return dir.(string)
	}
	cmd := exec.Command("go", "mod", "download", "-json", moduleAtVersion)
	cmd.Dir = t.TempDir()
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	var info struct{ Dir, Error string }
	if jerr := json.Unmarshal(out, &info); jerr != nil && err == nil {
		err = jerr
	}
	if err != nil || info.Error != "" || info.Dir == "" {
		Unavailable(t, "go mod download "+moduleAtVersion+" failed: "+info.Error+" "+stderr.String()+errString(err))
		return ""
	}
	goModuleDirs.Store(moduleAtVersion, info.Dir)
	return info.Dir
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}
