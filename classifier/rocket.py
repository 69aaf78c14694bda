"""Random convolutional kernels on the folded views: MiniRocket features with a linear head.

MiniRocket (Dempster, Schmidt & Webb 2021, "MINIROCKET: A Very Fast (Almost) Deterministic
Transform for Time Series Classification", KDD '21) convolves a series with 84 fixed kernels of
length 9 (weights -1 at six positions, 2 at three), each at a few dilations, and keeps the
proportion of positive values (PPV) of each output against a few biases. The biases are
quantiles of the convolution of random training examples, so the transform is fitted, cheap
and (almost) deterministic. This is a numpy implementation of that transform (the kernels,
dilations, low-discrepancy quantiles and alternating padding of the reference code), written
for the short views of this project (61-201 bins), where it needs no compiler.

:class:`MiniRocket` transforms one family of series ``(n, length)``. :class:`ViewRocketClassifier`
is the model family of the ensemble (:mod:`classifier.estimators`, ``rocket``): it reads the
global and local views from the tail columns of the design matrix
(:func:`classifier.dataset.design_matrix`), builds MiniRocket features of each, and fits a
standardised, class-balanced logistic regression on them (optionally with the scalar columns
too), with time-reversed and shifted copies of the views as optional augmentation.

Nothing here imports Django.
"""
from __future__ import annotations

from itertools import combinations

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, TransformerMixin
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.preprocessing import StandardScaler
from sklearn.utils.validation import check_is_fitted, validate_data

#: Kernel length and the 84 positions of the three weights 2 (the others are -1).
KERNEL_LENGTH = 9
KERNEL_INDICES: np.ndarray = np.array(list(combinations(range(KERNEL_LENGTH), 3)), dtype=np.intp)
N_KERNELS = len(KERNEL_INDICES)  # 84


def _quantiles(n: int) -> np.ndarray:
    """Low-discrepancy quantiles in (0, 1): the fractional parts of k * golden ratio, k = 1..n."""
    return (np.arange(1, n + 1) * ((np.sqrt(5) + 1) / 2)) % 1


