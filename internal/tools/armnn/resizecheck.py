"""How much PIL's antialiased bilinear resize matters for the golden image cases.

The golden image inputs were made with PIL's Image.BILINEAR, which widens its
kernel by the scale factor when it shrinks an image (antialiasing). A resize
that samples only the 2x2 nearest pixels (TensorFlow's tf.image.resize
bilinear without antialias, half-pixel centres) gives other pixels. For every
golden image case this prints how far the two inputs are apart and the top-1
class TFLite's reference kernels give on each. It also re-does PIL's
algorithm in numpy (pil_bilinear) and stops unless that equals PIL byte for
byte on every case: a description precise enough to port.

    python resizecheck.py --golden internal/tflite/testdata/golden --image-root MODULE_OR_SHARED_DIR...
"""

import argparse
import glob
import json
import os

import numpy as np
from PIL import Image
from ai_edge_litert.interpreter import Interpreter, OpResolverType


def bilinear_2x2(img, w, h):
    """Plain bilinear with half-pixel centres: each output pixel from the 2x2
    nearest input pixels, no antialiasing (as tf.image.resize, antialias=False)."""
    a = np.asarray(img, dtype=np.float64)
    H, W = a.shape[:2]
    ys = np.clip((np.arange(h) + 0.5) * H / h - 0.5, 0, H - 1)
    xs = np.clip((np.arange(w) + 0.5) * W / w - 0.5, 0, W - 1)
    y0, x0 = np.floor(ys).astype(int), np.floor(xs).astype(int)
    y1, x1 = np.minimum(y0 + 1, H - 1), np.minimum(x0 + 1, W - 1)
    fy, fx = (ys - y0)[:, None, None], (xs - x0)[None, :, None]
    top = a[y0][:, x0] * (1 - fx) + a[y0][:, x1] * fx
    bot = a[y1][:, x0] * (1 - fx) + a[y1][:, x1] * fx
    return np.clip(np.round(top * (1 - fy) + bot * fy), 0, 255).astype(np.uint8)


PRECISION_BITS = 32 - 8 - 2  # Pillow libImaging/Resample.c, 8-bit images


def pil_coeffs(in_size, out_size):
    """Pillow's precompute_coeffs + normalize_coeffs_8bpc for the bilinear
    (triangle, support 1) filter: the support widens by the scale factor when
    shrinking; weights are normalised in float64, then made 22-bit fixed point."""
    scale = in_size / out_size
    filterscale = max(scale, 1.0)
    support = 1.0 * filterscale
    bounds, weights = [], []
    for xx in range(out_size):
        center = (xx + 0.5) * scale
        xmin = max(int(center - support + 0.5), 0)
        xmax = min(int(center + support + 0.5), in_size) - xmin
        k = [max(0.0, 1.0 - abs((x + xmin - center + 0.5) / filterscale)) for x in range(xmax)]
        ww = sum(k)
        k = [w / ww if ww != 0.0 else w for w in k]
        kk = [int(0.5 + w * (1 << PRECISION_BITS)) if w >= 0 else int(-0.5 + w * (1 << PRECISION_BITS)) for w in k]
        bounds.append(xmin)
        weights.append(np.array(kk, dtype=np.int64))
    return bounds, weights


def pil_pass(a, axis, out_size):
    """One 8-bit pass along axis: accumulator starts at 2^21, >> 22, clipped to 0..255."""
    a = np.moveaxis(a, axis, 0).astype(np.int64)
    bounds, weights = pil_coeffs(a.shape[0], out_size)
    out = np.empty((out_size,) + a.shape[1:], dtype=np.uint8)
    for i, (xmin, kk) in enumerate(zip(bounds, weights)):
        ss = (1 << (PRECISION_BITS - 1)) + np.tensordot(kk, a[xmin:xmin + len(kk)], axes=(0, 0))
        out[i] = np.clip(ss >> PRECISION_BITS, 0, 255)
    return np.moveaxis(out, 0, axis)


