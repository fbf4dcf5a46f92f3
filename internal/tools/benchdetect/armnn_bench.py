#!/usr/bin/python3
"""Time one TensorFlow Lite model on Arm NN's CpuRef back end for benchdetect.

    /usr/bin/python3 armnn_bench.py --model M.tflite --input CASE.input.bin --iters 3

Loads the model with Debian's pyarmnn (python3-pyarmnn 20.08, installed by
internal/tools/armnn/golden.sh), feeds the golden input bytes once to warm up,
then --iters times, and prints one JSON object on stdout: wall and CPU seconds
of every timed inference, the load time and the process's peak RSS. It must run
with Debian's /usr/bin/python3, where pyarmnn and numpy live.
"""

import argparse
import json
import resource
import sys
import time

import numpy as np
import pyarmnn as ann

DTYPES = {
    ann.DataType_Float32: np.float32,
    ann.DataType_QAsymmU8: np.uint8,
    ann.DataType_QAsymmS8: np.int8,
    ann.DataType_QSymmS8: np.int8,
    ann.DataType_Signed32: np.int32,
    ann.DataType_QSymmS16: np.int16,
}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", required=True, help=".tflite file")
    ap.add_argument("--input", required=True, help="the golden case's .input.bin (raw input tensor bytes)")
    ap.add_argument("--iters", type=int, default=3, help="timed inferences after one warm-up")
    args = ap.parse_args()

    t0 = time.perf_counter()
    runtime = ann.IRuntime(ann.CreationOptions())
    parser = ann.ITfLiteParser()
    network = parser.CreateNetworkFromBinaryFile(args.model)
    ins = parser.GetSubgraphInputTensorNames(0)
    outs = parser.GetSubgraphOutputTensorNames(0)
    if len(ins) != 1:
        sys.exit("%s: %d inputs, only one is supported here" % (args.model, len(ins)))
    in_bind = parser.GetNetworkInputBindingInfo(0, ins[0])
    out_binds = [parser.GetNetworkOutputBindingInfo(0, n) for n in outs]
    opt, _ = ann.Optimize(network, [ann.BackendId("CpuRef")], runtime.GetDeviceSpec(), ann.OptimizerOptions())
    net_id, msg = runtime.LoadNetwork(opt)
    if msg:
        print("armnn_bench: load: %s" % msg, file=sys.stderr)
    load_s = time.perf_counter() - t0

    info = in_bind[1]
    dtype = DTYPES[info.GetDataType()]
    shape = [info.GetShape()[i] for i in range(info.GetNumDimensions())]
    with open(args.input, "rb") as f:
        arr = np.frombuffer(f.read(), dtype=dtype)
    if arr.size != int(np.prod(shape)):
        sys.exit("%s: %d values, input %s needs shape %s" % (args.input, arr.size, ins[0], shape))
    arr = np.ascontiguousarray(arr.reshape(shape))

    def run():
        inputs = ann.make_input_tensors([in_bind], [arr])
        outputs = ann.make_output_tensors(out_binds)
        runtime.EnqueueWorkload(net_id, inputs, outputs)
        ann.workload_tensors_to_ndarray(outputs)

    run()
    wall, cpu = [], []
    for _ in range(args.iters):
        w0, c0 = time.perf_counter(), time.process_time()
        run()
        cpu.append(time.process_time() - c0)
        wall.append(time.perf_counter() - w0)
    json.dump({
        "runtime": "Arm NN %s CpuRef" % ann.ARMNN_VERSION,
        "load_s": load_s,
        "wall_s": wall,
        "cpu_s": cpu,
        "max_rss_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
    }, sys.stdout)
    print()


if __name__ == "__main__":
    main()
