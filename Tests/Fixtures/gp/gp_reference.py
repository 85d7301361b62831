# Independent reference values for Tests/ZCSearchTests (numpy/scipy, run by hand; outputs pasted
# into the tests). Exact GP posterior (Rasmussen & Williams 2006, eqs. 2.25-2.26 and 2.30) with a
# Matern 5/2 kernel, computed with a dense inverse instead of zcnas's Cholesky path.
import numpy as np
from scipy.stats import norm

def matern52(a, b, ls, s2):
    r = np.sqrt((((a[:, None, :] - b[None, :, :]) / ls) ** 2).sum(-1))
    return s2 * (1 + np.sqrt(5) * r + 5 * r ** 2 / 3) * np.exp(-np.sqrt(5) * r)

X = np.array([[0.0, 0.1], [0.5, -0.4], [1.2, 0.3], [-0.7, 0.9]])
y = np.array([1.0, -0.3, 0.7, 0.2])
ls, s2, noise = np.array([0.7, 1.1]), 1.3, 0.01
m, s = y.mean(), y.std()
yn = (y - m) / s
K = matern52(X, X, ls, s2) + noise * np.eye(len(y))
Ki = np.linalg.inv(K)
Xs = np.array([[0.3, 0.0], [2.0, -1.0]])
ks = matern52(Xs, X, ls, s2)
mu = m + s * ks @ Ki @ yn
var = s ** 2 * (s2 - np.einsum('ij,jk,ik->i', ks, Ki, ks))
lml = -0.5 * yn @ Ki @ yn - 0.5 * np.linalg.slogdet(K)[1] - 0.5 * len(y) * np.log(2 * np.pi)
print("mean", repr(mu.tolist()))
print("var", repr(var.tolist()))
print("lml", repr(lml))
# Expected improvement, mean 1, variance 4, best 0.5, xi 0.
z = 0.25
print("ei", repr(0.5 * norm.cdf(z) + 2 * norm.pdf(z)))

# Maximum log marginal likelihood for 12 noiseless samples of sin(6x) on [0, 1] (isotropic Matern 5/2,
# normalised targets), found by scipy's L-BFGS-B from a grid of starts in log space, within the
# bounds zcnas uses (length scale 1e-2..1e2, signal variance 1e-2..1e2, noise variance 1e-6..1).
from scipy.optimize import minimize
import itertools
xs = np.arange(12)[:, None] / 11.0
ys = np.sin(6 * xs[:, 0])
ysn = (ys - ys.mean()) / ys.std()
def neg_lml(t):
    l, s2, nv = np.exp(t)
    K = matern52(xs, xs, np.array([l]), s2) + nv * np.eye(12)
    try:
        L = np.linalg.cholesky(K)
    except np.linalg.LinAlgError:
        return 1e10
    a = np.linalg.solve(K, ysn)
    return 0.5 * ysn @ a + np.log(np.diag(L)).sum() + 6 * np.log(2 * np.pi)
bounds = [(np.log(1e-2), np.log(1e2)), (np.log(1e-2), np.log(1e2)), (np.log(1e-6), 0.0)]
best = min((minimize(neg_lml, np.array(s), method='L-BFGS-B', bounds=bounds) for s in
            itertools.product(np.linspace(-4, 4, 5), np.linspace(-4, 4, 5), np.linspace(-13, 0, 4))), key=lambda r: r.fun)
print("max lml", repr(-best.fun), "at", np.exp(best.x).tolist())
