#!/usr/bin/env python3
"""Independent numpy reference values for the linear_regions and zen tests (Tests/MetricsTests/
LinearRegionsZenTests.swift). No PyTorch here, so this re-implements the networks from their
definitions (xautodl TinyNetwork / TE-NAS thin network, PyTorch BatchNorm2d semantics) with plain
numpy, in float64, on weights and inputs given by closed-form formulas that the Swift test
reproduces. It shares no code with the engine. Run: python3 zen_linear_regions_reference.py
(numpy 2.x; prints the constants pasted into the Swift test).
"""
import math
import numpy as np

EPS, MOMENTUM = 1e-5, 0.1


def formula_weight(layer, shape):
    """Weight of the layer-th conv/linear module (module order): sin(1.3 q + 0.7 layer + 0.25) * scale."""
    n = int(np.prod(shape))
    q = np.arange(n, dtype=np.float64)
    fan_in = int(np.prod(shape[1:]))
    return (np.sin(1.3 * q + 0.7 * layer + 0.25) * (2.0 / fan_in) ** 0.5).reshape(shape)


def formula_input(shape, a, b):
    n = int(np.prod(shape))
    i = np.arange(n, dtype=np.float64)
    return np.sin(a * i + b).reshape(shape)


def conv2d(x, w, stride=1, pad=0):
    n, c, h, wd = x.shape
    co, ci, k, _ = w.shape
    xp = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    ho = (h + 2 * pad - k) // stride + 1
    wo = (wd + 2 * pad - k) // stride + 1
    out = np.zeros((n, co, ho, wo))
    for i in range(k):
        for j in range(k):
            patch = xp[:, :, i:i + stride * ho:stride, j:j + stride * wo:stride]  # n, ci, ho, wo
            out += np.einsum('nchw,oc->nohw', patch, w[:, :, i, j])
    return out


def avgpool3_nopad_count(x):
    """3x3, stride 1, pad 1, count_include_pad=False."""
    n, c, h, w = x.shape
    xp = np.pad(x, ((0, 0), (0, 0), (1, 1), (1, 1)))
    ones = np.pad(np.ones((h, w)), 1)
    s = np.zeros_like(x)
    cnt = np.zeros((h, w))
    for i in range(3):
        for j in range(3):
            s += xp[:, :, i:i + h, j:j + w]
            cnt += ones[i:i + h, j:j + w]
    return s / cnt


