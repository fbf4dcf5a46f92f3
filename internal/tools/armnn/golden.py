#!/usr/bin/python3
"""Record golden outputs of TensorFlow Lite models from Arm NN's CpuRef back end.

edgeflow's TensorFlow Lite interpreter (internal/tflite) is checked against
these files. For every model and input case this writes, under --out:

    <model>/<case>.input.bin   the exact input tensor bytes fed to Arm NN
                               (row-major, little-endian, the model's input dtype)
    <model>/<case>.json        model file + sha256, the input tensor (name, shape,
                               dtype, quantisation, how it was made), every output
                               tensor (raw values), and top-5 or detections

Run it through golden.sh, which installs Debian's Arm NN and finds the models.
It must run with Debian's /usr/bin/python3 (pyarmnn, PIL and numpy from apt).
"""

import argparse
import hashlib
import json
import os
import re
import subprocess
import sys

import numpy as np
import PIL
from PIL import Image

import pyarmnn as ann

TFLITE_V101 = "github.com/mattn/go-tflite@v1.0.1"
TFLITE_V1010 = "github.com/mattn/go-tflite@v1.0.10"

# Image cases: the image is converted to the mode below and resized to the
# model's input height x width with PIL's BILINEAR filter (no crop, aspect
# ratio not kept). PIL >= 7 widens the bilinear kernel by the scale factor when
# it shrinks an image (antialiasing); on enlargement it is plain bilinear.
RESIZE_FILTER = "PIL.Image.BILINEAR"

# What each model is, where it comes from and which inputs it gets.
#   source: (origin, path) where origin is a Go module@version or "shared"
#   kind: classification | detection | regression
#   images: (name, origin, path) test images
#   input: how an image becomes the input tensor (see preprocess_image)
#   random: how the two seeded pseudo-random inputs are drawn
#   fixed: named hand-made inputs (list of floats) for the small float models
MODELS = [
    {
        "name": "mobilenet_quant_v1_224",
        "source": (TFLITE_V101, "_example/label_image/mobilenet_quant_v1_224.tflite"),
        "kind": "classification",
        "labels": (TFLITE_V101, "_example/label_image/labels.txt", 0),
        "images": [
            ("peacock", TFLITE_V101, "_example/label_image/peacock.png"),
            ("grace_hopper", "shared", "models/coral/grace_hopper.bmp"),
        ],
        "input": "rgb_uint8",
        "random": "uint8",
    },
    {
        "name": "mobilenet_v1_0.25_128_quant",
        "source": ("shared", "models/coral/mobilenet_v1_0.25_128_quant.tflite"),
        "kind": "classification",
        "labels": ("shared", "models/coral/imagenet_labels.txt", 0),
        "images": [
            ("cat", "shared", "models/coral/cat.bmp"),
            ("grace_hopper", "shared", "models/coral/grace_hopper.bmp"),
            ("parrot", "shared", "models/coral/parrot.jpg"),
        ],
        "input": "rgb_uint8",
        "random": "uint8",
    },
    {
        "name": "mobilenet_v2_1.0_224_quant",
        "source": ("shared", "models/coral/mobilenet_v2_1.0_224_quant.tflite"),
        "kind": "classification",
        "labels": ("shared", "models/coral/imagenet_labels.txt", 0),
        "images": [
            ("cat", "shared", "models/coral/cat.bmp"),
            ("parrot", "shared", "models/coral/parrot.jpg"),
        ],
        "input": "rgb_uint8",
        "random": "uint8",
    },
    {
        "name": "tf2_mobilenet_v2_1.0_224_ptq",
        "source": ("shared", "models/coral/tf2_mobilenet_v2_1.0_224_ptq.tflite"),
        "kind": "classification",
        "labels": ("shared", "models/coral/imagenet_labels.txt", 0),
        "images": [
            ("cat", "shared", "models/coral/cat.bmp"),
            ("parrot", "shared", "models/coral/parrot.jpg"),
        ],
        "input": "rgb_uint8",
        "random": "uint8",
    },
    {
        "name": "ssd_detect",
        "source": (TFLITE_V101, "_example/ssd/detect.tflite"),
        "kind": "detection",
        # labelmap.txt starts with "???": class c is line c+1.
        "labels": (TFLITE_V101, "_example/ssd/labelmap.txt", 1),
        "images": [
            ("example", TFLITE_V101, "_example/ssd/example.jpg"),
            ("grace_hopper", "shared", "models/coral/grace_hopper.bmp"),
        ],
        "input": "rgb_uint8",
        "random": "uint8",
    },
    {
        "name": "mnist",
        "source": (TFLITE_V101, "_example/mnist/mnist_model.tflite"),
        "kind": "classification",
        "labels": None,
        "images": [("digit%d" % d, TFLITE_V101, "_example/mnist/%d.png" % d) for d in range(10)],
        "input": "gray_float01",
        "random": "uniform01",
    },
    {
        "name": "iris",
        "source": (TFLITE_V1010, "_example/iris/iris.tflite"),
        "kind": "classification",
        "labels": ["Iris-setosa", "Iris-versicolor", "Iris-virginica"],
        "images": [],
        "fixed": [
            # rows of _example/iris/iris.csv, one of each species
            ("setosa_row1", [5.1, 3.5, 1.4, 0.2]),
            ("versicolor_row51", [7.0, 3.2, 4.7, 1.4]),
            ("virginica_row101", [6.3, 3.3, 6.0, 2.5]),
        ],
        "random": "uniform0_8",
    },
    {
        "name": "sin",
        "source": (TFLITE_V1010, "_example/sin/sin_model.tflite"),
        "kind": "regression",
        "images": [],
        "fixed": [("x0", [0.0]), ("x0_5", [0.5]), ("x1_5708", [1.5708]), ("x3_1416", [3.1416]),
                  ("x4_7124", [4.7124]), ("x6", [6.0])],
        "random": "uniform0_2pi",
    },
    {
        "name": "fizzbuzz",
        "source": (TFLITE_V1010, "_example/fizzbuzz/fizzbuzz_model.tflite"),
        "kind": "classification",
        "labels": ["number", "Fizz", "Buzz", "FizzBuzz"],
        "images": [],
        # 7 bits of n, least significant first (as _example/fizzbuzz/main.go)
        "fixed": [("n%d" % n, [float((n >> i) & 1) for i in range(7)]) for n in (1, 3, 5, 15, 98)],
        "random": "bits",
    },
    {
        "name": "xor",
        "source": (TFLITE_V1010, "testdata/xor_model.tflite"),
        "kind": "regression",
        "images": [],
        "fixed": [("in00", [0.0, 0.0]), ("in01", [0.0, 1.0]), ("in10", [1.0, 0.0]), ("in11", [1.0, 1.0])],
        "random": "uniform01",
    },
]

