"""Zstandard Huffman literals decoding (RFC 8878 §4.2), single stream, from the RFC."""

class BackBits:
    """Backward bitstream: last byte holds a 1 marker above the padding."""
    def __init__(s, data):
        if not data or data[-1] == 0: raise ValueError("bad stream end")
        s.x = int.from_bytes(data, 'little')
        s.pos = len(data) * 8 - (8 - data[-1].bit_length()) - 1  # bits available
        s.total = s.pos
    def read(s, n):
        if n == 0: return 0
        s.pos -= n
        if s.pos >= 0:
            return (s.x >> s.pos) & ((1 << n) - 1)
        # reading past the start: zero bits come in on the right
        v = (s.x << -s.pos) & ((1 << n) - 1) if s.pos + n > 0 else 0
        return v
    def peek(s, n):
        p = s.pos - n
        if p >= 0: return (s.x >> p) & ((1 << n) - 1)
        return (s.x << -p) & ((1 << n) - 1)
    def overflow(s): return s.pos < 0

def highbit(x): return x.bit_length() - 1

def read_fse_table(data, maxlog):
    """FSE table description (RFC 8878 §4.1.1); returns (probs, accuracy_log, bytes used)."""
    x = int.from_bytes(data, 'little'); pos = 0
    def bits(n):
        nonlocal pos
        v = (x >> pos) & ((1 << n) - 1); return v
    al = (x & 15) + 5; pos = 4
    if al > maxlog: raise ValueError("accuracy log")
    remaining = (1 << al) + 1; threshold = 1 << al; nb = al + 1
    probs = []
    while remaining > 1 and len(probs) < 256:
        maxv = (2 * threshold - 1) - remaining
        low = bits(nb - 1)
        if low < maxv:
            val = low; pos += nb - 1
        else:
            val = bits(nb)
            if val >= threshold: val -= maxv
            pos += nb
        p = val - 1
        probs.append(p)
        remaining -= -p if p < 0 else p
        if p == 0:
            while True:
                rep = bits(2); pos += 2
                probs += [0] * rep
                if rep != 3: break
        while remaining < threshold:
            nb -= 1; threshold >>= 1
    if remaining != 1: raise ValueError("probabilities do not add up")
    return probs, al, (pos + 7) // 8

def build_fse(probs, al):
    size = 1 << al
    sym = [0] * size
    high = size - 1
    for s, p in enumerate(probs):
        if p == -1:
            sym[high] = s; high -= 1
    step = (size >> 1) + (size >> 3) + 3
    mask = size - 1; pos = 0
    for s, p in enumerate(probs):
        for _ in range(max(p, 0)):
            sym[pos] = s
            pos = (pos + step) & mask
            while pos > high: pos = (pos + step) & mask
    nxt = [1 if p == -1 else p for p in probs]
    table = []
    for st in range(size):
        s = sym[st]
        xx = nxt[s]; nxt[s] += 1
        nb = al - highbit(xx)
        base = (xx << nb) - size
        table.append((s, nb, base))
    return table

def decode_weights_fse(data):
    probs, al, used = read_fse_table(data, 6)
    table = build_fse(probs, al)
    bs = BackBits(data[used:])
    s1 = bs.read(al); s2 = bs.read(al)
    out = []
    while True:
        sym, nb, base = table[s1]; out.append(sym); s1 = base + bs.read(nb)
        if bs.overflow():
            out.append(table[s2][0]); break
        sym, nb, base = table[s2]; out.append(sym); s2 = base + bs.read(nb)
        if bs.overflow():
            out.append(table[s1][0]); break
        if len(out) > 255: raise ValueError("too many weights")
    return out, used + 0

def decode(data, n):
    h = data[0]
    if h < 128:
        weights, _ = decode_weights_fse(data[1:1 + h])
        rest = data[1 + h:]
    else:
        nw = h - 127
        nbytes = (nw + 1) // 2
        weights = []
        for b in data[1:1 + nbytes]:
            weights += [b >> 4, b & 15]
        weights = weights[:nw]
        rest = data[1 + nbytes:]
    total = sum(1 << (w - 1) for w in weights if w > 0)
    maxbits = highbit(total) + 1
    left = (1 << maxbits) - total
    if left & (left - 1): raise ValueError("last weight")
    weights.append(highbit(left) + 1)
    nbits = [maxbits + 1 - w if w > 0 else 0 for w in weights]
    # canonical codes: by increasing weight (longest codes first), then symbol
    order = sorted((w, s) for s, w in enumerate(weights) if w > 0)
    codes = {}
    code = 0; prev_len = None
    # assign from longest to shortest: codes of the longest length start at 0
    for w, s in order:
        L = nbits[s]
        if prev_len is not None and L != prev_len:
            code >>= (prev_len - L)
        codes[(L, code)] = s
        code += 1
        prev_len = L
    bs = BackBits(rest)
    out = []
    while len(out) < n:
        look = bs.peek(maxbits)
        for L in range(1, maxbits + 1):
            c = look >> (maxbits - L)
            if (L, c) in codes:
                out.append(codes[(L, c)]); bs.read(L); break
        else:
            raise ValueError("no code")
    if bs.pos != 0: raise ValueError("stream not used up: %d bits" % bs.pos)
    return out