def avgpool2(x):
    n, c, h, w = x.shape
    return x.reshape(n, c, h // 2, 2, w // 2, 2).mean(axis=(3, 5))


class BN:
    """PyTorch BatchNorm2d in training mode, gamma 1, beta 0, fresh running stats."""
    def __init__(self, c):
        self.rm, self.rv = np.zeros(c), np.ones(c)

    def __call__(self, x):
        m = x.mean(axis=(0, 2, 3))
        v = x.var(axis=(0, 2, 3))
        cnt = x.shape[0] * x.shape[2] * x.shape[3]
        self.rm = (1 - MOMENTUM) * self.rm + MOMENTUM * m
        self.rv = (1 - MOMENTUM) * self.rv + MOMENTUM * v * cnt / (cnt - 1)
        return (x - m[None, :, None, None]) / np.sqrt(v[None, :, None, None] + EPS)


class Builder:
    """Allocates formula weights in module order and records BN layers and ReLU inputs."""
    def __init__(self):
        self.layer = 0
        self.bns = []
        self.relu_inputs = None

    def weight(self, shape):
        w = formula_weight(self.layer, shape)
        self.layer += 1
        return w

    def bn(self, c):
        b = BN(c)
        self.bns.append(b)
        return b

    def relu(self, x):
        if self.relu_inputs is not None and x.ndim == 4:
            self.relu_inputs.append(x.copy())
        return np.maximum(x, 0)


def relu_conv_bn(bld, cin, cout, k, stride, pad):
    w = bld.weight((cout, cin, k, k))
    bn = bld.bn(cout)
    return lambda x: bn(conv2d(bld.relu(x), w, stride, pad))


EDGES = [(1, 0), (2, 0), (2, 1), (3, 0), (3, 1), (3, 2)]


def cell(bld, ops, c):
    fs = []
    for op in ops:
        if op == 'none':
            fs.append(lambda x: x * 0.0)
        elif op == 'skip_connect':
            fs.append(lambda x: x)
        elif op == 'nor_conv_1x1':
            fs.append(relu_conv_bn(bld, c, c, 1, 1, 0))
        elif op == 'nor_conv_3x3':
            fs.append(relu_conv_bn(bld, c, c, 3, 1, 1))
        elif op == 'avg_pool_3x3':
            fs.append(avgpool3_nopad_count)
        else:
            raise ValueError(op)

    def run(x):
        nodes = [x]
        e = 0
        for j in range(1, 4):
            acc = None
            for i in range(j):
                y = fs[e](nodes[i])
                acc = y if acc is None else acc + y
                e += 1
            nodes.append(acc)
        return nodes[3]
    return run


def parse(arch):
    groups = arch.strip('|').split('|+|')
    return [tok.split('~')[0] for g in groups for tok in g.split('|')]


def reduction(bld, cin, cout):
    a = relu_conv_bn(bld, cin, cout, 3, 2, 1)
    b = relu_conv_bn(bld, cout, cout, 3, 1, 1)
    wd = bld.weight((cout, cin, 1, 1))
    return lambda x: conv2d(avgpool2(x), wd) + b(a(x))


def nb201_features(arch, c, n, x):
    """xautodl TinyNetwork up to lastact (the pre-pooling features), module order as the state_dict."""
    bld = Builder()
    ops = parse(arch)
    stem_w = bld.weight((c, 3, 3, 3))
    stem_bn = bld.bn(c)
    blocks = []
    cprev = c
    for stage in range(3):
        cc = c << stage
        if stage > 0:
            blocks.append(reduction(bld, cprev, cc))
        for _ in range(n):
            blocks.append(cell(bld, ops, cc))
        cprev = cc
    last_bn = bld.bn(cprev)

    def feats(inp):
        f = stem_bn(conv2d(inp, stem_w, 1, 1))
        for blk in blocks:
            f = blk(f)
        return bld.relu(last_bn(f))
    return feats, bld


def zen_reference():
    arch = '|nor_conv_3x3~0|+|nor_conv_1x1~0|avg_pool_3x3~1|+|skip_connect~0|nor_conv_3x3~1|nor_conv_1x1~2|'
    feats, bld = nb201_features(arch, c=2, n=1, x=None)
    shape = (4, 3, 8, 8)
    x1 = formula_input(shape, 0.37, 0.1)
    x2 = formula_input(shape, 0.23, 0.4)
    f1 = feats(x1)
    f2 = feats(x1 + 0.01 * x2)
    delta = np.abs(f1 - f2).sum(axis=(1, 2, 3)).mean()
    bn_term = sum(math.log(math.sqrt(b.rv.mean())) for b in bld.bns)
    return math.log(delta) + bn_term, math.log(delta), bn_term


def thin_patterns(arch, crops, batch):
    """TE-NAS thin network (no stem, one cell at C=1, lastact BN+ReLU) in batches; distinct patterns."""
    bld = Builder()
    run_cell = cell(bld, parse(arch), 1)
    last_bn = bld.bn(1)
    patterns = set()
    for s in range(0, crops.shape[0], batch):
        x = crops[s:s + batch]
        bld.relu_inputs = []
        bld.relu(last_bn(run_cell(x)))
        codes = np.concatenate([r.reshape(r.shape[0], -1) > 0 for r in bld.relu_inputs], axis=1)
        for row in codes:
            patterns.add(row.tobytes())
    return len(patterns)


def linear_regions_reference():
    arch = '|nor_conv_3x3~0|+|nor_conv_1x1~0|avg_pool_3x3~1|+|skip_connect~0|nor_conv_3x3~1|nor_conv_1x1~2|'
    crops = formula_input((600, 1, 3, 3), 0.61, 0.3) + 0.5 * formula_input((600, 1, 3, 3), 0.071, 1.1)
    return thin_patterns(arch, crops, 200), thin_patterns(arch, crops, 600)


if __name__ == '__main__':
    z, log_delta, bn_term = zen_reference()
    print(f'zen = {z!r}  (log delta {log_delta!r}, BN term {bn_term!r})')
    lr200, lr600 = linear_regions_reference()
    print(f'linear_regions (batches of 200) = {lr200}, (one batch of 600) = {lr600}')
