"""Compare edgeflow's Arm NN golden outputs with TensorFlow Lite's own kernels.

For every golden case under --golden this feeds the recorded input bytes
(<case>.input.bin) to LiteRT (the TensorFlow Lite runtime from PyPI,
ai-edge-litert) twice: with TFLite's reference kernels
(OpResolverType.BUILTIN_REF, the kernels under tensorflow/lite/kernels/internal/
reference) and with its default optimised kernels without delegates
(BUILTIN_WITHOUT_DEFAULT_DELEGATES). It prints a Markdown table per model of how
far Arm NN's CpuRef outputs are from each, in quanta for quantised outputs and
as relative error for float outputs. With --write it also records TFLite's
reference-kernel outputs beside each case as <case>.tflite_ref.json.

Run it through `golden.sh --crosscheck` (it needs a Python with ai-edge-litert
and numpy, not Debian's /usr/bin/python3).
"""

import argparse
import collections
import glob
import json
import os
import sys

import numpy as np
from ai_edge_litert.interpreter import Interpreter, OpResolverType

RESOLVERS = [("ref", OpResolverType.BUILTIN_REF),
             ("opt", OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES)]

NP = {"uint8": np.uint8, "int8": np.int8, "int16": np.int16, "int32": np.int32, "float32": np.float32}


def model_path(src, roots):
    if "shared" in src:
        return os.path.join(roots["shared"], src["shared"])
    return os.path.join(roots[src["module"] + "@" + src["version"]], src["path"])


def run_litert(path, resolver, input_bytes, meta):
    it = Interpreter(model_path=path, experimental_op_resolver_type=resolver, num_threads=1)
    it.allocate_tensors()
    ind = it.get_input_details()[0]
    arr = np.frombuffer(input_bytes, dtype=np.dtype(NP[meta["dtype"]]).newbyteorder("<")).reshape(meta["shape"])
    if ind["dtype"] != arr.dtype.newbyteorder("="):
        raise ValueError("%s: LiteRT input dtype %s, golden %s" % (path, ind["dtype"], arr.dtype))
    it.set_tensor(ind["index"], arr.astype(ind["dtype"]))
    it.invoke()
    return {d["name"]: it.get_tensor(d["index"]).copy() for d in it.get_output_details()}


def f32_text(v):
    """Shortest decimal that reads back as the same float32 (numpy's str)."""
    v = np.float32(v)
    if not np.isfinite(v):
        raise ValueError("non-finite float32 %r has no JSON form" % (v,))
    return str(v)


def write_tflite_reference(case_json, doc, got):
    """<case>.tflite_ref.json beside the golden case: TFLite reference kernels'
    outputs for the same input, in the golden file's tensor form."""
    import ai_edge_litert
    outs = []
    for out in doc["outputs"]:
        v = got[out["name"]].reshape(-1)
        if out["dtype"] == "float32":
            vals = "[" + ", ".join(f32_text(x) for x in v) + "]"
        else:
            vals = json.dumps([int(x) for x in v])
        meta = {k: out[k] for k in ("name", "shape", "dtype", "quantization")}
        outs.append(json.dumps(meta)[:-1] + ', "values": ' + vals + "}")
    head = {"runtime": "LiteRT", "version": getattr(ai_edge_litert, "__version__", "2.3.0"),
            "op_resolver": "BUILTIN_REF", "case": doc["case"]}
    text = json.dumps(head, indent=1)[:-2] + ',\n "outputs": [\n  ' + ",\n  ".join(outs) + "\n ]\n}\n"
    json.loads(text)  # well-formed
    with open(case_json[:-len(".json")] + ".tflite_ref.json", "w", encoding="utf-8") as f:
        f.write(text)