RANDOM_SEEDS = (1, 2)

DTYPES = {
    ann.DataType_Float32: ("float32", np.float32),
    ann.DataType_QAsymmU8: ("uint8", np.uint8),
    ann.DataType_QAsymmS8: ("int8", np.int8),
    ann.DataType_QSymmS8: ("int8", np.int8),
    ann.DataType_Signed32: ("int32", np.int32),
    ann.DataType_QSymmS16: ("int16", np.int16),
}

F32_MARK = "\u0000f32:"


def f32(x):
    """A float32 value as a JSON placeholder, written later as its shortest repr."""
    v = np.float32(x)
    if not np.isfinite(v):
        raise ValueError("non-finite float32 %r has no JSON form" % (v,))
    # numpy's str of a float32 is the shortest decimal that reads back as the same float32.
    return F32_MARK + str(v)


def dump_json(obj):
    """JSON text with float32 placeholders replaced by their shortest repr."""
    text = json.dumps(obj, indent=1, ensure_ascii=False)
    # Keep long value lists on one line each: indent only the structure.
    text = re.sub(r"\[\n\s+([^\[\]{}]*?)\n\s*\]", lambda m: "[" + re.sub(r",\n\s+", ", ", m.group(1)) + "]", text)
    mark = json.dumps(F32_MARK)[1:-1]
    return re.sub('"' + re.escape(mark) + r'([^"]+)"', r"\1", text) + "\n"


def sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def tensor_meta(name, info):
    """name, shape, dtype, quantisation of an Arm NN TensorInfo."""
    dt = info.GetDataType()
    if dt not in DTYPES:
        raise ValueError("tensor %s: Arm NN data type %d has no mapping" % (name, dt))
    dtype, _ = DTYPES[dt]
    shape = [int(info.GetShape()[i]) for i in range(info.GetNumDimensions())]
    meta = {"name": name, "shape": shape, "dtype": dtype, "quantization": None}
    if info.IsQuantized():
        meta["quantization"] = {"scale": f32(info.GetQuantizationScale()),
                                "zero_point": int(info.GetQuantizationOffset())}
    return meta


