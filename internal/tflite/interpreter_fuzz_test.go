package tflite

import (
	"context"
	"testing"
)

// go test -fuzz=FuzzInterpreter ./internal/tflite: any file that loads is
// prepared and run; NewInterpreter may refuse it with an error, but neither
// it nor Invoke may panic. Seeds: the synthetic model and the small real
// models of FuzzLoad, and one-operator models of the kernel tests.
func FuzzInterpreter(f *testing.F) {
	f.Add(fcModel().bytes())
	for _, p := range smallModelPaths(f) {
		f.Add(readFile(f, p))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := Load(data)
		if err != nil {
			return
		}
		ip, err := NewInterpreter(m, WithThreads(2))
		if err != nil {
			return
		}
		defer ip.Close()
		for i := range ip.NumInputs() {
			in := ip.Input(i)
			for j := range in.Data {
				in.Data[j] = byte(j * 37)
			}
		}
		_ = ip.Invoke(context.Background())
	})
}
