"""Reference numbers for tests/WeakToStrong.Tests/Evaluation/WinRateTests.cs (numpy only).

Length-controlled win rate for one model, written independently of the C# code: AlpacaEval's
glm_winrate.py formulation, where each instruction becomes two rows (label 1 with weight p, label 0
with weight 1 - p), fitted as a weighted binary logistic regression with an L2 penalty
(theta^2 + phi^2) / (2C), C = 1e4, on features [1, tanh(dlen / std(dlen, ddof=1))], dlen = model -
reference. Solved by Newton's method in matrix form; prints the stationarity residual as a check.
Run: /usr/bin/python3 tests/reference/lc_winrate_reference.py
"""
import numpy as np

C = 1e4

PREFERENCES = [1, 0, 0.5, 1, 1, 0, 1, 0.5, 0, 1, 1, 0, 0.25, 1, 0, 1, 0.5, 1, 0, 1, 1, 0.9, 0, 1]
MODEL_LENGTHS = [812, 140, 455, 1203, 640, 95, 980, 310, 220, 1500, 701, 66,
                 530, 888, 400, 1024, 377, 615, 150, 1320, 509, 760, 240, 930]
REFERENCE_LENGTHS = [600, 420, 455, 700, 690, 300, 512, 330, 800, 900, 250, 410,
                     480, 1000, 120, 640, 377, 300, 610, 1111, 530, 500, 260, 400]


def fit(p, m, r):
    p = np.asarray(p, dtype=float)
    d = np.asarray(m, dtype=float) - np.asarray(r, dtype=float)
    s = d.std(ddof=1)
    x = np.tanh(d / s)
    X = np.column_stack([np.ones_like(x), x])
    # Duplicated rows as in alpaca_eval's fit_LogisticRegressionCV(is_ytrue_proba=True).
    Xd = np.vstack([X, X])
    yd = np.concatenate([np.ones_like(p), np.zeros_like(p)])
    wd = np.concatenate([p, 1 - p])
    w = np.zeros(2)
    for _ in range(100):
        mu = 1 / (1 + np.exp(-Xd @ w))
        grad = Xd.T @ (wd * (mu - yd)) + w / C
        hess = (Xd * (wd * mu * (1 - mu))[:, None]).T @ Xd + np.eye(2) / C
        step = np.linalg.solve(hess, grad)
        w = w - step
        if np.max(np.abs(step)) < 1e-14:
            break
    mu = 1 / (1 + np.exp(-Xd @ w))
    residual = np.max(np.abs(Xd.T @ (wd * (mu - yd)) + w / C))
    theta, phi = w
    return theta, phi, 1 / (1 + np.exp(-theta)), p.mean(), s, residual


theta, phi, lc, raw, s, residual = fit(PREFERENCES, MODEL_LENGTHS, REFERENCE_LENGTHS)
print(f"std(dlen)  = {s!r}")
print(f"theta      = {theta!r}")
print(f"phi        = {phi!r}")
print(f"lc         = {lc!r}")
print(f"raw        = {raw!r}")
print(f"|gradient| = {residual:.3e}")

# Separated data, where only the penalty keeps the fit finite.
print("all wins, first 12 instructions:", fit([1.0] * 12, MODEL_LENGTHS[:12], REFERENCE_LENGTHS[:12])[:3])
offsets = [50, 120, 300, 80, 200, 60, 150, 90, 250, 70, 110, 180, 40, 220, 130, -60, -140, -90, -200, -40]
reference = [400 + 10 * i for i in range(20)]
model = [r + o for r, o in zip(reference, offsets)]
print("wins exactly when longer:", fit([1.0 if o > 0 else 0.0 for o in offsets], model, reference)[:3])
