"""An independent decoder of edgeflow frames, written from docs/frame-format.md
(and RFC 8878 for the Huffman chunks) alone, without looking at the Go code.
TestIndependentDecoder runs it on frames of every kind to keep the document
precise. Back ends zlib only (lz4 and zstd payloads are reported as skipped).

Usage: python3 efdec.py frames.json   (a JSON list of {Frame: base64, TS, Bits})
"""
import json, struct, zlib, sys

M64 = (1 << 64) - 1

class Corrupt(Exception): pass
class Unsupported(Exception): pass

class R:
    def __init__(s, b, off=0): s.b, s.o = b, off
    def byte(s):
        if s.o >= len(s.b): raise Corrupt("eof")
        v = s.b[s.o]; s.o += 1; return v
    def take(s, n):
        if s.o + n > len(s.b): raise Corrupt("eof")
        v = s.b[s.o:s.o+n]; s.o += n; return v
    def uvarint(s):
        v = 0; shift = 0
        for i in range(10):
            c = s.byte()
            v |= (c & 0x7f) << shift
            if c < 0x80:
                if v > M64: raise Corrupt("overflow")
                return v
            shift += 7
        raise Corrupt("long varint")
    def varint(s): return unzigzag(s.uvarint())

def unzigzag(u): return to_signed((u >> 1) ^ (-(u & 1) & M64))
def to_signed(u):
    u &= M64
    return u - (1 << 64) if u >> 63 else u
def f64(bits): return struct.unpack('<d', struct.pack('<Q', bits & M64))[0]
def bits64(x): return struct.unpack('<Q', struct.pack('<d', x))[0]
def f32(b): return struct.unpack('<f', b)[0]
def round32(x): return struct.unpack('<f', struct.pack('<f', x))[0]

class BitsLSB:
    def __init__(s, b, off): s.b, s.pos = b, off * 8
    def read(s, w):
        v = 0
        for i in range(w):
            byte = s.pos >> 3
            if byte >= len(s.b): raise Corrupt("bits eof")
            v |= ((s.b[byte] >> (s.pos & 7)) & 1) << i
            s.pos += 1
        return v
    def end(s): return (s.pos + 7) // 8

def huffman_chunk(data, n):
    import huf
    try:
        out = huf.decode(data, n)
    except ValueError as e:
        raise Corrupt("huffman: %s" % e)
    if len(out) != n: raise Corrupt("huffman length")
    return out

def byte_stream(r, n):
    kind = r.byte()
    if kind == 0: return list(r.take(n))
    if kind == 1: return [r.byte()] * n
    if kind == 2:
        out = []
        while len(out) < n:
            c = min(65536, n - len(out))
            L = r.uvarint()
            if L == 0: out += list(r.take(c))
            else: out += huffman_chunk(r.take(L), c)
        return out
    raise Corrupt("byte stream kind %d" % kind)

def int_stream(r, n):
    if n == 0: return []
    kind = r.byte()
    if kind == 0:
        out = []
        while len(out) < n:
            m = min(128, n - len(out))
            w = r.byte()
            if w > 64: raise Corrupt("width")
            nb = (m * w + 7) // 8
            chunk = r.take(nb)
            big = int.from_bytes(chunk, 'little')
            for i in range(m):
                out.append((big >> (i * w)) & ((1 << w) - 1))
        return out
    if kind == 1:
        E = r.uvarint()
        esc = R(r.take(E))
        syms = byte_stream(r, n)
        out = []
        for s in syms:
            if s < 255: out.append(s)
            else:
                u = esc.uvarint()
                if 255 + u > M64: raise Corrupt("escape")
                out.append(255 + u)
        if esc.o != len(esc.b): raise Corrupt("escape left")
        return out
    if kind == 2: return [0] * n
    if kind == 3:
        k = r.byte()
        if k > 56: raise Corrupt("k")
        br = BitsLSB(r.b, r.o)
        out = []
        for i in range(n):
            q = 0
            while q < 32 and br.read(1) == 1: q += 1
            if q == 32: out.append(br.read(64))
            else: out.append((q << k) | br.read(k))
        r.o = br.end()
        return out
    if kind == 4:
        m = r.uvarint()
        if m > n: raise Corrupt("sparse count")
        out = [0] * n; idx = -1
        for j in range(m):
            idx += r.uvarint() + 1
            if idx >= n: raise Corrupt("sparse pos")
            z = r.uvarint()
            if z == 0: raise Corrupt("sparse zero")
            out[idx] = z
        return out
    raise Corrupt("int kind %d" % kind)

def crc32c(data):
    crc = 0xffffffff
    for b in data:
        crc ^= b
        for _ in range(8):
            crc = (crc >> 1) ^ (0x82F63B78 if crc & 1 else 0)
    return crc ^ 0xffffffff

