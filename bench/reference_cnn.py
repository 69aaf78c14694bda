"""Reference point for the TESS targets: an Astronet-Triage-style 1-D CNN, same split, same run.

Not part of the product (PyTorch is not a dependency): it answers "is the triage AP target
reachable on these labels at all?". It trains a small two-tower 1-D CNN (global + local view,
plus five catalog scalars; random left-right flips as augmentation, as Yu et al. 2019) on the
Astronet-Triage train split, averages ``--seeds`` networks, and prints on the val split the AP
of the CNN, of the project's calibrated ensemble fitted in the same run, and of their average.

    python bench/reference_cnn.py [--seeds 3] [--epochs 25]

Needs ``torch`` (``pip install torch==2.13.0``); skips with a message without it. Not run by
``make bench`` (``bench_*.py`` only): about 5 CPU minutes per seed on this machine.
"""
from __future__ import annotations

import sys

import numpy as np
import pandas as pd
from _common import Stopwatch, astronet_dir, astronet_splits, bench_parser, metrics_line

from classifier.evaluation import classification_metrics
from classifier.training import VettingEnsemble, score

#: Class order of the network's outputs.
CNN_CLASSES = ["PC", "EB", "J"]


def catalog_inputs(table: pd.DataFrame) -> np.ndarray:
    """Five standardised catalog scalars (n, 5): log SNR, log period, log depth, Tmag, log duration."""
    cols = np.column_stack([
        np.log10(table.snr.clip(lower=1)), np.log10(table.period_days), np.log10(table.transit_depth_ppm.clip(lower=1)),
        table.tmag, np.log10(table.duration_days * 24),
    ]).astype(np.float32)
    return np.nan_to_num((cols - np.nanmean(cols, 0)) / np.nanstd(cols, 0))


def train_cnn(torch, gv, lv, sc, y, seed: int, epochs: int):
    """Fit one network on views gv (n, 201), lv (n, 61), scalars sc (n, 5), labels y (n,) in 0..2."""
    nn = torch.nn
    torch.manual_seed(seed)

    def block(i, o):
        return nn.Sequential(nn.Conv1d(i, o, 5, padding=2), nn.ReLU(), nn.Conv1d(o, o, 5, padding=2), nn.ReLU(),
                             nn.MaxPool1d(3, 2))

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.g = nn.Sequential(block(1, 16), block(16, 32), block(32, 64), block(64, 64),
                                   nn.AdaptiveMaxPool1d(4), nn.Flatten())
            self.l = nn.Sequential(block(1, 16), block(16, 32), nn.AdaptiveMaxPool1d(4), nn.Flatten())
            self.h = nn.Sequential(nn.Linear(64 * 4 + 32 * 4 + sc.shape[1], 128), nn.ReLU(), nn.Dropout(0.3),
                                   nn.Linear(128, 128), nn.ReLU(), nn.Linear(128, 3))

        def forward(self, g, loc, c):
            return self.h(torch.cat([self.g(g[:, None]), self.l(loc[:, None]), c], 1))

    net = Net()
    opt = torch.optim.Adam(net.parameters(), 1e-3, weight_decay=1e-5)
    G, L, C, Y = (torch.tensor(a) for a in (gv, lv, sc, y))
    counts = np.bincount(y, minlength=3)
    weight = torch.tensor(np.sqrt(counts.sum() / counts / 3), dtype=torch.float32)  # soft class balance
    loss_fn = nn.CrossEntropyLoss(weight=weight)
    for _ in range(epochs):
        net.train()
        perm = torch.randperm(len(Y))
        for i in range(0, len(Y), 64):
            b = perm[i:i + 64]
            flip = (torch.rand(len(b)) < 0.5)[:, None]
            g = torch.where(flip, G[b].flip(1), G[b])
            loc = torch.where(flip, L[b].flip(1), L[b])
            opt.zero_grad()
            loss_fn(net(g, loc, C[b]), Y[b]).backward()
            opt.step()
    net.eval()
    return net


def main() -> int:
    parser = bench_parser(__doc__, quick=None)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--epochs", type=int, default=25)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    try:
        import torch
    except ImportError:
        print("SKIP reference_cnn: PyTorch is not installed (pip install torch==2.13.0)")
        return 0
    src = astronet_dir()
    if src is None:
        return 0
    torch.set_num_threads(args.threads)
    table = pd.read_csv(src / "candidates.csv")
    with np.load(src / "views.npz") as npz:
        gv = np.nan_to_num(npz["global_view"]).astype(np.float32)
        lv = np.nan_to_num(npz["local_view"]).astype(np.float32)
    sc = catalog_inputs(table)
    y = table.label_4class.map({"PC": 0, "EB": 1, "J": 2, "O": 2}).to_numpy()
    tr, va = (table.split == "train").to_numpy(), (table.split == "val").to_numpy()

    with Stopwatch() as cnn_time:
        nets = [train_cnn(torch, gv[tr], lv[tr], sc[tr], y[tr], seed, args.epochs) for seed in range(args.seeds)]
        with torch.no_grad():
            cnn = np.mean([torch.softmax(n(torch.tensor(gv[va]), torch.tensor(lv[va]), torch.tensor(sc[va])), 1).numpy()
                           for n in nets], axis=0).astype(np.float64)
        cnn /= cnn.sum(axis=1, keepdims=True)  # float32 softmax rows sum to 1 only within ~1e-7

    train, val = astronet_splits(src, "train", "val")
    with Stopwatch() as ens_time:
        s = score(VettingEnsemble(random_state=0, n_jobs=2).fit(train.X, train.y, train.groups), val.X)
    ens = s.proba[:, [list(s.classes).index(c) for c in CNN_CLASSES]]
    if list(val.candidate_ids) != table.candidate_id[va].astype(str).tolist():
        raise RuntimeError("val rows of the loader and of the CSV are not in the same order")

    for name, proba in (("reference CNN", cnn), ("project ensemble", ens), ("average of both", (cnn + ens) / 2)):
        print(metrics_line(name, classification_metrics(val.y, proba, CNN_CLASSES)))
    print(f"CNN: {args.seeds} seeds x {args.epochs} epochs in {cnn_time.wall:.0f} s; "
          f"ensemble fit+score {ens_time.wall:.0f} s")
    print("Yu et al. 2019 (their test split): triage AP 0.970, planet AP 0.693")
    return 0


if __name__ == "__main__":
    sys.exit(main())
