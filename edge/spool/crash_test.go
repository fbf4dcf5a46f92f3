package spool

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"go.opentelemetry.io/otel/metric/noop"
)

// childEnv names the spool file the re-executed test binary appends to.
const childEnv = "EDGEFLOW_SPOOL_CRASH_CHILD"

// TestCrashChild is the child of TestKilledMidAppendKeepsAcknowledged: it
// appends batches forever and prints "acked N" after each Append returned.
func TestCrashChild(t *testing.T) {
	path := os.Getenv(childEnv)
	if path == "" {
		t.Skip("runs only as the child of TestKilledMidAppendKeepsAcknowledged")
	}
	s, err := Open(path, testConfig(), &recordingSink{fail: true}, Options{MeterProvider: noop.NewMeterProvider()})
	if err != nil {
		fmt.Println("error", err)
		os.Exit(2)
	}
	for i := 1; ; i += 3 {
		if err := s.Append(context.Background(), msgs(i, 3)); err != nil {
			fmt.Println("error", err)
			os.Exit(2)
		}
		fmt.Println("acked", i+2)
	}
}

// TestKilledMidAppendKeepsAcknowledged kills a process appending to a spool
// with SIGKILL and checks that every message whose Append returned is in the
// spool afterwards, in order.
func TestKilledMidAppendKeepsAcknowledged(t *testing.T) {
	if testing.Short() {
		t.Skip("re-executes the test binary")
	}
	path := filepath.Join(t.TempDir(), "crash.db")
	cmd := exec.Command(os.Args[0], "-test.run=^TestCrashChild$", "-test.v=false")
	cmd.Env = append(os.Environ(), childEnv+"="+path)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	acked := 0
	lines := bufio.NewScanner(out)
	kill := time.AfterFunc(30*time.Second, func() { cmd.Process.Kill() })
	defer kill.Stop()
	for lines.Scan() {
		f := strings.Fields(lines.Text())
		if len(f) == 2 && f[0] == "acked" {
			acked, _ = strconv.Atoi(f[1])
			if acked >= 600 {
				// Mid-append: the child is in its next Append by now.
				if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
					t.Fatal(err)
				}
				break
			}
		} else if strings.HasPrefix(lines.Text(), "error") {
			t.Fatalf("child: %s", lines.Text())
		}
	}
	go func() {
		for lines.Scan() { // drain whatever the child printed before dying
		}
	}()
	_ = cmd.Wait()
	if acked < 600 {
		t.Fatalf("child stopped after %d acknowledged messages", acked)
	}
	sink := &recordingSink{}
	s := open(t, path, testConfig(), sink)
	waitFor(t, "everything forwarded", func() bool { return s.Stats().Depth == 0 })
	got := sink.payloads()
	if len(got) < acked {
		t.Fatalf("after SIGKILL the spool held %d messages, %d were acknowledged", len(got), acked)
	}
	if !equal(got[:acked], want(1, acked)) {
		t.Fatalf("the acknowledged messages came back out of order or changed: %v", got[:min(20, len(got))])
	}
	t.Logf("acknowledged %d, found %d after SIGKILL", acked, len(got))
}
