package tflite

import (
	"fmt"
	"math"

	flatbuffers "github.com/google/flatbuffers/go"

	"github.com/edgeflow/edgeflow/internal/tflite/schema"
)

// optionsTable says which options table each supported builtin operator
// carries, and how large its scalar fields are (by field id) for the checks.
var optionsTable = map[schema.BuiltinOperator]struct {
	kind  schema.BuiltinOptions
	sizes []uint16
}{
	schema.BuiltinOperatorCONV_2D:           {schema.BuiltinOptionsConv2DOptions, []uint16{1, 4, 4, 1, 4, 4}},
	schema.BuiltinOperatorDEPTHWISE_CONV_2D: {schema.BuiltinOptionsDepthwiseConv2DOptions, []uint16{1, 4, 4, 4, 1, 4, 4}},
	schema.BuiltinOperatorFULLY_CONNECTED:   {schema.BuiltinOptionsFullyConnectedOptions, []uint16{1, 1, 1}},
	schema.BuiltinOperatorAVERAGE_POOL_2D:   {schema.BuiltinOptionsPool2DOptions, []uint16{1, 4, 4, 4, 4, 1}},
	schema.BuiltinOperatorMAX_POOL_2D:       {schema.BuiltinOptionsPool2DOptions, []uint16{1, 4, 4, 4, 4, 1}},
	schema.BuiltinOperatorADD:               {schema.BuiltinOptionsAddOptions, []uint16{1}},
	schema.BuiltinOperatorSUB:               {schema.BuiltinOptionsSubOptions, []uint16{1}},
	schema.BuiltinOperatorMUL:               {schema.BuiltinOptionsMulOptions, []uint16{1}},
	schema.BuiltinOperatorCONCATENATION:     {schema.BuiltinOptionsConcatenationOptions, []uint16{4, 1}},
	schema.BuiltinOperatorRESHAPE:           {schema.BuiltinOptionsReshapeOptions, nil},
	schema.BuiltinOperatorSQUEEZE:           {schema.BuiltinOptionsSqueezeOptions, nil},
	schema.BuiltinOperatorMEAN:              {schema.BuiltinOptionsReducerOptions, []uint16{1}},
	schema.BuiltinOperatorSOFTMAX:           {schema.BuiltinOptionsSoftmaxOptions, []uint16{4}},
}