def decode(frame):
    r = R(frame)
    if r.take(4) != b'EFRM': raise Corrupt("magic")
    if r.byte() != 1: raise Corrupt("version")
    codec = r.byte()
    flags = r.byte()
    if codec > 4 or flags & 0xf0: raise Corrupt("codec/flags")
    lossy, transform = flags & 1, (flags >> 1) & 7
    node = r.take(r.uvarint()); stream = r.take(r.uvarint())
    seq = r.uvarint(); t0 = r.varint(); count = r.uvarint()
    body_len = r.uvarint(); payload_len = r.uvarint()
    if count > 1 << 20 or body_len > 32 * count + 1024 or payload_len > body_len: raise Corrupt("limits")
    hdr = r.o
    payload = r.take(payload_len)
    crc = struct.unpack('<I', r.take(4))[0]
    if crc32c(frame[:hdr + payload_len]) != crc: raise Corrupt("crc")
    if payload_len == body_len: body = payload
    elif codec in (1, 4): body = zlib.decompress(payload)
    else: raise Unsupported("back end %d" % codec)
    if len(body) != body_len: raise Corrupt("body len")
    b = R(body)
    ts = []
    if count >= 1: ts.append(t0)
    if count >= 2:
        delta = b.varint(); ts.append(to_signed(t0 + delta))
        for dd in int_stream(b, count - 2) if count >= 3 else []:
            delta = to_signed(delta + unzigzag(dd)); ts.append(to_signed(ts[-1] + delta))
    vals = []
    if count >= 1:
        if transform in (0, 1, 5, 6):
            if transform in (0, 5):
                D = b.byte()
                if D > 18: raise Corrupt("D")
                p = float(10 ** D)
                op = lambda k: float(k) / p
            else:
                q = struct.unpack('<d', b.take(8))[0]
                op = lambda k: float(k) * q
            L = 1
            if transform in (5, 6):
                if transform == 6 and not lossy: raise Corrupt("grid-lag without the lossy flag")
                L = b.uvarint()
                if L < 2 or L >= count: raise Corrupt("lag")
            k = b.varint(); ks = [k]
            for i, z in enumerate(int_stream(b, count - 1), start=1):
                base = ks[i - 1] if i < L else ks[i - L]
                ks.append(to_signed(base + unzigzag(z)))
            cs = int_stream(b, count)
            vals = [bits64(op(k)) + unzigzag(c) & M64 for k, c in zip(ks, cs)]
        elif transform == 4:
            D = b.byte()
            if D > 18: raise Corrupt("D")
            p = float(10 ** D)
            u = b.uvarint()
            if u < 1 or u > count: raise Corrupt("dictionary size")
            s = [b.varint()]
            for g in int_stream(b, u - 1):
                s.append(to_signed(s[-1] + g + 1))
            r = b.uvarint(); ranks = [r]
            for z in int_stream(b, count - 1):
                r += unzigzag(z); ranks.append(r)
            if any(r < 0 or r >= u for r in ranks): raise Corrupt("rank")
            cs = int_stream(b, count)
            vals = [bits64(float(s[r]) / p) + unzigzag(c) & M64 for r, c in zip(ranks, cs)]
        elif transform == 2:
            planes = [byte_stream(b, count) for j in range(8)]
            prev = 0
            for i in range(count):
                x = sum(planes[j][i] << (8 * j) for j in range(8))
                prev ^= x; vals.append(prev)
        elif transform == 3:
            acc = None
            for i in range(count):
                d = f32(b.take(4))
                acc = d if i == 0 else round32(acc + d)
                vals.append(bits64(acc))
        else:
            raise Corrupt("transform %d" % transform)
    if b.o != len(body): raise Corrupt("leftover")
    return ts, vals

if __name__ == '__main__':
    recs = json.load(open(sys.argv[1]))
    import base64
    ok = skipped = bad = 0
    for i, rec in enumerate(recs):
        frame = base64.b64decode(rec['Frame'])
        try:
            ts, vals = decode(frame)
        except Unsupported as e:
            skipped += 1; continue
        exp_ts = rec['TS'] or []; exp_bits = rec['Bits'] or []
        if ts == exp_ts and vals == exp_bits: ok += 1
        else:
            bad += 1
            diffs = [j for j in range(min(len(vals), len(exp_bits))) if vals[j] != exp_bits[j]]
            print("frame %d: mismatch ts_equal=%s nvals=%d/%d first diffs %s" % (i, ts == exp_ts, len(vals), len(exp_bits), diffs[:5]))
    print("ok", ok, "skipped", skipped, "bad", bad)
    sys.exit(1 if bad else 0)
