"""Re-do one quantised CONV_2D or DEPTHWISE_CONV_2D both ways and match each runtime.

Emulates, in numpy, for one operator of a uint8 (per-tensor) or int8
(per-channel) model on a golden case:

- Arm NN 20.08 CpuRef: dequantise input and weights to float32, accumulate
  `sum += w * x` in float32 in Arm NN's loop order (ConvImpl.cpp Convolve:
  input channel, filter row, filter column), add the float bias, then
  armnn::Quantize: round(sum / scale) + offset (half away from zero), clamped;
  the fused activation is a separate layer (dequantise, clamp, quantise);
- TensorFlow Lite's reference kernel (reference_ops::Conv / DepthwiseConv,
  uint8): int32 accumulation of (w + w_offset) * (x + x_offset) plus the int32
  bias, MultiplyByQuantizedMultiplier, + output zero point, clamp to the
  activation range; in each of the variants of the multiplier that TFLite
  versions use (input*filter scale product in float or double; double rounding
  `SaturatingRoundingDoublingHighMul` + `RoundingDivideByPOT`, or the single
  rounding of TFLITE_SINGLE_ROUNDING);

and prints, for each emulation, how many values differ from Arm NN's and from
TFLite's (LiteRT 2.3.0, BUILTIN_REF) output for the operator run alone on
TFLite's own input values (as layerdiff.py --alone). An emulation with 0
differences reproduces that runtime exactly, which is the evidence for the
arithmetic described in README.md.

    convcheck.py --model M.tflite --input CASE.input.bin --ops 0,1,2
"""

import argparse
import math
import os
import struct
import sys
import tempfile

import numpy as np
import pyarmnn as ann
from ai_edge_litert.interpreter import Interpreter, OpResolverType

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from layerdiff import deref, op_alone, run_armnn_multi, subgraph_vector, table_field  # noqa: E402


def op_options(model_bytes, k):
    """Stride, padding, activation, depth multiplier of operator k from its
    Conv2DOptions or DepthwiseConv2DOptions table."""
    b = model_bytes
    ops = subgraph_vector(b, 3)
    op = deref(b, ops + 4 + 4 * k)
    pos = table_field(b, op, 4)  # Operator.builtin_options
    opts = deref(b, pos)

    def scalar(field, fmt, default):
        p = table_field(b, opts, field)
        return default if p is None else struct.unpack_from(fmt, b, p)[0]

    return opts, scalar


def conv_params(model_bytes, k, depthwise):
    _, scalar = op_options(model_bytes, k)
    if depthwise:
        return {"padding": scalar(0, "<b", 0), "stride_w": scalar(1, "<i", 1), "stride_h": scalar(2, "<i", 1),
                "depth_multiplier": scalar(3, "<i", 1), "activation": scalar(4, "<b", 0),
                "dilation_w": scalar(5, "<i", 1), "dilation_h": scalar(6, "<i", 1)}
    return {"padding": scalar(0, "<b", 0), "stride_w": scalar(1, "<i", 1), "stride_h": scalar(2, "<i", 1),
            "activation": scalar(3, "<b", 0), "dilation_w": scalar(4, "<i", 1), "dilation_h": scalar(5, "<i", 1),
            "depth_multiplier": 1}


def same_padding(in_size, k, stride, dilation, out_size):
    eff = (k - 1) * dilation + 1
    total = max((out_size - 1) * stride + eff - in_size, 0)
    return total // 2


def patches(x, kh, kw, p, out_h, out_w, fill):
    """x [H, W, C] → list over (ky, kx) of [out_h, out_w, C] input windows, padding with fill."""
    h, w, c = x.shape
    pad_t = same_padding(h, kh, p["stride_h"], p["dilation_h"], out_h) if p["padding"] == 0 else 0
    pad_l = same_padding(w, kw, p["stride_w"], p["dilation_w"], out_w) if p["padding"] == 0 else 0
    big = np.full((h + 2 * kh * p["dilation_h"] + out_h * p["stride_h"], w + 2 * kw * p["dilation_w"] + out_w * p["stride_w"], c),
                  fill, dtype=x.dtype)
    big[kh * p["dilation_h"]:kh * p["dilation_h"] + h, kw * p["dilation_w"]:kw * p["dilation_w"] + w] = x
    out = {}
    for ky in range(kh):
        for kx in range(kw):
            y0 = kh * p["dilation_h"] - pad_t + ky * p["dilation_h"]
            x0 = kw * p["dilation_w"] - pad_l + kx * p["dilation_w"]
            out[ky, kx] = big[y0:y0 + out_h * p["stride_h"]:p["stride_h"], x0:x0 + out_w * p["stride_w"]:p["stride_w"]]
    return out