def preprocess_image(path, how, shape, dtype):
    """Image → input tensor; returns (array, description of every step)."""
    im = Image.open(path)
    src = {"kind": "image", "image": os.path.basename(path), "image_sha256": sha256(path),
           "image_mode": im.mode, "image_size": [im.width, im.height]}
    if how == "rgb_uint8":
        if dtype != np.uint8:
            raise ValueError("%s: rgb_uint8 needs a uint8 input, model has %s" % (path, dtype))
        h, w = shape[1], shape[2]
        im = im.convert("RGB").resize((w, h), Image.BILINEAR)
        arr = np.asarray(im, dtype=np.uint8).reshape(shape)
        src["steps"] = [
            "PIL Image.open(image).convert('RGB')",
            "resize((%d, %d), %s): no crop, aspect ratio not kept; %s" % (
                w, h, RESIZE_FILTER, "antialiased downscale" if im_shrinks(src, w, h) else "upscale, no antialiasing"),
            "the 8-bit R,G,B samples are the quantised input values as they are (HWC order)",
        ]
    elif how == "gray_float01":
        if dtype != np.float32:
            raise ValueError("%s: gray_float01 needs a float32 input, model has %s" % (path, dtype))
        side = int(round(np.sqrt(np.prod(shape[1:]))))
        im = im.convert("L").resize((side, side), Image.BILINEAR)
        arr = (np.asarray(im, dtype=np.float32) / np.float32(255.0)).reshape(shape)
        src["steps"] = [
            "PIL Image.open(image).convert('L')",
            "resize((%d, %d), %s): %s" % (side, side, RESIZE_FILTER,
                                          "antialiased downscale" if im_shrinks(src, side, side) else "upscale"),
            "float32(pixel) / float32(255), row-major, flattened to %s" % (shape,),
        ]
    else:
        raise ValueError("unknown preprocessing %r" % how)
    src["resize_filter"] = RESIZE_FILTER
    src["pil_version"] = PIL.__version__
    return arr, src


def im_shrinks(src, w, h):
    return src["image_size"][0] > w or src["image_size"][1] > h


def random_input(how, seed, shape, dtype):
    rng = np.random.default_rng(seed)
    if how == "uint8":
        expr = "numpy.random.default_rng(%d).integers(0, 256, size=%s, dtype=numpy.uint8)" % (seed, shape)
        arr = rng.integers(0, 256, size=shape, dtype=np.uint8)
    elif how == "uniform01":
        expr = "numpy.random.default_rng(%d).random(size=%s, dtype=numpy.float32)" % (seed, shape)
        arr = rng.random(size=shape, dtype=np.float32)
    elif how == "uniform0_8":
        expr = "(numpy.random.default_rng(%d).random(size=%s, dtype=numpy.float32) * 8)" % (seed, shape)
        arr = rng.random(size=shape, dtype=np.float32) * np.float32(8)
    elif how == "uniform0_2pi":
        expr = "(numpy.random.default_rng(%d).random(size=%s, dtype=numpy.float32) * float32(2*pi))" % (seed, shape)
        arr = rng.random(size=shape, dtype=np.float32) * np.float32(2 * np.pi)
    elif how == "bits":
        expr = "numpy.random.default_rng(%d).integers(0, 2, size=%s).astype(numpy.float32)" % (seed, shape)
        arr = rng.integers(0, 2, size=shape).astype(np.float32)
    else:
        raise ValueError("unknown random input %r" % how)
    if arr.dtype != dtype:
        raise ValueError("random input %s makes %s, model wants %s" % (how, arr.dtype, dtype))
    return arr, {"kind": "random", "seed": seed, "generator": expr, "numpy_version": np.__version__}


def read_labels(spec, paths):
    if spec is None:
        return None, 0
    if isinstance(spec, list):
        return spec, 0
    origin, rel, offset = spec
    with open(paths(origin, rel), encoding="utf-8") as f:
        return [line.rstrip("\n") for line in f], offset


def label_of(labels, offset, i):
    if labels is None or not 0 <= i + offset < len(labels):
        return None
    return labels[i + offset]


def dequantize(meta, values):
    q = meta["quantization"]
    if q is None:
        return values.astype(np.float64)
    scale = float(np.float32(q["scale"][len(F32_MARK):]))
    return (values.astype(np.float64) - q["zero_point"]) * scale


