"""Find where Arm NN's CpuRef and TensorFlow Lite's reference kernels part ways.

For one golden case, this makes a copy of the model whose only subgraph output
is the output tensor of operator k (k = 0, 1, ...: the flatbuffer's
SubGraph.outputs vector is rewritten in place), runs the case's exact input
bytes through Arm NN CpuRef and through TFLite's reference kernels
(ai-edge-litert, OpResolverType.BUILTIN_REF), and prints per operator how many
quantised values differ and by how much. The first operator with differences is
the kernel whose rounding differs.

It needs pyarmnn (Debian, /usr/lib/python3/dist-packages) and ai-edge-litert in
one Python: a virtualenv made by /usr/bin/python3 -m venv --system-site-packages
with `pip install ai-edge-litert==2.3.0 "numpy<2"` (golden.sh --layerdiff does this).

    layerdiff.py --model M.tflite --input CASE.input.bin [--ops 0,1,2]
"""

import argparse
import os
import struct
import sys
import tempfile

import numpy as np
import pyarmnn as ann
from ai_edge_litert.interpreter import Interpreter, OpResolverType


def u32(b, pos):
    return struct.unpack_from("<I", b, pos)[0]


def table_field(b, table, field):
    """Position of a table field's value, or None when absent."""
    vtable = table - struct.unpack_from("<i", b, table)[0]
    vsize = struct.unpack_from("<H", b, vtable)[0]
    off_pos = 4 + 2 * field
    if off_pos >= vsize:
        return None
    off = struct.unpack_from("<H", b, vtable + off_pos)[0]
    return table + off if off else None


def deref(b, pos):
    return pos + u32(b, pos)


def subgraph_outputs_vector(b):
    """Position of SubGraph[0].outputs (a vector of int32) in a .tflite file."""
    model = deref(b, 0)
    subgraphs = deref(b, table_field(b, model, 2))  # Model.subgraphs
    sg0 = deref(b, subgraphs + 4)
    return deref(b, table_field(b, sg0, 2))  # SubGraph.outputs


def with_output(model_bytes, tensor):
    """A copy of the model whose only subgraph output is tensor (the outputs
    vector's length becomes 1; the bytes after its first slot are left unused)."""
    b = bytearray(model_bytes)
    vec = subgraph_outputs_vector(b)
    struct.pack_into("<I", b, vec, 1)
    struct.pack_into("<i", b, vec + 4, tensor)
    return bytes(b)


def run_armnn(runtime, path, data):
    parser = ann.ITfLiteParser()
    net = parser.CreateNetworkFromBinaryFile(path)
    name_in = parser.GetSubgraphInputTensorNames(0)[0]
    name_out = parser.GetSubgraphOutputTensorNames(0)[0]
    ib = parser.GetNetworkInputBindingInfo(0, name_in)
    ob = parser.GetNetworkOutputBindingInfo(0, name_out)
    opt, _ = ann.Optimize(net, [ann.BackendId("CpuRef")], runtime.GetDeviceSpec(), ann.OptimizerOptions())
    net_id, _ = runtime.LoadNetwork(opt)
    outs = ann.make_output_tensors([ob])
    runtime.EnqueueWorkload(net_id, ann.make_input_tensors([ib], [data]), outs)
    res = np.array(ann.workload_tensors_to_ndarray(outs)[0])
    runtime.UnloadNetwork(net_id)
    return res


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", required=True)
    ap.add_argument("--input", required=True, help="a golden <case>.input.bin")
    ap.add_argument("--ops", help="comma-separated operator indices (default: all)")
    args = ap.parse_args()

    with open(args.model, "rb") as f:
        model_bytes = f.read()
    base = Interpreter(model_path=args.model, experimental_op_resolver_type=OpResolverType.BUILTIN_REF)
    base.allocate_tensors()
    ind = base.get_input_details()[0]
    with open(args.input, "rb") as f:
        data = np.frombuffer(f.read(), dtype=ind["dtype"]).reshape(ind["shape"]).copy()
    tensors = {t["index"]: t for t in base.get_tensor_details()}
    ops = base._get_ops_details()
    pick = range(len(ops)) if not args.ops else [int(x) for x in args.ops.split(",")]

    runtime = ann.IRuntime(ann.CreationOptions())
    print("| op | kernel | output tensor | dtype | elements | differ | max diff (quanta) |")
    print("|---|---|---|---|---|---|---|")
    with tempfile.TemporaryDirectory() as tmp:
        for k in pick:
            op = ops[k]
            t = int(op["outputs"][0])
            patched = with_output(model_bytes, t)
            path = os.path.join(tmp, "op%d.tflite" % k)
            with open(path, "wb") as f:
                f.write(patched)
            it = Interpreter(model_path=path, experimental_op_resolver_type=OpResolverType.BUILTIN_REF)
            it.allocate_tensors()
            it.set_tensor(it.get_input_details()[0]["index"], data)
            it.invoke()
            want = it.get_tensor(it.get_output_details()[0]["index"])
            try:
                got = run_armnn(runtime, path, data)
            except Exception as e:  # printed in the table
                print("| %d | %s | %s | | | Arm NN: %s | |" % (k, op["op_name"], tensors[t]["name"].split(";")[0], e))
                continue
            got = got.reshape(want.shape)
            if want.dtype == np.float32:
                d = np.abs(want.astype(np.float64) - got.astype(np.float64))
                differ, mx = int(np.count_nonzero(d)), "%.3g (float)" % d.max()
            else:
                d = np.abs(want.astype(np.int64) - got.astype(np.int64))
                differ, mx = int(np.count_nonzero(d)), str(int(d.max()))
            print("| %d | %s | %s | %s | %d | %d | %s |" % (
                k, op["op_name"], tensors[t]["name"].split(";")[0], want.dtype,
                want.size, differ, mx))
            sys.stdout.flush()


if __name__ == "__main__":
    main()
