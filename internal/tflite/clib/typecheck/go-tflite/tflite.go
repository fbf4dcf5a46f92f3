package tflite

func Version() string { return "" }

type Model struct{}

func NewModelWithErrorReporter(model_data []byte, f func(string, interface{}), user_data interface{}) *Model {
	return nil
}
func (m *Model) Delete() {}

type InterpreterOptions struct{}

func NewInterpreterOptions() *InterpreterOptions                                                  { return nil }
func (o *InterpreterOptions) SetNumThread(num_threads int)                                        {}
func (o *InterpreterOptions) SetErrorReporter(f func(string, interface{}), user_data interface{}) {}
func (o *InterpreterOptions) Delete()                                                             {}
func (o *InterpreterOptions) EnableCancellation(enable bool) Status                               { return OK }

type Interpreter struct{}

func NewInterpreter(model *Model, options *InterpreterOptions) *Interpreter { return nil }
func (i *Interpreter) Delete()                                              {}
func (i *Interpreter) GetInputTensorCount() int                             { return 0 }
func (i *Interpreter) GetInputTensor(index int) *Tensor                     { return nil }
func (i *Interpreter) AllocateTensors() Status                              { return OK }
func (i *Interpreter) Invoke() Status                                       { return OK }
func (i *Interpreter) GetOutputTensorCount() int                            { return 0 }
func (i *Interpreter) GetOutputTensor(index int) *Tensor                    { return nil }
func (i *Interpreter) Cancel() Status                                       { return OK }

type Status int

const (
	OK Status = 0
	Error
)

type TensorType int

const (
	NoType    TensorType = 0
	Float32   TensorType = 1
	Int32     TensorType = 2
	UInt8     TensorType = 3
	Int64     TensorType = 4
	String    TensorType = 5
	Bool      TensorType = 6
	Int16     TensorType = 7
	Complex64 TensorType = 8
	Int8      TensorType = 9
)

type Tensor struct{}

type QuantizationParams struct {
	Scale     float64
	ZeroPoint int
}

func (t *Tensor) Type() TensorType                       { return 0 }
func (t *Tensor) Shape() []int                           { return nil }
func (t *Tensor) ByteSize() uint                         { return 0 }
func (t *Tensor) Name() string                           { return "" }
func (t *Tensor) QuantizationParams() QuantizationParams { return QuantizationParams{} }
func (t *Tensor) CopyFromBuffer(b interface{}) Status    { return OK }
func (t *Tensor) CopyToBuffer(b interface{}) Status      { return OK }
