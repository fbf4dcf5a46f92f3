"""Find where Arm NN's CpuRef and TensorFlow Lite's reference kernels part ways.

For one golden case, this makes a copy of the model cut after operator k
(k = 0, 1, ...), whose only subgraph output is operator k's output tensor (the
flatbuffer's SubGraph.operators and SubGraph.outputs vectors are shortened in
place), runs the case's exact input
bytes through Arm NN CpuRef and through TFLite's reference kernels
(ai-edge-litert, OpResolverType.BUILTIN_REF), and prints per operator how many
quantised values differ and by how much. The first operator with differences is
the kernel whose rounding differs.

It needs pyarmnn (Debian, /usr/lib/python3/dist-packages) and ai-edge-litert in
one Python: a virtualenv made by /usr/bin/python3 -m venv --system-site-packages
with `pip install ai-edge-litert==2.3.0 "numpy<2"` (golden.sh --layerdiff does this).

    layerdiff.py --model M.tflite --input CASE.input.bin [--ops 0,1,2] [--alone]

With --alone each operator runs by itself instead (the model is rewritten to
hold only that operator, its inputs fed with TFLite's own values for them), so
each row is that kernel's own difference.
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


def subgraph_vector(b, field):
    """Position of a vector field of SubGraph[0] (2: outputs, 3: operators)."""
    model = deref(b, 0)
    subgraphs = deref(b, table_field(b, model, 2))  # Model.subgraphs
    sg0 = deref(b, subgraphs + 4)
    return deref(b, table_field(b, sg0, field))


def truncated_at(model_bytes, op, tensor):
    """A copy of the model that keeps operators 0..op and whose only subgraph
    output is tensor: both vectors are shortened in place (their lengths
    rewritten; the bytes after them are left unused)."""
    b = bytearray(model_bytes)
    ops = subgraph_vector(b, 3)
    struct.pack_into("<I", b, ops, op + 1)
    outs = subgraph_vector(b, 2)
    struct.pack_into("<I", b, outs, 1)
    struct.pack_into("<i", b, outs + 4, tensor)
    return bytes(b)


def op_alone(model_bytes, k, inputs, outputs):
    """A copy of the model that runs only operator k, with the tensors inputs
    and outputs as its subgraph inputs and outputs: the operators vector gets
    length 1 and points at operator k; new SubGraph.inputs and .outputs vectors
    are appended to the file (a flatbuffer offset may point forward to them)."""
    b = bytearray(model_bytes)
    ops = subgraph_vector(b, 3)
    op = deref(b, ops + 4 + 4 * k)
    struct.pack_into("<I", b, ops + 4, op - (ops + 4))
    struct.pack_into("<I", b, ops, 1)
    model = deref(b, 0)
    sg0 = deref(b, deref(b, table_field(b, model, 2)) + 4)
    for field, tensors in ((1, inputs), (2, outputs)):
        while len(b) % 4:
            b.append(0)
        vec = len(b)
        b += struct.pack("<I", len(tensors)) + b"".join(struct.pack("<i", t) for t in tensors)
        pos = table_field(b, sg0, field)
        struct.pack_into("<I", b, pos, vec - pos)
    return bytes(b)


def run_armnn_multi(runtime, path, datas):
    """Every output of a model with several inputs, fed in subgraph order."""
    parser = ann.ITfLiteParser()
    net = parser.CreateNetworkFromBinaryFile(path)
    ibs = [parser.GetNetworkInputBindingInfo(0, n) for n in parser.GetSubgraphInputTensorNames(0)]
    obs = [parser.GetNetworkOutputBindingInfo(0, n) for n in parser.GetSubgraphOutputTensorNames(0)]
    opt, _ = ann.Optimize(net, [ann.BackendId("CpuRef")], runtime.GetDeviceSpec(), ann.OptimizerOptions())
    net_id, _ = runtime.LoadNetwork(opt)
    outs = ann.make_output_tensors(obs)
    runtime.EnqueueWorkload(net_id, ann.make_input_tensors(ibs, datas), outs)
    res = [np.array(o) for o in ann.workload_tensors_to_ndarray(outs)]
    runtime.UnloadNetwork(net_id)
    return res


def isolate_ops(model_path, model_bytes, data, picks, out):
    """Run each picked operator alone in both runtimes, fed TFLite's own
    values of its inputs (from one reference run that keeps every tensor), and
    print how far the outputs are apart: each row is one kernel's own
    difference, nothing carried over from earlier layers."""
    full = Interpreter(model_path=model_path, experimental_op_resolver_type=OpResolverType.BUILTIN_REF,
                       experimental_preserve_all_tensors=True)
    full.allocate_tensors()
    full.set_tensor(full.get_input_details()[0]["index"], data)
    full.invoke()
    ops = full._get_ops_details()
    names = {t["index"]: t["name"].split(";")[0] for t in full.get_tensor_details()}
    produced = {int(t) for op in ops for t in op["outputs"]} | {int(full.get_input_details()[0]["index"])}
    runtime = ann.IRuntime(ann.CreationOptions())
    print("| op | kernel | output tensor | dtype | elements | differ | max diff |")
    print("|---|---|---|---|---|---|---|")
    for k in picks:
        op = ops[k]
        feed = [int(t) for t in op["inputs"] if int(t) in produced]  # constants stay in the model
        outs = [int(t) for t in op["outputs"]]
        values = [full.get_tensor(t).copy() for t in feed]
        path = os.path.join(out, "op%d_alone.tflite" % k)
        with open(path, "wb") as f:
            f.write(op_alone(model_bytes, k, feed, outs))
        it = Interpreter(model_path=path, experimental_op_resolver_type=OpResolverType.BUILTIN_REF)
        it.allocate_tensors()
        for d, v in zip(it.get_input_details(), values):
            it.set_tensor(d["index"], v)
        it.invoke()
        want = [it.get_tensor(d["index"]) for d in it.get_output_details()]
        try:
            got = run_armnn_multi(runtime, path, values)
        except Exception as e:  # printed in the table
            print("| %d | %s | %s | | | Arm NN: %s | |" % (k, op["op_name"], names[outs[0]], e))
            continue
        for d, w, g in zip(it.get_output_details(), want, got):
            w, g = w.reshape(-1), g.reshape(-1)
            diff = np.abs(w.astype(np.float64) - g.astype(np.float64))
            unit = "" if w.dtype == np.float32 else (" quantum" if diff.max() == 1 else " quanta")
            print("| %d | %s | %s | %s | %d | %d | %g%s |" % (
                k, op["op_name"], d["name"].split(";")[0], w.dtype, w.size, np.count_nonzero(diff), diff.max(), unit))
            if w.size <= 40 and np.count_nonzero(diff):
                print("|  |  | TFLite: %s |  |  |  |  |" % np.array2string(w, precision=4, max_line_width=10000))
                print("|  |  | Arm NN: %s |  |  |  |  |" % np.array2string(g, precision=4, max_line_width=10000))
        sys.stdout.flush()


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
    ap.add_argument("--alone", action="store_true",
                    help="run each operator alone in both runtimes, fed TFLite's values of its inputs "
                         "(one kernel's own difference), instead of cutting the model after it")
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

    if args.alone:
        with tempfile.TemporaryDirectory() as tmp:
            isolate_ops(args.model, model_bytes, data, pick, tmp)
        return

    runtime = ann.IRuntime(ann.CreationOptions())
    print("| op | kernel | output tensor | dtype | elements | differ | max diff (quanta) |")
    print("|---|---|---|---|---|---|---|")
    with tempfile.TemporaryDirectory() as tmp:
        for k in pick:
            op = ops[k]
            t = int(op["outputs"][0])
            patched = truncated_at(model_bytes, k, t)
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