def compare(doc, got):
    """Differences between the golden outputs (Arm NN) and got (LiteRT) for one case."""
    r = {"q_diff_elems": 0, "q_elems": 0, "q_max": 0, "f_max_rel": 0.0, "f_max_abs": 0.0, "f_elems": 0,
         "top1": None, "det": None}
    by_name = {}
    for out in doc["outputs"]:
        if out["name"] not in got:
            raise KeyError("LiteRT has no output %r (has %s)" % (out["name"], sorted(got)))
        want = np.asarray(out["values"], dtype=NP[out["dtype"]]).reshape(out["shape"])
        have = got[out["name"]].reshape(out["shape"])
        by_name[out["name"]] = (want, have)
        if out["quantization"] is not None:
            d = np.abs(want.astype(np.int64) - have.astype(np.int64))
            r["q_elems"] += d.size
            r["q_diff_elems"] += int(np.count_nonzero(d))
            r["q_max"] = max(r["q_max"], int(d.max()))
        elif doc["kind"] != "detection":
            d = np.abs(want.astype(np.float64) - have.astype(np.float64))
            rel = d / np.maximum(np.abs(have.astype(np.float64)), 1e-30)
            r["f_elems"] += d.size
            r["f_max_abs"] = max(r["f_max_abs"], float(d.max()))
            r["f_max_rel"] = max(r["f_max_rel"], float(rel.max()))
    if doc["kind"] == "classification":
        want, have = by_name[doc["outputs"][0]["name"]]
        best = have.reshape(-1).max()
        r["top1"] = bool(have.reshape(-1)[doc["top5"][0]["index"]] == best)
    if doc["kind"] == "detection":
        (wb, hb), (wc, hc), (ws, hs), (wn, hn) = (by_name[o["name"]] for o in doc["outputs"])
        n = int(wn.reshape(-1)[0])
        r["det"] = {
            "count_equal": n == int(hn.reshape(-1)[0]),
            "classes_equal": bool(np.array_equal(wc.reshape(-1)[:n], hc.reshape(-1)[:n])),
            "box_max_abs": float(np.abs(wb.reshape(-1, 4)[:n] - hb.reshape(-1, 4)[:n]).max()),
            "score_max_abs": float(np.abs(ws.reshape(-1)[:n] - hs.reshape(-1)[:n]).max()),
        }
    return r


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--tflite-v1.0.1", dest="v101", required=True)
    ap.add_argument("--tflite-v1.0.10", dest="v1010", required=True)
    ap.add_argument("--shared", required=True)
    ap.add_argument("--golden", required=True)
    ap.add_argument("--json", help="also write every case's differences to this file")
    ap.add_argument("--write", action="store_true",
                    help="write <case>.tflite_ref.json (TFLite reference kernels' outputs) beside each case")
    args = ap.parse_args()
    roots = {"github.com/mattn/go-tflite@v1.0.1": args.v101, "github.com/mattn/go-tflite@v1.0.10": args.v1010,
             "shared": args.shared}

    per_model = collections.OrderedDict()
    details = {}
    for path in sorted(p for p in glob.glob(os.path.join(args.golden, "*", "*.json"))
                       if not p.endswith(".tflite_ref.json")):
        with open(path, encoding="utf-8") as f:
            doc = json.load(f)
        model = os.path.basename(os.path.dirname(path))
        with open(os.path.join(os.path.dirname(path), doc["input"]["file"]), "rb") as f:
            raw = f.read()
        mpath = model_path(doc["model"]["source"], roots)
        for rname, resolver in RESOLVERS:
            try:
                got = run_litert(mpath, resolver, raw, doc["input"])
                if rname == "ref" and args.write:
                    write_tflite_reference(path, doc, got)
                res = compare(doc, got)
            except Exception as e:  # reported in the table
                res = {"error": "%s: %s" % (type(e).__name__, e)}
            per_model.setdefault(model, {}).setdefault(rname, []).append((doc["case"], res))
            details["%s/%s/%s" % (model, doc["case"], rname)] = res
        print("%s/%s done" % (model, doc["case"]), file=sys.stderr)

    print("| model | TFLite kernels | cases | quantised output elements that differ | max difference | top-1 equal | detections |")
    print("|---|---|---|---|---|---|---|")
    for model, by_res in per_model.items():
        for rname, cases in by_res.items():
            errs = [c for c, r in cases if "error" in r]
            ok = [r for c, r in cases if "error" not in r]
            if errs:
                print("| %s | %s | %d | error in %s: %s | | | |" % (
                    model, rname, len(cases), ", ".join(errs), cases[[c for c, _ in cases].index(errs[0])][1]["error"]))
                continue
            qe = sum(r["q_elems"] for r in ok)
            qd = sum(r["q_diff_elems"] for r in ok)
            if qe:
                diff = "%d of %d" % (qd, qe)
                q = max(r["q_max"] for r in ok)
                mx = "%d %s" % (q, "quantum" if q == 1 else "quanta")
            else:
                fe = sum(r["f_elems"] for r in ok)
                diff = "(float, %d elements)" % fe if fe else "(float)"
                mx = "rel %.2g, abs %.2g" % (max(r["f_max_rel"] for r in ok), max(r["f_max_abs"] for r in ok)) if fe else ""
            top = ""
            if ok[0]["top1"] is not None:
                top = "%d of %d" % (sum(1 for r in ok if r["top1"]), len(ok))
            det = ""
            if ok[0]["det"] is not None:
                d = [r["det"] for r in ok]
                det = "count equal %d/%d, classes equal %d/%d, box max abs %.2g, score max abs %.2g" % (
                    sum(x["count_equal"] for x in d), len(d), sum(x["classes_equal"] for x in d), len(d),
                    max(x["box_max_abs"] for x in d), max(x["score_max_abs"] for x in d))
            print("| %s | %s | %d | %s | %s | %s | %s |" % (model, rname, len(cases), diff, mx, top, det))
    if args.json:
        with open(args.json, "w", encoding="utf-8") as f:
            json.dump(details, f, indent=1, sort_keys=True)


if __name__ == "__main__":
    main()