def act_range_float(act):
    return {0: (-np.inf, np.inf), 1: (0.0, np.inf), 2: (-1.0, 1.0), 3: (0.0, 6.0)}[act]


def armnn_quantize(v, scale, offset, dtype):
    """armnn::Quantize: round(value / scale) in float32, half away from zero, + offset, clamped."""
    d = (v.astype(np.float32) / np.float32(scale)).astype(np.float64)
    q = np.floor(np.abs(d) + 0.5) * np.sign(d)
    info = np.iinfo(dtype)
    return np.clip(q + offset, info.min, info.max).astype(dtype)


def channel_scales(ws, depthwise):
    """Weight scales (one, or one per output channel) shaped to broadcast over the weights."""
    ws = np.asarray(ws, dtype=np.float32).reshape(-1)
    return ws.reshape(1, 1, 1, -1) if depthwise else ws.reshape(-1, 1, 1, 1)


def emulate_armnn(x, w, bias, s, p, depthwise, out_shape):
    """Arm NN CpuRef: float32 dequantise, float32 accumulation in its loop order, float bias, Quantize."""
    (xs, xz), (ws, wz), bs, (os_, oz) = s
    xf = ((x.astype(np.int32) - xz).astype(np.float32) * np.float32(xs))
    wf = ((w.astype(np.int32) - wz).astype(np.float32) * channel_scales(ws, depthwise)).astype(np.float32)
    out_h, out_w, oc = out_shape
    kh, kw = w.shape[1], w.shape[2]
    win = patches(xf, kh, kw, p, out_h, out_w, np.float32(0))
    acc = np.zeros((out_h, out_w, oc), dtype=np.float32)
    if depthwise:  # cInput = cOutput / multiplier; loops filter row, filter column
        m = p["depth_multiplier"]
        for ky in range(kh):
            for kx in range(kw):
                xin = np.repeat(win[ky, kx], m, axis=2)
                acc = (acc + (wf[0, ky, kx, :] * xin).astype(np.float32)).astype(np.float32)
    else:  # loops input channel, filter row, filter column
        for ci in range(x.shape[2]):
            for ky in range(kh):
                for kx in range(kw):
                    acc = (acc + (wf[:, ky, kx, ci][None, None, :] * win[ky, kx][:, :, ci:ci + 1]).astype(np.float32)).astype(np.float32)
    acc = (acc + (bias.astype(np.float32) * np.asarray(bs, dtype=np.float32).reshape(-1))).astype(np.float32)
    q = armnn_quantize(acc, os_, oz, x.dtype)
    lo, hi = act_range_float(p["activation"])
    if p["activation"]:
        deq = (q.astype(np.int32) - oz).astype(np.float32) * np.float32(os_)
        q = armnn_quantize(np.clip(deq, lo, hi).astype(np.float32), os_, oz, x.dtype)
    return q


def quantize_multiplier(m):
    if m == 0.0:
        return 0, 0
    q, shift = math.frexp(m)
    q_fixed = int(round_half_away(q * (1 << 31)))
    if q_fixed == (1 << 31):
        q_fixed //= 2
        shift += 1
    if shift < -31:
        return 0, 0
    return q_fixed, shift


def round_half_away(v):
    return math.floor(abs(v) + 0.5) * (1 if v >= 0 else -1)