// builtinOptions decodes the options of the supported builtin operators; other
// operators get nil. Absent options take the schema's defaults.
func (l *loader) builtinOptions(t fbTable, fo *schema.Operator, code schema.BuiltinOperator, where string) (Options, error) {
	want, ok := optionsTable[code]
	if !ok {
		return nil, nil
	}
	var tab flatbuffers.Table
	var ot fbTable
	if got := fo.BuiltinOptionsType(); got != schema.BuiltinOptionsNONE {
		if got != want.kind {
			return nil, malformed(where, "options of type %s, want %s", got, want.kind)
		}
		var present bool
		var err error
		if ot, present, err = l.f.subTable(t, slot(4), where); err != nil {
			return nil, err
		}
		if present {
			for id, size := range want.sizes {
				if err := l.f.scalar(ot, slot(id), size, where); err != nil {
					return nil, err
				}
			}
			fo.BuiltinOptions(&tab)
		}
	}
	// With no table, tab.Bytes is nil and every accessor below returns its
	// default without reading: Offset is only called when the table exists.
	has := tab.Bytes != nil
	var opts Options
	var err error
	switch code {
	case schema.BuiltinOperatorCONV_2D:
		o := &Conv2DOptions{StrideW: 1, StrideH: 1, DilationW: 1, DilationH: 1}
		if has {
			var x schema.Conv2DOptions
			x.Init(tab.Bytes, tab.Pos)
			o.Padding, o.Activation = Padding(x.Padding()), Activation(x.FusedActivationFunction())
			o.StrideW, o.StrideH = int(x.StrideW()), int(x.StrideH())
			o.DilationW, o.DilationH = int(x.DilationWFactor()), int(x.DilationHFactor())
		}
		err = checkConv(where, o.Padding, o.Activation, "stride_w", o.StrideW, "stride_h", o.StrideH,
			"dilation_w_factor", o.DilationW, "dilation_h_factor", o.DilationH)
		opts = o
	case schema.BuiltinOperatorDEPTHWISE_CONV_2D:
		o := &DepthwiseConv2DOptions{StrideW: 1, StrideH: 1, DepthMultiplier: 1, DilationW: 1, DilationH: 1}
		if has {
			var x schema.DepthwiseConv2DOptions
			x.Init(tab.Bytes, tab.Pos)
			o.Padding, o.Activation = Padding(x.Padding()), Activation(x.FusedActivationFunction())
			o.StrideW, o.StrideH = int(x.StrideW()), int(x.StrideH())
			o.DepthMultiplier = int(x.DepthMultiplier())
			o.DilationW, o.DilationH = int(x.DilationWFactor()), int(x.DilationHFactor())
		}
		err = checkConv(where, o.Padding, o.Activation, "stride_w", o.StrideW, "stride_h", o.StrideH,
			"dilation_w_factor", o.DilationW, "dilation_h_factor", o.DilationH)
		// Some converters write depth_multiplier 0: it follows from the shapes.
		if o.DepthMultiplier < 0 || o.DepthMultiplier > 1<<16 {
			err = firstErr(err, malformed(where+".depth_multiplier", "%d, want 0..65536", o.DepthMultiplier))
		}
		opts = o
	case schema.BuiltinOperatorFULLY_CONNECTED:
		o := &FullyConnectedOptions{}
		if has {
			var x schema.FullyConnectedOptions
			x.Init(tab.Bytes, tab.Pos)
			o.Activation = Activation(x.FusedActivationFunction())
			o.ShuffledWeights = x.WeightsFormat() == schema.FullyConnectedOptionsWeightsFormatSHUFFLED4x16INT8
			o.KeepNumDims = x.KeepNumDims()
			if f := x.WeightsFormat(); f > schema.FullyConnectedOptionsWeightsFormatSHUFFLED4x16INT8 || f < 0 {
				err = malformed(where+".weights_format", "unknown format %d", f)
			}
		}
		err = firstErr(err, checkActivation(where, o.Activation))
		opts = o
	case schema.BuiltinOperatorAVERAGE_POOL_2D, schema.BuiltinOperatorMAX_POOL_2D:
		o := &Pool2DOptions{StrideW: 1, StrideH: 1, FilterW: 1, FilterH: 1}
		if has {
			var x schema.Pool2DOptions
			x.Init(tab.Bytes, tab.Pos)
			o.Padding, o.Activation = Padding(x.Padding()), Activation(x.FusedActivationFunction())
			o.StrideW, o.StrideH = int(x.StrideW()), int(x.StrideH())
			o.FilterW, o.FilterH = int(x.FilterWidth()), int(x.FilterHeight())
		}
		err = checkConv(where, o.Padding, o.Activation, "stride_w", o.StrideW, "stride_h", o.StrideH,
			"filter_width", o.FilterW, "filter_height", o.FilterH)
		opts = o
	case schema.BuiltinOperatorADD, schema.BuiltinOperatorSUB, schema.BuiltinOperatorMUL:
		o := &ArithmeticOptions{}
		if has {
			// AddOptions, SubOptions and MulOptions share field 0.
			var x schema.AddOptions
			x.Init(tab.Bytes, tab.Pos)
			o.Activation = Activation(x.FusedActivationFunction())
		}
		err = checkActivation(where, o.Activation)
		opts = o
	case schema.BuiltinOperatorCONCATENATION:
		o := &ConcatenationOptions{}
		if has {
			var x schema.ConcatenationOptions
			x.Init(tab.Bytes, tab.Pos)
			o.Axis, o.Activation = int(x.Axis()), Activation(x.FusedActivationFunction())
		}
		if o.Axis < -MaxRank || o.Axis >= MaxRank {
			err = malformed(where+".axis", "%d is not a dimension", o.Axis)
		}
		err = firstErr(err, checkActivation(where, o.Activation))
		opts = o
	case schema.BuiltinOperatorRESHAPE:
		o := &ReshapeOptions{}
		if has {
			var x schema.ReshapeOptions
			x.Init(tab.Bytes, tab.Pos)
			o.NewShape, _, err = l.ints(ot, slot(0), MaxRank, where+".new_shape", x.NewShape)
		}
		opts = o
	case schema.BuiltinOperatorSQUEEZE:
		o := &SqueezeOptions{}
		if has {
			var x schema.SqueezeOptions
			x.Init(tab.Bytes, tab.Pos)
			o.Dims, _, err = l.ints(ot, slot(0), MaxRank, where+".squeeze_dims", x.SqueezeDims)
		}
		opts = o
	case schema.BuiltinOperatorMEAN:
		o := &ReducerOptions{}
		if has {
			var x schema.ReducerOptions
			x.Init(tab.Bytes, tab.Pos)
			o.KeepDims = x.KeepDims()
		}
		opts = o
	case schema.BuiltinOperatorSOFTMAX:
		o := &SoftmaxOptions{Beta: 1}
		if has {
			var x schema.SoftmaxOptions
			x.Init(tab.Bytes, tab.Pos)
			o.Beta = x.Beta()
		}
		if math.IsNaN(float64(o.Beta)) || math.IsInf(float64(o.Beta), 0) {
			err = malformed(where+".beta", "%g is not finite", o.Beta)
		}
		opts = o
	}
	if err != nil {
		return nil, err
	}
	return opts, nil
}

// checkConv checks the options shared by convolutions and pools: a known
// padding and activation, and sizes (pairs of field name and value: strides,
// dilations, filter) from 1 to 65536.
func checkConv(where string, p Padding, a Activation, sizes ...any) error {
	if p != PaddingSame && p != PaddingValid {
		return malformed(where+".padding", "unknown padding %d", p)
	}
	for i := 0; i+1 < len(sizes); i += 2 {
		if n := sizes[i+1].(int); n < 1 || n > 1<<16 {
			return malformed(fmt.Sprintf("%s.%s", where, sizes[i]), "%d, want 1..65536", n)
		}
	}
	return checkActivation(where, a)
}

func checkActivation(where string, a Activation) error {
	if a < ActNone || a > ActSignBit {
		return malformed(where+".fused_activation_function", "unknown activation %d", a)
	}
	return nil
}

func firstErr(errs ...error) error {
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}