def _fit_dilations(length: int, n_features: int, max_dilations_per_kernel: int) -> tuple[np.ndarray, np.ndarray]:
    """Dilations and the number of features (biases) per kernel at each dilation.

    As in the reference MiniRocket: dilations spread exponentially up to the one whose kernel
    spans the whole series, each kernel's share of ``n_features`` split over them.
    """
    per_kernel = max(1, n_features // N_KERNELS)
    true_max = min(per_kernel, max_dilations_per_kernel)
    multiplier = per_kernel / true_max
    max_exponent = np.log2(max(length - 1, 1) / (KERNEL_LENGTH - 1))
    max_exponent = max(max_exponent, 0.0)
    dilations, counts = np.unique(
        np.floor(np.logspace(0, max_exponent, true_max, base=2)).astype(np.int64), return_counts=True)
    counts = (counts * multiplier).astype(np.int64)
    remainder = per_kernel - counts.sum()
    i = 0
    while remainder > 0:
        counts[i] += 1
        remainder -= 1
        i = (i + 1) % len(counts)
    return dilations, counts


#: Kernel weights (9, 84): -1 everywhere, 2 at the kernel's three positions.
KERNEL_WEIGHTS: np.ndarray = np.full((KERNEL_LENGTH, N_KERNELS), -1.0, dtype=np.float32)
KERNEL_WEIGHTS[KERNEL_INDICES.T, np.arange(N_KERNELS)[None, :]] = 2.0


def _convolve(X: np.ndarray, dilation: int) -> np.ndarray:
    """All 84 kernels at one dilation, zero padding ("same" length).

    Parameters
    ----------
    X : ndarray (n, length), float32
    dilation : int

    Returns
    -------
    C : ndarray (n, 84, length), float32
        ``C[i, k, t] = sum_j w_kj X[i, t + (j - 4) * dilation]`` (0 outside the series).
    """
    n, length = X.shape
    shifted = np.zeros((n, KERNEL_LENGTH, length), dtype=np.float32)
    for j in range(KERNEL_LENGTH):
        offset = (j - KERNEL_LENGTH // 2) * dilation  # tap j reads X[t + offset]
        if offset >= 0:
            if offset < length:
                shifted[:, j, :length - offset] = X[:, offset:]
        elif -offset < length:
            shifted[:, j, -offset:] = X[:, :length + offset]
    # One small batched matrix product (BLAS) instead of 84 x 9 array additions.
    return np.matmul(KERNEL_WEIGHTS.T, shifted)


class MiniRocket(TransformerMixin, BaseEstimator):
    """MiniRocket transform of equal-length series (numpy implementation).

    Parameters
    ----------
    n_features : int
        Approximate number of output features (rounded down to a multiple of 84).
    max_dilations_per_kernel : int
        Upper bound on the number of dilations per kernel.
    batch_size : int
        Rows convolved at once (memory: about ``batch_size * 84 * length * 4`` bytes).
    random_state : int
        Seed of the choice of the training examples the biases come from.

    Attributes
    ----------
    dilations_ : ndarray (n_dilations,) of int
    features_per_dilation_ : ndarray (n_dilations,) of int
        Biases per kernel at each dilation.
    biases_ : list of ndarray (84, features_per_dilation_[i]), float32
    n_features_out_ : int

    Notes
    -----
    NaN bins (missing data) are read as 0, the out-of-transit level of the normalised views.
    """

    def __init__(self, n_features: int = 2000, max_dilations_per_kernel: int = 32, batch_size: int = 512,
                 random_state: int = 0):
        self.n_features = n_features
        self.max_dilations_per_kernel = max_dilations_per_kernel
        self.batch_size = batch_size
        self.random_state = random_state

    def fit(self, X, y=None):
        """Choose dilations and biases from ``X`` (n, length); ``y`` is ignored."""
        X = self._series(X, reset=True)
        if X.shape[1] < KERNEL_LENGTH:
            raise ValueError(f"MiniRocket needs series of at least {KERNEL_LENGTH} points; got {X.shape[1]}")
        if self.n_features < N_KERNELS:
            raise ValueError(f"n_features must be at least {N_KERNELS}; got {self.n_features}")
        self.dilations_, self.features_per_dilation_ = _fit_dilations(
            X.shape[1], self.n_features, self.max_dilations_per_kernel)
        rng = np.random.default_rng(self.random_state)
        quantiles = _quantiles(N_KERNELS * int(self.features_per_dilation_.sum()))
        self.biases_ = []
        start = 0
        for dilation, count in zip(self.dilations_, self.features_per_dilation_):
            # One random training example per kernel, as in the reference implementation.
            examples = X[rng.integers(0, len(X), size=N_KERNELS)]
            C = _convolve(examples, int(dilation))  # (84 examples, 84 kernels, length)
            conv = C[np.arange(N_KERNELS), np.arange(N_KERNELS)]  # (84, length): example k, kernel k
            q = quantiles[start:start + N_KERNELS * count].reshape(N_KERNELS, count)
            start += N_KERNELS * count
            self.biases_.append(np.stack([np.quantile(conv[k], q[k]) for k in range(N_KERNELS)]).astype(np.float32))
        self.n_features_out_ = N_KERNELS * int(self.features_per_dilation_.sum())
        return self

    def transform(self, X) -> np.ndarray:
        """PPV features, shape (n, ``n_features_out_``), float32, values in [0, 1]."""
        check_is_fitted(self, "biases_")
        X = self._series(X, reset=False)
        out = np.empty((len(X), self.n_features_out_), dtype=np.float32)
        step = max(1, int(self.batch_size))
        for lo in range(0, len(X), step):
            out[lo:lo + step] = self._transform_batch(X[lo:lo + step])
        return out

    def _transform_batch(self, X: np.ndarray) -> np.ndarray:
        blocks = []
        n, length = X.shape
        kernels = np.arange(N_KERNELS)
        for d_index, (dilation, biases) in enumerate(zip(self.dilations_, self.biases_)):
            C = _convolve(X, int(dilation))  # (n, 84, length)
            padding = (KERNEL_LENGTH - 1) * int(dilation) // 2
            count = biases.shape[1]
            ppv = np.empty((n, N_KERNELS, count), dtype=np.float32)
            # Alternate kernels use only the part of the output computed without padding
            # (as the reference does); all of it when that part would be empty.
            unpadded = (kernels + d_index) % 2 == 1
            if 2 * padding >= length:
                unpadded[:] = False
            for mask, part in ((~unpadded, slice(None)), (unpadded, slice(padding, length - padding))):
                if mask.any():
                    Cp = C[:, mask, part]  # (n, kernels, used length)
                    above = np.count_nonzero(Cp[:, :, None, :] > biases[mask][None, :, :, None], axis=3)
                    ppv[:, mask] = above / np.float32(Cp.shape[2])
            blocks.append(ppv.reshape(n, -1))
        return np.concatenate(blocks, axis=1)

    def _series(self, X, reset: bool) -> np.ndarray:
        X = validate_data(self, X, reset=reset, ensure_all_finite="allow-nan", dtype=np.float64)
        return np.nan_to_num(X, nan=0.0, posinf=0.0, neginf=0.0).astype(np.float32)


class ViewRocketClassifier(ClassifierMixin, BaseEstimator):
    """MiniRocket features of the global and local views with a logistic-regression head.

    Parameters
    ----------
    view_lengths : tuple of int
        Lengths of the view blocks at the end of each row of ``X``, in order (default: the
        design matrix's downsampled global view, 67 bins, then the local view, 61 bins).
    n_features : int
        MiniRocket features per view.
    C : float
        Inverse L2 penalty of the logistic regression (on standardised features).
    use_scalars : bool
        Also feed the columns before the views (median-imputed, standardised) to the head.
    augment : {"none", "flip", "shift", "flip+shift"}
        Training copies of every row: ``flip`` adds the time-reversed views (a transit read
        backwards is still a transit of the same kind), ``shift`` the views moved by one bin
        each way; scalar columns are copied unchanged.
    max_iter : int
        Iterations of the logistic regression.
    random_state : int
    batch_size : int
        Rows per MiniRocket batch.

    Attributes
    ----------
    classes_ : ndarray (n_classes,)
    rockets_ : list of MiniRocket, one per view
    scaler_, head_ : fitted StandardScaler and LogisticRegression
    imputer_ : SimpleImputer or None
    """

    def __init__(self, view_lengths: tuple[int, ...] = (67, 61), n_features: int = 1000, C: float = 0.003,
                 use_scalars: bool = False, augment: str = "none", max_iter: int = 300, random_state: int = 0,
                 batch_size: int = 512):
        self.view_lengths = view_lengths
        self.n_features = n_features
        self.C = C
        self.use_scalars = use_scalars
        self.augment = augment
        self.max_iter = max_iter
        self.random_state = random_state
        self.batch_size = batch_size

    def _split(self, X: np.ndarray) -> tuple[np.ndarray, list[np.ndarray]]:
        total = int(sum(self.view_lengths))
        if X.shape[1] < total:
            raise ValueError(f"ViewRocketClassifier needs the {total} view columns {tuple(self.view_lengths)} at the "
                             f"end of X; got only {X.shape[1]} columns")
        views, stop = [], X.shape[1]
        for length in reversed(self.view_lengths):
            views.insert(0, X[:, stop - length:stop])
            stop -= length
        return X[:, :stop], views

    def _features(self, scalars: np.ndarray, views: list[np.ndarray]) -> np.ndarray:
        blocks = [rocket.transform(v) for rocket, v in zip(self.rockets_, views)]
        if self.imputer_ is not None:
            blocks.append(self.imputer_.transform(scalars).astype(np.float32))
        return np.hstack(blocks)

    def fit(self, X, y):
        """Fit on the design matrix ``X`` (n, d) and labels ``y`` (n,)."""
        if self.augment not in ("none", "flip", "shift", "flip+shift"):
            raise ValueError(f"augment must be none, flip, shift or flip+shift; got {self.augment!r}")
        X, y = validate_data(self, X, y, ensure_all_finite="allow-nan")
        self.classes_ = np.unique(y)
        scalars, views = self._split(X)
        copies = [views]
        if "flip" in self.augment:
            copies.append([v[:, ::-1] for v in views])
        if "shift" in self.augment:
            copies += [[_shift(v, s) for v in views] for s in (-1, 1)]
        aug_views = [np.vstack([c[i] for c in copies]) for i in range(len(views))]
        aug_scalars = np.vstack([scalars] * len(copies))
        aug_y = np.concatenate([y] * len(copies))
        self.rockets_ = [
            MiniRocket(self.n_features, batch_size=self.batch_size, random_state=self.random_state + i).fit(v)
            for i, v in enumerate(views)
        ]
        self.imputer_ = None
        if self.use_scalars and scalars.shape[1]:
            self.imputer_ = SimpleImputer(strategy="median", keep_empty_features=True).fit(scalars)
        F = self._features(aug_scalars, aug_views)
        self.scaler_ = StandardScaler().fit(F)
        self.head_ = LogisticRegression(C=self.C, class_weight="balanced", max_iter=self.max_iter, tol=1e-3,
                                        random_state=self.random_state)
        self.head_.fit(self.scaler_.transform(F), aug_y)
        return self

    def predict_proba(self, X) -> np.ndarray:
        """Class probabilities (n, n_classes), columns ``classes_``."""
        check_is_fitted(self, "head_")
        X = validate_data(self, X, reset=False, ensure_all_finite="allow-nan")
        scalars, views = self._split(X)
        return self.head_.predict_proba(self.scaler_.transform(self._features(scalars, views)))

    def predict(self, X) -> np.ndarray:
        """Most probable class per row (n,)."""
        return self.classes_[np.argmax(self.predict_proba(X), axis=1)]


def _shift(views: np.ndarray, step: int) -> np.ndarray:
    """Views moved by ``step`` bins along time, the vacated edge bin repeated (n, length)."""
    out = np.roll(views, step, axis=1)
    if step > 0:
        out[:, :step] = views[:, :1]
    elif step < 0:
        out[:, step:] = views[:, -1:]
    return out