def trunc_div(a, d):
    return np.where(a >= 0, a // d, -((-a) // d))


def mbqm_double(x, qm, shift):
    """MultiplyByQuantizedMultiplier, double rounding (TFLite's default build)."""
    left = max(shift, 0)
    right = max(-shift, 0)
    a = x.astype(np.int64) * (1 << left)
    ab = a * qm
    nudge = np.where(ab >= 0, 1 << 30, 1 - (1 << 30))
    high = trunc_div(ab + nudge, 1 << 31)
    mask = (1 << right) - 1
    rem = high & mask
    thr = (mask >> 1) + (high < 0)
    return (high >> right) + (rem > thr)


def mbqm_single(x, qm, shift):
    """MultiplyByQuantizedMultiplier with TFLITE_SINGLE_ROUNDING."""
    total = 31 - shift
    return (x.astype(np.int64) * qm + (1 << (total - 1))) >> total


def emulate_tflite(x, w, bias, s, p, depthwise, out_shape, product_in_float, rounding):
    (xs, xz), (ws, wz), bs, (os_, oz) = s
    out_h, out_w, oc = out_shape
    kh, kw = w.shape[1], w.shape[2]
    xi = x.astype(np.int64) - xz
    wi = w.astype(np.int64) - wz
    win = patches(xi, kh, kw, p, out_h, out_w, 0)  # padding = the zero point, i.e. 0 after offset
    acc = np.zeros((out_h, out_w, oc), dtype=np.int64)
    if depthwise:
        m = p["depth_multiplier"]
        for ky in range(kh):
            for kx in range(kw):
                acc += wi[0, ky, kx, :] * np.repeat(win[ky, kx], m, axis=2)
    else:
        for ky in range(kh):
            for kx in range(kw):
                acc += np.tensordot(win[ky, kx], wi[:, ky, kx, :], axes=([2], [1]))
    acc += bias.astype(np.int64)
    ws = np.asarray(ws, dtype=np.float32).reshape(-1)
    res = np.empty_like(acc)
    for c in range(oc):
        wsc = ws[c if ws.size > 1 else 0]
        if product_in_float:
            real = float(np.float32(np.float32(xs) * wsc)) / float(np.float32(os_))
        else:
            real = float(np.float32(xs)) * float(wsc) / float(np.float32(os_))
        qm, shift = quantize_multiplier(real)
        res[..., c] = (mbqm_double if rounding == "double" else mbqm_single)(acc[..., c], qm, shift)
    acc = res + oz
    info = np.iinfo(x.dtype)
    lo, hi = int(info.min), int(info.max)
    if p["activation"] in (1, 3):
        lo = max(lo, oz + int(round_half_away(0.0 / os_)))
    if p["activation"] == 3:
        hi = min(hi, oz + int(round_half_away(6.0 / float(np.float32(os_)))))
    return np.clip(acc, lo, hi).astype(x.dtype)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", required=True)
    ap.add_argument("--input", required=True)
    ap.add_argument("--ops", required=True, help="comma-separated CONV_2D / DEPTHWISE_CONV_2D operator indices")
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
    det = {t["index"]: t for t in full.get_tensor_details()}
    runtime = ann.IRuntime(ann.CreationOptions())
    print("| op | kernel | values | Arm NN float emulation vs Arm NN | vs TFLite | "
          "TFLite int emulation (float product, double rounding) vs TFLite | (double product, double rounding) | "
          "(float product, single rounding) | (double product, single rounding) | "
          "single rounding (float product) vs Arm NN |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    with tempfile.TemporaryDirectory() as tmp:
        for k in [int(v) for v in args.ops.split(",")]:
            op = ops[k]
            depthwise = op["op_name"] == "DEPTHWISE_CONV_2D"
            if op["op_name"] not in ("CONV_2D", "DEPTHWISE_CONV_2D"):
                raise SystemExit("operator %d is %s" % (k, op["op_name"]))
            ti, tw, tb = (int(t) for t in op["inputs"])
            to = int(op["outputs"][0])
            x = full.get_tensor(ti)[0]
            w = full.get_tensor(tw)
            bias = full.get_tensor(tb)
            if x.dtype not in (np.uint8, np.int8):
                raise SystemExit("operator %d: %s input" % (k, x.dtype))
            q = lambda t: (float(det[t]["quantization"][0]), int(det[t]["quantization"][1]))
            wq = det[tw]["quantization_parameters"]
            bq = det[tb]["quantization_parameters"]
            # weights: one scale, or one per output channel (int8 models), zero point 0
            s = (q(ti), (wq["scales"], int(wq["zero_points"][0])), bq["scales"], q(to))
            p = conv_params(model_bytes, k, depthwise)
            out_shape = tuple(det[to]["shape"][1:])
            # both runtimes, operator alone on TFLite's input values
            path = os.path.join(tmp, "op%d.tflite" % k)
            with open(path, "wb") as f:
                f.write(op_alone(model_bytes, k, [ti], [to]))
            it = Interpreter(model_path=path, experimental_op_resolver_type=OpResolverType.BUILTIN_REF)
            it.allocate_tensors()
            it.set_tensor(it.get_input_details()[0]["index"], full.get_tensor(ti))
            it.invoke()
            tfl = it.get_tensor(it.get_output_details()[0]["index"])[0]
            arm = run_armnn_multi(runtime, path, [full.get_tensor(ti).copy()])[0].reshape(tfl.shape)
            emu_arm = emulate_armnn(x, w, bias, s, p, depthwise, out_shape)
            row = [str(k), op["op_name"], str(tfl.size),
                   str(np.count_nonzero(emu_arm != arm)), str(np.count_nonzero(emu_arm != tfl))]
            variants = [(True, "double"), (False, "double"), (True, "single"), (False, "single")]
            for prod_float, rounding in variants:
                e = emulate_tflite(x, w, bias, s, p, depthwise, out_shape, prod_float, rounding)
                row.append(str(np.count_nonzero(e != tfl)))
                if (prod_float, rounding) == (True, "single"):
                    single = e
            row.append(str(np.count_nonzero(single != arm)))
            print("| " + " | ".join(row) + " |")
            sys.stdout.flush()


if __name__ == "__main__":
    main()
