package tflite_test

import (
	"context"
	"encoding/binary"
	"fmt"
	"math"

	"github.com/edgeflow/edgeflow/internal/tflite"
)

// A model of one ADD with a constant, built in memory (a real one comes from
// tflite.LoadFile), run by the interpreter.
func ExampleNewInterpreter() {
	constant := make([]byte, 8)
	binary.LittleEndian.PutUint32(constant, math.Float32bits(10))
	binary.LittleEndian.PutUint32(constant[4:], math.Float32bits(20))
	m := &tflite.Model{Version: 3, Subgraphs: []tflite.Subgraph{{
		Tensors: []tflite.Tensor{
			{Name: "x", Type: tflite.Float32, Shape: []int{1, 2}},
			{Name: "c", Type: tflite.Float32, Shape: []int{2}, Data: constant},
			{Name: "y", Type: tflite.Float32, Shape: []int{1, 2}},
		},
		Operators: []tflite.Operator{{Op: "ADD", Inputs: []int{0, 1}, Outputs: []int{2},
			Options: &tflite.ArithmeticOptions{Activation: tflite.ActRelu}}},
		Inputs:  []int{0},
		Outputs: []int{2},
	}}}
	ip, err := tflite.NewInterpreter(m, tflite.WithThreads(1))
	if err != nil {
		fmt.Println(err)
		return
	}
	defer ip.Close()
	copy(ip.Input(0).Float32s(), []float32{1.5, -30})
	if err := ip.Invoke(context.Background()); err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(ip.Output(0).Float32s())
	// Output: [11.5 0]
}
