"""Re-do SSD post-processing (TFLite_Detection_PostProcess, fast NMS) both ways.

Runs the model's last operator alone in Arm NN CpuRef and in TFLite's
reference kernels, both fed TFLite's own values of its inputs (box encodings
and class scores, as layerdiff.py --alone), and compares each runtime's
detections with two numpy emulations that share box decoding and per-anchor
best class and differ only in the non-maximum suppression:

- TFLite (detection_postprocess.cc NonMaxSuppressionSingleClassHelper):
  candidates sorted by score with std::stable_sort; a candidate suppressed
  earlier is skipped, so only selected boxes suppress others; IoU is 0 when a
  box has no area;
- Arm NN 20.08 (DetectionPostProcess.cpp NonMaxSuppression): candidates
  sorted with std::partial_sort (libstdc++'s heap sort, re-done here step by
  step, so equal scores come out in its order); every candidate, suppressed or
  not, suppresses the later ones it overlaps.

The options (scales, thresholds, counts) are read from the operator's
flexbuffer custom options.

    nmscheck.py --model detect.tflite --input CASE.input.bin
"""

import argparse
import os
import struct
import sys
import tempfile

import numpy as np
import pyarmnn as ann
from ai_edge_litert.interpreter import Interpreter, OpResolverType
from flatbuffers import flexbuffers

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from layerdiff import deref, op_alone, run_armnn_multi, subgraph_vector, table_field  # noqa: E402


def custom_options(model_bytes, k):
    ops = subgraph_vector(model_bytes, 3)
    op = deref(model_bytes, ops + 4 + 4 * k)
    vec = deref(model_bytes, table_field(model_bytes, op, 5))  # Operator.custom_options
    n = struct.unpack_from("<I", model_bytes, vec)[0]
    return flexbuffers.Loads(bytes(model_bytes[vec + 4:vec + 4 + n]))


# libstdc++'s std::partial_sort (bits/stl_heap.h, bits/stl_algo.h), on a list of
# indices with comp(a, b) = values[a] > values[b].

def _adjust_heap(a, first, hole, length, value, comp):
    top = hole
    second = hole
    while second < (length - 1) // 2:
        second = 2 * (second + 1)
        if comp(a[first + second], a[first + second - 1]):
            second -= 1
        a[first + hole] = a[first + second]
        hole = second
    if length % 2 == 0 and second == (length - 2) // 2:
        second = 2 * (second + 1)
        a[first + hole] = a[first + second - 1]
        hole = second - 1
    # _push_heap on the sub-array starting at first
    parent = (hole - 1) // 2
    while hole > top and comp(a[first + parent], value):
        a[first + hole] = a[first + parent]
        hole = parent
        parent = (hole - 1) // 2
    a[first + hole] = value


def _make_heap(a, length, comp):
    if length < 2:
        return
    parent = (length - 2) // 2
    while True:
        _adjust_heap(a, 0, parent, length, a[parent], comp)
        if parent == 0:
            return
        parent -= 1


def _pop_heap(a, last, result, comp):
    value = a[result]
    a[result] = a[0]
    _adjust_heap(a, 0, 0, last, value, comp)


def partial_sort(a, middle, comp):
    _make_heap(a, middle, comp)
    for i in range(middle, len(a)):
        if comp(a[i], a[0]):
            _pop_heap(a, middle, i, comp)
    last = middle
    while last > 1:
        last -= 1
        _pop_heap(a, last, last, comp)
    return a


def decode(enc, anchors, opts):
    """Box encodings (y, x, h, w) and anchors (y, x, h, w) → corners, in float32."""
    f = np.float32
    y = enc[:, 0] / f(opts["y_scale"]) * anchors[:, 2] + anchors[:, 0]
    x = enc[:, 1] / f(opts["x_scale"]) * anchors[:, 3] + anchors[:, 1]
    hh = f(0.5) * np.exp(enc[:, 2] / f(opts["h_scale"])) * anchors[:, 2]
    hw = f(0.5) * np.exp(enc[:, 3] / f(opts["w_scale"])) * anchors[:, 3]
    return np.stack([y - hh, x - hw, y + hh, x + hw], axis=1).astype(np.float32)


def iou(b, i, j, guard):
    ai = (b[i, 2] - b[i, 0]) * (b[i, 3] - b[i, 1])
    aj = (b[j, 2] - b[j, 0]) * (b[j, 3] - b[j, 1])
    if guard and (ai <= 0 or aj <= 0):
        return 0.0
    ih = max(min(b[i, 2], b[j, 2]) - max(b[i, 0], b[j, 0]), 0.0)
    iw = max(min(b[i, 3], b[j, 3]) - max(b[i, 1], b[j, 1]), 0.0)
    inter = np.float32(ih) * np.float32(iw)
    union = ai + aj - inter
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.float32(inter) / np.float32(union)