def pil_bilinear(img, w, h):
    """PIL's Image.resize((w, h), Image.BILINEAR) of an 8-bit image, re-done
    from Pillow's algorithm: horizontal pass first (when the width changes) into
    an 8-bit image, then the vertical pass. Checked equal to PIL below."""
    a = np.asarray(img, dtype=np.uint8)
    if a.shape[1] != w:
        a = pil_pass(a, 1, w)
    if a.shape[0] != h:
        a = pil_pass(a, 0, h)
    return a


def top1(model, arr):
    it = Interpreter(model_path=model, experimental_op_resolver_type=OpResolverType.BUILTIN_REF)
    it.allocate_tensors()
    it.set_tensor(it.get_input_details()[0]["index"], arr)
    it.invoke()
    out = it.get_tensor(it.get_output_details()[0]["index"]).reshape(-1)
    return int(np.argmax(out)), int(out.max())


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--golden", required=True)
    ap.add_argument("--models", nargs="+", required=True, help="directories to look for model files in")
    ap.add_argument("--images", nargs="+", required=True, help="directories to look for image files in")
    args = ap.parse_args()

    def find(name, roots):
        for r in roots:
            hits = glob.glob(os.path.join(r, "**", name), recursive=True)
            if hits:
                return hits[0]
        raise FileNotFoundError(name)

    print("| case | image size → input | mean abs pixel difference | max | top-1 (PIL BILINEAR) | top-1 (2x2 bilinear) |")
    print("|---|---|---|---|---|---|")
    for path in sorted(glob.glob(os.path.join(args.golden, "*", "*.json"))):
        if path.endswith(".tflite_ref.json"):
            continue
        doc = json.load(open(path, encoding="utf-8"))
        src = doc["input"]["source"]
        if src["kind"] != "image":
            continue
        if doc["input"]["dtype"] == "float32":  # MNIST: 8-bit grey resize, then / 255
            side = int(round(np.sqrt(np.prod(doc["input"]["shape"][1:]))))
            grey = Image.open(find(src["image"], args.images)).convert("L")
            want = np.asarray(grey.resize((side, side), Image.BILINEAR), dtype=np.uint8)
            raw = np.fromfile(os.path.join(os.path.dirname(path), doc["input"]["file"]), dtype="<f4")
            if not np.array_equal(raw, (want.astype(np.float32) / np.float32(255)).reshape(-1)):
                raise SystemExit("%s: PIL here does not reproduce the golden input" % path)
            if not np.array_equal(pil_bilinear(grey, side, side), want):
                raise SystemExit("%s: the re-done PIL algorithm differs from PIL" % path)
            continue
        shape = doc["input"]["shape"]
        h, w = shape[1], shape[2]
        img = Image.open(find(src["image"], args.images)).convert("RGB")
        pil = np.asarray(img.resize((w, h), Image.BILINEAR), dtype=np.uint8)
        raw = np.fromfile(os.path.join(os.path.dirname(path), doc["input"]["file"]), dtype=np.uint8).reshape(h, w, 3)
        if not np.array_equal(pil, raw):
            raise SystemExit("%s: PIL here does not reproduce the golden input" % path)
        if not np.array_equal(pil_bilinear(img, w, h), pil):
            raise SystemExit("%s: the re-done PIL algorithm differs from PIL" % path)
        plain = bilinear_2x2(img, w, h)
        d = np.abs(pil.astype(int) - plain.astype(int))
        model = find(doc["model"]["file"], args.models)
        if doc["kind"] == "classification":
            a, b = top1(model, pil.reshape(shape)), top1(model, plain.reshape(shape))
            ta, tb = "%d (q %d)" % a, "%d (q %d)" % b
        else:
            ta = tb = "(detection)"
        print("| %s/%s | %dx%d → %dx%d | %.2f | %d | %s | %s |" % (
            os.path.basename(os.path.dirname(path)), doc["case"], src["image_size"][0], src["image_size"][1],
            w, h, d.mean(), d.max(), ta, tb))


if __name__ == "__main__":
    main()