def top5(meta, values, labels, offset):
    flat = values.reshape(-1)
    scores = dequantize(meta, flat)
    order = sorted(range(flat.size), key=lambda i: (-float(flat[i]), i))[:5]
    out = []
    for i in order:
        e = {"index": i, "label": label_of(labels, offset, i), "score": f32(scores[i])}
        if meta["quantization"] is not None:
            e["quantized"] = int(flat[i])
        out.append(e)
    tied = [i for i in range(flat.size) if flat[i] == flat[order[0]]]
    return out, tied


def detections(outputs, labels, offset):
    boxes, classes, scores, count = (o.reshape(-1) for o in outputs)
    n = int(round(float(count[0])))
    out = []
    for i in range(n):
        c = int(round(float(classes[i])))
        out.append({"box": [f32(v) for v in boxes[4 * i:4 * i + 4]], "class": c,
                    "label": label_of(labels, offset, c), "score": f32(scores[i])})
    return n, out


def values_json(meta, arr):
    flat = arr.reshape(-1)
    if meta["dtype"] == "float32":
        return [f32(v) for v in flat]
    return [int(v) for v in flat]


class ArmNN:
    """One Arm NN runtime for every model (a second IRuntime in one process
    loses the CpuRef back end: 'CpuRef has no IBackend factory registered')."""

    def __init__(self):
        self.runtime = ann.IRuntime(ann.CreationOptions())

    def load(self, path):
        parser = ann.ITfLiteParser()
        network = parser.CreateNetworkFromBinaryFile(path)
        ins = parser.GetSubgraphInputTensorNames(0)
        outs = parser.GetSubgraphOutputTensorNames(0)
        if len(ins) != 1:
            raise ValueError("%s: %d inputs, only one is supported here" % (path, len(ins)))
        in_bind = parser.GetNetworkInputBindingInfo(0, ins[0])
        out_binds = [parser.GetNetworkOutputBindingInfo(0, n) for n in outs]
        opt, messages = ann.Optimize(network, [ann.BackendId("CpuRef")], self.runtime.GetDeviceSpec(),
                                     ann.OptimizerOptions())
        if messages:
            print("  optimizer: %s" % (messages,), file=sys.stderr)
        net_id, msg = self.runtime.LoadNetwork(opt)
        if msg:
            print("  load: %s" % msg, file=sys.stderr)
        return Loaded(self.runtime, net_id, ins[0], in_bind, outs, out_binds)


class Loaded:
    def __init__(self, runtime, net_id, in_name, in_bind, out_names, out_binds):
        self.runtime, self.net_id = runtime, net_id
        self.in_name, self.in_bind = in_name, in_bind
        self.out_names, self.out_binds = out_names, out_binds
        self.in_meta = tensor_meta(in_name, in_bind[1])
        self.out_meta = [tensor_meta(n, b[1]) for n, b in zip(out_names, out_binds)]
        self.in_dtype = DTYPES[in_bind[1].GetDataType()][1]

    def run(self, arr):
        if arr.dtype != self.in_dtype or list(arr.shape) != self.in_meta["shape"]:
            raise ValueError("input %s %s does not fit %s" % (arr.dtype, arr.shape, self.in_meta))
        inputs = ann.make_input_tensors([self.in_bind], [np.ascontiguousarray(arr)])
        outputs = ann.make_output_tensors(self.out_binds)
        self.runtime.EnqueueWorkload(self.net_id, inputs, outputs)
        return [np.array(o) for o in ann.workload_tensors_to_ndarray(outputs)]


def cases_for(model, loaded, paths):
    shape, dtype = loaded.in_meta["shape"], loaded.in_dtype
    for name, origin, rel in model.get("images", []):
        arr, src = preprocess_image(paths(origin, rel), model["input"], shape, dtype)
        src["image_origin"] = origin_name(origin, rel)
        yield name, arr, src
    for name, vals in model.get("fixed", []):
        arr = np.asarray(vals, dtype=dtype).reshape(shape)
        yield name, arr, {"kind": "fixed", "values": [f32(v) for v in arr.reshape(-1)]}
    for seed in RANDOM_SEEDS:
        arr, src = random_input(model["random"], seed, shape, dtype)
        yield "random%d" % seed, arr, src


def origin_name(origin, rel):
    return ("../shared/" + rel) if origin == "shared" else (origin + "/" + rel)


def source_json(origin, rel):
    if origin == "shared":
        return {"shared": rel}
    module, version = origin.split("@")
    return {"module": module, "version": version, "path": rel}