def nms(boxes, scores, opts, style):
    keep = [i for i in range(len(scores)) if scores[i] >= opts["nms_score_threshold"]]
    vals = [scores[i] for i in keep]
    order = list(range(len(keep)))
    if style == "tflite":
        order.sort(key=lambda i: -vals[i])  # stable
    else:
        partial_sort(order, len(order), lambda a, b: vals[a] > vals[b])
    n_out = min(opts["max_detections"], len(keep))
    selected = []
    if style == "tflite":
        active = [True] * len(order)
        for i in range(len(order)):
            if len(selected) >= n_out:
                break
            if not active[i]:
                continue
            selected.append(keep[order[i]])
            active[i] = False
            for j in range(i + 1, len(order)):
                if active[j] and iou(boxes, keep[order[i]], keep[order[j]], True) > opts["nms_iou_threshold"]:
                    active[j] = False
    else:
        visited = [False] * len(keep)
        for i in range(len(order)):
            if len(selected) >= n_out:
                break
            if not visited[order[i]]:
                selected.append(keep[order[i]])
            for j in range(i + 1, len(order)):
                if iou(boxes, keep[order[i]], keep[order[j]], False) > opts["nms_iou_threshold"]:
                    visited[order[j]] = True
    return selected


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", required=True)
    ap.add_argument("--input", required=True)
    args = ap.parse_args()
    with open(args.model, "rb") as f:
        model_bytes = f.read()
    full = Interpreter(model_path=args.model, experimental_op_resolver_type=OpResolverType.BUILTIN_REF,
                       experimental_preserve_all_tensors=True)
    full.allocate_tensors()
    ind = full.get_input_details()[0]
    with open(args.input, "rb") as f:
        full.set_tensor(ind["index"], np.frombuffer(f.read(), dtype=ind["dtype"]).reshape(ind["shape"]))
    full.invoke()
    ops = full._get_ops_details()
    k = len(ops) - 1
    op = ops[k]
    if op["op_name"] != "TFLite_Detection_PostProcess":
        raise SystemExit("last operator is %s" % op["op_name"])
    opts = custom_options(model_bytes, k)
    det = {t["index"]: t for t in full.get_tensor_details()}
    t_enc, t_cls, t_anc = (int(t) for t in op["inputs"])
    deq = lambda t: ((full.get_tensor(t).astype(np.int32) - det[t]["quantization"][1]).astype(np.float32)
                     * np.float32(det[t]["quantization"][0]))
    enc = deq(t_enc).reshape(-1, 4)
    scores = deq(t_cls).reshape(enc.shape[0], -1)
    anchors = deq(t_anc).reshape(-1, 4)
    boxes = decode(enc, anchors, opts)
    cls_scores = scores[:, 1:]  # column 0 is the background
    best = np.argmax(cls_scores, axis=1)  # first maximum, as both runtimes
    best_score = cls_scores[np.arange(len(best)), best]

    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "pp.tflite")
        feed = [t_enc, t_cls]
        with open(path, "wb") as f:
            f.write(op_alone(model_bytes, k, feed, [int(t) for t in op["outputs"]]))
        it = Interpreter(model_path=path, experimental_op_resolver_type=OpResolverType.BUILTIN_REF)
        it.allocate_tensors()
        for d, t in zip(it.get_input_details(), feed):
            it.set_tensor(d["index"], full.get_tensor(t))
        it.invoke()
        tfl = [it.get_tensor(d["index"]).reshape(-1) for d in it.get_output_details()]
        arm = [o.reshape(-1) for o in run_armnn_multi(ann.IRuntime(ann.CreationOptions()), path,
                                                       [full.get_tensor(t).copy() for t in feed])]
    print("options: %s" % opts)
    print("| emulation | runtime | detections equal (class and score, in order) | box max abs difference |")
    print("|---|---|---|---|")
    for style in ("tflite", "armnn"):
        sel = nms(boxes, best_score, opts, style)
        e_cls = np.array([best[i] for i in sel], dtype=np.float32)
        e_sc = np.array([best_score[i] for i in sel], dtype=np.float32)
        e_box = np.array([boxes[i] for i in sel], dtype=np.float32).reshape(-1)
        for name, out in (("TFLite", tfl), ("Arm NN", arm)):
            n = int(out[3][0])
            same = n == len(sel) and np.array_equal(out[1][:n], e_cls) and np.array_equal(out[2][:n], e_sc)
            bd = float(np.abs(out[0][:4 * n] - e_box).max()) if same and n else float("nan")
            print("| %s NMS | %s | %s | %s |" % (style, name, "yes, %d of %d" % (n, n) if same else "no",
                                                 "%.2g" % bd if same else ""))


if __name__ == "__main__":
    main()