def armnn_versions():
    pkgs = ["libarmnn22", "libarmnn-cpuref-backend22", "libarmnntfliteparser22", "python3-pyarmnn"]
    out = subprocess.run(["dpkg-query", "-W", "-f=${Package} ${Version}\n"] + pkgs,
                         capture_output=True, text=True, check=True).stdout
    return {"runtime": "Arm NN", "backend": "CpuRef", "library_version": ann.ARMNN_VERSION,
            "debian_packages": dict(line.split(" ", 1) for line in out.strip().splitlines())}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--tflite-v1.0.1", dest="v101", required=True, help="Dir of %s" % TFLITE_V101)
    ap.add_argument("--tflite-v1.0.10", dest="v1010", required=True, help="Dir of %s" % TFLITE_V1010)
    ap.add_argument("--shared", required=True, help="the shared/ directory beside the repository")
    ap.add_argument("--out", required=True, help="internal/tflite/testdata/golden")
    ap.add_argument("--only", action="append", help="model name to regenerate (repeatable)")
    args = ap.parse_args()

    roots = {TFLITE_V101: args.v101, TFLITE_V1010: args.v1010, "shared": args.shared}

    def paths(origin, rel):
        p = os.path.join(roots[origin], rel)
        if not os.path.exists(p):
            raise FileNotFoundError("%s: missing (%s)" % (p, origin_name(origin, rel)))
        return p

    reference = armnn_versions()
    armnn = ArmNN()
    status = {}
    for model in MODELS:
        if args.only and model["name"] not in args.only:
            continue
        origin, rel = model["source"]
        path = paths(origin, rel)
        print("%s: %s" % (model["name"], path), file=sys.stderr)
        outdir = os.path.join(args.out, model["name"])
        try:
            loaded = armnn.load(path)
        except Exception as e:  # recorded in the README as the model's status
            status[model["name"]] = "cannot run: %s: %s" % (type(e).__name__, e)
            print("  " + status[model["name"]], file=sys.stderr)
            continue
        labels, offset = read_labels(model.get("labels"), paths)
        os.makedirs(outdir, exist_ok=True)
        for old in os.listdir(outdir):
            if old.endswith(".json") or old.endswith(".input.bin"):
                os.remove(os.path.join(outdir, old))
        model_json = {"file": os.path.basename(path), "sha256": sha256(path), "source": source_json(origin, rel)}
        n = 0
        for case, arr, src in cases_for(model, loaded, paths):
            raw = np.ascontiguousarray(arr).astype(arr.dtype.newbyteorder("<")).tobytes()
            bin_name = case + ".input.bin"
            with open(os.path.join(outdir, bin_name), "wb") as f:
                f.write(raw)
            outs = loaded.run(arr)
            doc = {
                "model": model_json,
                "reference": reference,
                "case": case,
                "kind": model["kind"],
                "input": dict(loaded.in_meta, file=bin_name, sha256=hashlib.sha256(raw).hexdigest(), source=src),
                "outputs": [dict(m, values=values_json(m, o)) for m, o in zip(loaded.out_meta, outs)],
            }
            for m, o in zip(loaded.out_meta, outs):
                if list(o.shape) != m["shape"]:
                    raise ValueError("%s/%s: output %s has shape %s, binding says %s" % (
                        model["name"], case, m["name"], list(o.shape), m["shape"]))
            if model["kind"] == "classification":
                doc["top5"], doc["top1_ties"] = top5(loaded.out_meta[0], outs[0], labels, offset)
            elif model["kind"] == "detection":
                doc["detection_count"], doc["detections"] = detections(outs, labels, offset)
            with open(os.path.join(outdir, case + ".json"), "w", encoding="utf-8") as f:
                f.write(dump_json(doc))
            n += 1
            summary = ""
            if "top5" in doc:
                t = doc["top5"][0]
                summary = "top-1 %d %s %s" % (t["index"], t["label"], t["score"][len(F32_MARK):])
            elif "detections" in doc:
                summary = "%d detections: %s" % (doc["detection_count"], ", ".join(
                    "%s %s" % (d["label"], d["score"][len(F32_MARK):]) for d in doc["detections"][:3]))
            print("  %-18s %s" % (case, summary), file=sys.stderr)
        status[model["name"]] = "ok: %d cases" % n
    print(json.dumps(status, indent=1))


if __name__ == "__main__":
    main()
