"""The metric functions of the evaluation suite: numpy in, plain JSON-ready results out.

Embeddings are float arrays `[n, dim]` (one row per clip), classifier outputs are probabilities
`[n, classes]` and audio is float32 `[n, samples]` in [-1, 1], as everywhere in sonogen. Every
function that returns a dict returns only Python floats, ints, bools, strings, None, lists and
dicts, with the sample sizes it used (`n`, `n_generated`, ...) and, where one applies, a standard
error or a confidence interval, so the dict can go straight into metrics.json.

What is measured (DESIGN.md, "Evaluation"):

- quality: `fad` (Fréchet distance between Gaussians fitted to embeddings), `fad_infinity` (FAD
  extrapolated to an infinite generated set), `inception_score` and `label_accuracy` (with its
  per-label view and confusion counts);
- diversity: `ndb` (number of statistically different bins) and `pairwise_diversity`;
- memorization: `memorization` (nearest training clip of each generated clip, flagged when it is
  closer than any real held-out clip gets);
- reconstruction: `si_sdr`, `log_mel_l1` and `reconstruction_metrics`;
- sanity: `signal_checks` (NaN, silent and clipped clips, loudness).
"""

from __future__ import annotations

import logging
import math
import warnings
from typing import Any

import numpy as np
import scipy.linalg
import scipy.spatial.distance
import scipy.special
import scipy.stats

from sonogen.errors import SonogenError

__all__ = [
    "mean_and_stderr",
    "gaussian_fit",
    "frechet_distance",
    "fad",
    "fad_infinity",
    "inception_score",
    "label_accuracy",
    "ndb",
    "pairwise_diversity",
    "memorization",
    "closest_pairs",
    "si_sdr",
    "log_mel_l1",
    "reconstruction_metrics",
    "signal_checks",
]

log = logging.getLogger(__name__)

# FAD-infinity: the smallest subset is at least this many times the embedding dim. Near n = dim
# the FAD of a subset stops being linear in 1 / n (at n = dim + 2 it is ~30x the full-set value),
# and a line through such points extrapolates to a negative intercept. 1.5 keeps the 176-dim
# `stats` embedding usable at the default n = 512 (subsets of 264..512 clips); on Gaussians of
# that dim its intercept lay within the spread of a 2 x dim floor's (BENCHMARKS.md, FAD-infinity).
FAD_INFINITY_MIN_SIZE_PER_DIM = 1.5
# ... and the largest subset (all N clips) must be at least this many times the smallest, so the
# fit spans enough of the 1 / n axis for an intercept worth reporting.
FAD_INFINITY_MIN_SIZE_RANGE = 1.5
# Inception Score: the fewest clips in one of its splits (one clip alone always scores 1).
IS_MIN_CLIPS_PER_SPLIT = 10
# NDB: the reference must give each k-means bin at least this many clips on average; a smaller
# reference gets fewer bins (the z-test's normal approximation needs a few clips per bin).
NDB_MIN_CLIPS_PER_BIN = 10


def mean_and_stderr(values: Any) -> dict[str, Any]:
    """Return {"mean", "stderr", "median", "n"} of a 1-D sequence of numbers.

    `stderr` is the sample standard deviation (ddof 1) over sqrt(n): None when n < 2; every field
    but "n" is None when n == 0. Non-finite values are kept (and make the mean non-finite), so
    filter them first if they mean "failed".
    """
    values = np.asarray(values, dtype=np.float64).reshape(-1)
    n = int(values.size)
    if n == 0:
        return {"mean": None, "stderr": None, "median": None, "n": 0}
    stderr = float(values.std(ddof=1) / math.sqrt(n)) if n > 1 else None
    return {
        "mean": float(values.mean()),
        "stderr": stderr,
        "median": float(np.median(values)),
        "n": n,
    }


def _embeddings(array: Any, name: str, metric: str, minimum: int = 1) -> np.ndarray:
    """Return `array` as float64 `[n, dim]`, checked: finite and at least `minimum` rows."""
    embeddings = np.asarray(array, dtype=np.float64)
    if embeddings.ndim != 2:
        raise ValueError(f"{name} embeddings must be [n, dim], got shape {embeddings.shape}")
    bad_rows = int((~np.isfinite(embeddings).all(axis=1)).sum())
    if bad_rows:
        raise SonogenError(
            f"{metric}: {bad_rows} of {len(embeddings)} {name} embeddings contain NaN or inf; "
            f"drop those clips before computing it (signal_checks counts the clips with NaN)"
        )
    if len(embeddings) < minimum:
        raise SonogenError(
            f"{metric}: {len(embeddings)} {name} clip(s), it needs at least {minimum}; "
            f"evaluate more {name} clips"
        )
    return embeddings


def _same_dim(first: np.ndarray, second: np.ndarray, names: str) -> None:
    if first.shape[1] != second.shape[1]:
        raise ValueError(
            f"{names} embeddings differ in dim ({first.shape[1]} vs {second.shape[1]}); "
            f"embed both with the same embedding"
        )


def _reference_scaling(reference: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Return the per-dim mean and std `[dim]` of `reference`, a std of 0 replaced by 1."""
    mean = reference.mean(axis=0)
    std = reference.std(axis=0)
    return mean, np.where(std > 0, std, 1.0)


def gaussian_fit(embeddings: Any) -> tuple[np.ndarray, np.ndarray]:
    """Return the mean `[dim]` and unbiased covariance `[dim, dim]` (float64) of `[n, dim]` rows."""
    embeddings = _embeddings(embeddings, "the", "a Gaussian fit", minimum=2)
    covariance = np.atleast_2d(np.cov(embeddings, rowvar=False))
    return embeddings.mean(axis=0), covariance


def frechet_distance(
    mean_a: np.ndarray,
    covariance_a: np.ndarray,
    mean_b: np.ndarray,
    covariance_b: np.ndarray,
    eps: float = 1e-6,
) -> float:
    """Return the Fréchet distance between N(mean_a, covariance_a) and N(mean_b, covariance_b).

    `||mean_a - mean_b||^2 + Tr(A + B - 2 sqrtm(A B))`, means `[dim]`, covariances `[dim, dim]`,
    in squared embedding units. The matrix square root is scipy's, as in the FID/FAD reference
    code: when it is not finite (a singular product), `eps * I` is added to both covariances
    and it is taken again; a tiny imaginary part (rounding) is dropped, a large one raises
    ValueError. A tiny negative result (rounding, equal Gaussians) is returned as 0.
    """
    mean_a = np.atleast_1d(mean_a).astype(np.float64)
    mean_b = np.atleast_1d(mean_b).astype(np.float64)
    covariance_a = np.atleast_2d(covariance_a).astype(np.float64)
    covariance_b = np.atleast_2d(covariance_b).astype(np.float64)
    dim = mean_a.shape[0]
    if mean_b.shape != (dim,) or {covariance_a.shape, covariance_b.shape} != {(dim, dim)}:
        raise ValueError(
            f"means {mean_a.shape}, {mean_b.shape} and covariances {covariance_a.shape}, "
            f"{covariance_b.shape} must be [dim] and [dim, dim] for one dim"
        )
    with warnings.catch_warnings():
        # A singular product (fewer clips than dims) is normal here: the result is checked below.
        warnings.simplefilter("ignore", scipy.linalg.LinAlgWarning)
        root = scipy.linalg.sqrtm(covariance_a @ covariance_b)
    if not np.isfinite(root).all():
        log.warning(
            "Fréchet distance: singular covariance product; adding %g to the diagonals", eps
        )
        offset = eps * np.eye(dim)
        root = scipy.linalg.sqrtm((covariance_a + offset) @ (covariance_b + offset))
    if np.iscomplexobj(root):
        # Rounding leaves an imaginary part near 0 on a product of covariances (whose eigenvalues
        # are real and non-negative); one the size of the entries means the inputs are not
        # covariances. The tolerance is relative to the root's own scale.
        scale = max(1.0, float(np.abs(np.diagonal(root).real).max()))
        if not np.allclose(np.diagonal(root).imag, 0.0, atol=1e-3 * scale):
            largest = float(np.abs(np.diagonal(root).imag).max())
            raise ValueError(
                f"Fréchet distance: sqrtm(A B) has an imaginary part of {largest:.3g} on its "
                f"diagonal; the covariances are not symmetric positive semi-definite"
            )
        root = root.real
    difference = mean_a - mean_b
    distance = float(
        difference @ difference
        + np.trace(covariance_a)
        + np.trace(covariance_b)
        - 2.0 * np.trace(root)
    )
    return max(distance, 0.0)


class _FrechetToReference:
    """Fréchet distances from many Gaussians to one reference, for bootstraps and subsets.

    Uses `Tr sqrtm(A B) = Tr sqrtm(B^1/2 A B^1/2)`, the square root of a symmetric PSD matrix:
    its eigenvalues come from `eigvalsh`, about 20x faster than `scipy.linalg.sqrtm` at dim 300
    and free of imaginary rounding. `B^1/2` is computed once. Agrees with `frechet_distance` to
    rounding (the tests check it).
    """

    def __init__(self, mean: np.ndarray, covariance: np.ndarray) -> None:
        self.mean = mean
        self.trace = float(np.trace(covariance))
        eigenvalues, eigenvectors = np.linalg.eigh(covariance)
        self.root = (eigenvectors * np.sqrt(np.clip(eigenvalues, 0.0, None))) @ eigenvectors.T

    def __call__(self, mean: np.ndarray, covariance: np.ndarray) -> float:
        inner = self.root @ covariance @ self.root
        eigenvalues = np.linalg.eigvalsh((inner + inner.T) / 2.0)
        trace_root = float(np.sqrt(np.clip(eigenvalues, 0.0, None)).sum())
        difference = mean - self.mean
        distance = difference @ difference + np.trace(covariance) + self.trace - 2.0 * trace_root
        return max(float(distance), 0.0)


def _fit_rows(embeddings: np.ndarray, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    subset = embeddings[rows]
    return subset.mean(axis=0), np.atleast_2d(np.cov(subset, rowvar=False))


def fad(
    generated: Any, reference: Any, jackknife_groups: int = 20, seed: int = 0
) -> dict[str, Any]:
    """Return the Fréchet Audio Distance between two sets of embeddings (lower is better).

    generated: `[n_generated, dim]`, reference: `[n_reference, dim]` embeddings (each set needs
    2 clips or more). Returns {"value", "n_generated", "n_reference", "dim", "stderr", "ci95",
    "jackknife_groups"}: "value" is `frechet_distance` of the two Gaussian fits, in squared
    embedding units. "stderr" is a delete-a-group jackknife estimate of its standard error over
    the generated clips (split at random, seeded with `seed`, into `jackknife_groups` groups, each
    left out in turn; the reference fit held fixed) and "ci95" is value -/+ 1.96 stderr, the lower
    end clipped at 0; both None with `jackknife_groups` < 2 or fewer than 3 generated clips.

    Why a jackknife and not a bootstrap: FAD is biased upwards by a small n (see `fad_infinity`),
    and a bootstrap resample with its repeated clips is effectively smaller, so its FADs sit well
    above "value" (at n = 3 x dim the whole percentile interval lay above it) and their spread
    overstated FAD's sampling spread 1.6 to 2 times; the jackknife's estimate came within 1.0 to
    1.4 times of the spread over independent draws (dims 8 to 100). FAD still depends on n:
    compare sets of the same n, or FAD-infinity.
    """
    generated = _embeddings(generated, "generated", "FAD", minimum=2)
    reference = _embeddings(reference, "reference", "FAD", minimum=2)
    _same_dim(generated, reference, "generated and reference")
    count, dim = generated.shape
    if count <= dim:
        log.warning(
            "FAD with %d generated clips and %d embedding dims: the covariance is singular and "
            "FAD strongly biased; evaluate more clips than dims",
            count,
            dim,
        )
    reference_mean, reference_covariance = gaussian_fit(reference)
    value = frechet_distance(*gaussian_fit(generated), reference_mean, reference_covariance)
    groups = min(int(jackknife_groups), count)
    stderr = ci95 = None
    if groups >= 2 and count >= 3:
        distance_to_reference = _FrechetToReference(reference_mean, reference_covariance)
        order = np.random.default_rng(seed).permutation(count)
        values = np.array(
            [
                distance_to_reference(*_fit_rows(generated, np.setdiff1d(order, left_out)))
                for left_out in np.array_split(order, groups)
            ]
        )
        stderr = float(math.sqrt((groups - 1) / groups * ((values - values.mean()) ** 2).sum()))
        ci95 = [max(value - 1.96 * stderr, 0.0), value + 1.96 * stderr]
    return {
        "value": value,
        "n_generated": int(count),
        "n_reference": int(len(reference)),
        "dim": int(dim),
        "stderr": stderr,
        "ci95": ci95,
        "jackknife_groups": int(groups) if stderr is not None else 0,
    }


def _default_fad_sizes(count: int, dim: int, steps: int = 10) -> tuple[list[int], str | None]:
    """Return the subset sizes for FAD-infinity (or [] and why there are none)."""
    # fadtk starts at 500 clips; a smaller set starts at half its size; neither below 1.5 x dim.
    smallest = max(min(500, count // 2), math.ceil(FAD_INFINITY_MIN_SIZE_PER_DIM * dim), 2)
    if count < FAD_INFINITY_MIN_SIZE_RANGE * smallest:
        needed = math.ceil(FAD_INFINITY_MIN_SIZE_RANGE * FAD_INFINITY_MIN_SIZE_PER_DIM * dim)
        return [], (
            f"{count} generated clips are too few to extrapolate FAD with {dim}-dim embeddings: "
            f"the subsets start at max(min(500, N // 2), {FAD_INFINITY_MIN_SIZE_PER_DIM} x dim) = "
            f"{smallest} clips and N must be at least {FAD_INFINITY_MIN_SIZE_RANGE} times that; "
            f"evaluate at least {max(needed, 4)} clips"
        )
    return sorted({int(size) for size in np.linspace(smallest, count, steps)}), None


def fad_infinity(
    generated: Any,
    reference: Any,
    sizes: list[int] | None = None,
    trials: int = 3,
    seed: int = 0,
) -> dict[str, Any]:
    """Return FAD-infinity: FAD extrapolated to infinitely many generated clips (lower is better).

    The protocol of Bińkowski et al. (2018) and Chung et al. (2020), as fadtk applies it to FAD
    (Gui et al. 2024, "Adapting Fréchet Audio Distance"): FAD of a random subset of n generated
    clips grows like `FAD_inf + slope / n`, so FAD is computed for subsets of several sizes
    (each size the mean over `trials` seeded draws without replacement; all N clips drawn once)
    and a least-squares line on 1 / n gives the intercept FAD_inf, an estimate free of the
    1 / n bias that makes plain FAD depend on n. The reference fit is held fixed.

    generated: `[N, dim]`, reference: `[n_reference, dim]` embeddings. `sizes` default: 10 sizes
    evenly spaced from max(min(500, N // 2), 1.5 * dim) to N (fadtk starts at 500; near n = dim
    FAD is no longer linear in 1 / n); the largest must be at least 1.5 times the
    smallest. Returns {"value" (the intercept), "slope", "stderr" (of the intercept, from the
    regression's residuals), "r2", "sizes", "fad_at_sizes", "trials", "n_generated",
    "n_reference", "dim"}. When N is too small for 3 sizes over that range, "value", "slope" and
    "stderr" are None and "reason" says why (it does not raise).
    """
    generated = _embeddings(generated, "generated", "FAD-infinity")
    reference = _embeddings(reference, "reference", "FAD-infinity", minimum=2)
    _same_dim(generated, reference, "generated and reference")
    count, dim = generated.shape
    result: dict[str, Any] = {
        "value": None,
        "slope": None,
        "stderr": None,
        "r2": None,
        "sizes": [],
        "fad_at_sizes": [],
        "trials": int(trials),
        "n_generated": int(count),
        "n_reference": int(len(reference)),
        "dim": int(dim),
    }
    if sizes is None:
        sizes, reason = _default_fad_sizes(count, dim)
        if reason:
            return {**result, "reason": reason}
    else:
        sizes = sorted({int(size) for size in sizes})
        if not sizes or sizes[0] < 2 or sizes[-1] > count:
            raise SonogenError(
                f"FAD-infinity: sizes {sizes} must lie between 2 and the {count} generated clips; "
                f"pass sizes in that range or leave sizes out for the default"
            )
    if len(sizes) < 3:
        return {**result, "reason": f"FAD-infinity needs 3 or more distinct sizes, got {sizes}"}
    distance_to_reference = _FrechetToReference(*gaussian_fit(reference))
    rng = np.random.default_rng(seed)
    values = []
    for size in sizes:
        draws = 1 if size == count else max(1, trials)
        values.append(
            np.mean(
                [
                    distance_to_reference(
                        *_fit_rows(generated, rng.choice(count, size=size, replace=False))
                    )
                    for _ in range(draws)
                ]
            )
        )
    x = 1.0 / np.asarray(sizes, dtype=np.float64)
    y = np.asarray(values)
    fit = scipy.stats.linregress(x, y)
    residual = y - (fit.intercept + fit.slope * x)
    spread = float(((y - y.mean()) ** 2).sum())
    return {
        **result,
        "value": float(fit.intercept),
        "slope": float(fit.slope),
        "stderr": float(fit.intercept_stderr),
        "r2": float(1.0 - (residual**2).sum() / spread) if spread > 0 else None,
        "sizes": [int(size) for size in sizes],
        "fad_at_sizes": [float(v) for v in values],
    }


def inception_score(probabilities: Any, splits: int = 10, seed: int = 0) -> dict[str, Any]:
    """Return the Inception Score of classifier outputs (higher is better, at most the classes).

    probabilities: `[n, classes]`, each row a distribution p(y|x) over the classes (summing to 1
    within 1e-3, else ValueError). IS = exp(E_x KL(p(y|x) || p(y))), p(y) the mean row, computed
    on each of `splits` near-equal parts of the rows (a seeded random partition), as Salimans
    et al. (2016) and the WaveGAN paper (on SC09) did. Returns {"mean", "std" (over the parts,
    ddof 0 as in their code), "stderr" (std ddof 1 / sqrt(parts), None for 1 part), "splits"
    (parts used: fewer when n < 10 x splits, so that each part has at least 10 clips), "n",
    "classes"}. K classes predicted confidently and equally often give about K; the same
    prediction for every clip gives 1.
    """
    probabilities = np.asarray(probabilities, dtype=np.float64)
    if probabilities.ndim != 2 or probabilities.shape[0] == 0 or probabilities.shape[1] == 0:
        raise ValueError(
            f"probabilities must be [n, classes] with n, classes >= 1, got {probabilities.shape}"
        )
    if not np.isfinite(probabilities).all() or (probabilities < 0).any():
        raise ValueError("probabilities must be finite and non-negative (softmax outputs)")
    sums = probabilities.sum(axis=1)
    if not np.allclose(sums, 1.0, atol=1e-3):
        worst = int(np.argmax(np.abs(sums - 1.0)))
        raise ValueError(
            f"probabilities: row {worst} sums to {sums[worst]:.6g}, not 1; pass softmax outputs "
            f"(rows that sum to 1), not logits"
        )
    count = len(probabilities)
    # a part of one clip always scores 1 (its prediction is its own mean); parts get at least
    # IS_MIN_CLIPS_PER_SPLIT clips, so small sets use fewer parts instead of meaningless ones
    parts = max(1, min(int(splits), count // IS_MIN_CLIPS_PER_SPLIT))
    # the parts are a seeded random partition: consecutive rows of an ordered set (clips sorted
    # by class, as a dataset's valid split or a folder of files named by class is) would give
    # single-class parts that each score about 1
    order = np.random.default_rng(seed).permutation(count)
    scores = []
    for part in np.array_split(probabilities[order], parts):
        marginal = part.mean(axis=0, keepdims=True)
        divergence = (scipy.special.xlogy(part, part) - scipy.special.xlogy(part, marginal)).sum(1)
        # KL is >= 0; rounding can leave -1e-17 where the rows equal their mean.
        scores.append(math.exp(max(float(divergence.mean()), 0.0)))
    scores = np.asarray(scores)
    return {
        "mean": float(scores.mean()),
        "std": float(scores.std()),
        "stderr": float(scores.std(ddof=1) / math.sqrt(parts)) if parts > 1 else None,
        "splits": int(parts),
        "n": int(count),
        "classes": int(probabilities.shape[1]),
    }


def label_accuracy(predicted: Any, asked: Any, labels: list[str]) -> dict[str, Any]:
    """Return how often a classifier's prediction is the label a clip was asked for (or has).

    predicted, asked: int label indices `[n]` into `labels` (asked < 0: no label, left out).
    Returns {"value" (share of hits), "stderr" (binomial, None for n < 2), "n", "per_label"
    ({label: share of its clips predicted as it, None when it has none}), "per_label_n" ({label:
    clips}), "confusion" ({"rows": labels asked, "columns": labels predicted, "counts": [[int]]}:
    counts[i][j] clips asked for label i and predicted as label j)}; "value" None for n = 0.
    """
    predicted = np.asarray(predicted, dtype=np.int64).reshape(-1)
    asked = np.asarray(asked, dtype=np.int64).reshape(-1)
    if predicted.shape != asked.shape:
        raise ValueError(f"predicted {predicted.shape} and asked {asked.shape} must match")
    keep = asked >= 0
    predicted, asked = predicted[keep], asked[keep]
    classes = len(labels)
    if ((asked >= classes) | (predicted < 0) | (predicted >= classes)).any():
        raise ValueError(f"label indices must lie in [0, {classes}) for {classes} labels")
    counts = np.zeros((classes, classes), dtype=np.int64)
    np.add.at(counts, (asked, predicted), 1)
    hits = predicted == asked
    count = len(hits)
    per_label_n = counts.sum(axis=1)
    return {
        "value": float(hits.mean()) if count else None,
        "stderr": float(hits.std(ddof=1) / math.sqrt(count)) if count > 1 else None,
        "n": int(count),
        "per_label": {
            label: float(counts[i, i] / per_label_n[i]) if per_label_n[i] else None
            for i, label in enumerate(labels)
        },
        "per_label_n": {label: int(per_label_n[i]) for i, label in enumerate(labels)},
        "confusion": {"rows": list(labels), "columns": list(labels), "counts": counts.tolist()},
    }


def ndb(
    generated: Any, reference: Any, k: int = 50, alpha: float = 0.05, seed: int = 0
) -> dict[str, Any]:
    """Return NDB, the number of statistically different bins (Richardson & Weiss, 2018).

    generated: `[n_generated, dim]`, reference: `[n_reference, dim]` embeddings. Both are
    standardised with the reference's per-dim mean and std; k-means (scikit-learn, seeded with
    `seed`, 4 initialisations) puts K centroids on the reference; every clip of both sets goes to
    its nearest centroid; each bin's two proportions are compared by a two-sided two-proportion
    z-test with a pooled proportion at level `alpha`. NDB counts the bins that differ; NDB/K is
    near alpha for a set drawn like the reference and near 1 for a mode-collapsed one.

    K is `k`, lowered to n_reference // 10 (at least 2) when the reference has fewer than 10
    clips per bin: "k" is the K used, "k_requested" the one asked for, and "note" says so.
    Returns {"ndb", "ndb_over_k", "k", "k_requested", "alpha", "n_generated", "n_reference",
    "reference_proportions", "generated_proportions", "different_bins", "z"}; "z" per bin is
    positive where the generated set has more clips than the reference.
    """
    from sklearn.cluster import KMeans

    generated = _embeddings(generated, "generated", "NDB")
    reference = _embeddings(reference, "reference", "NDB", minimum=4)
    _same_dim(generated, reference, "generated and reference")
    if k < 2:
        raise ValueError(f"NDB needs k >= 2 bins, got k={k}")
    if not 0.0 < alpha < 1.0:
        raise ValueError(f"NDB needs 0 < alpha < 1, got alpha={alpha}")
    bins = int(k)
    note = None
    if len(reference) < NDB_MIN_CLIPS_PER_BIN * bins:
        bins = max(2, len(reference) // NDB_MIN_CLIPS_PER_BIN)
        note = (
            f"k lowered from {k} to {bins}: {len(reference)} reference clips give fewer than "
            f"{NDB_MIN_CLIPS_PER_BIN} clips per bin"
        )
        log.info("NDB: %s", note)
    mean, std = _reference_scaling(reference)
    reference = (reference - mean) / std
    generated = (generated - mean) / std
    kmeans = KMeans(n_clusters=bins, n_init=4, random_state=seed).fit(reference)
    reference_proportions = np.bincount(kmeans.labels_, minlength=bins) / len(reference)
    generated_bins = kmeans.predict(generated)
    generated_proportions = np.bincount(generated_bins, minlength=bins) / len(generated)
    n_generated, n_reference = len(generated), len(reference)
    pooled = (n_generated * generated_proportions + n_reference * reference_proportions) / (
        n_generated + n_reference
    )
    standard_error = np.sqrt(pooled * (1.0 - pooled) * (1.0 / n_generated + 1.0 / n_reference))
    difference = generated_proportions - reference_proportions
    # A bin no clip of either set fell in has no evidence either way: z = 0.
    z = np.divide(difference, standard_error, out=np.zeros(bins), where=standard_error > 0)
    different = np.flatnonzero(np.abs(z) > scipy.stats.norm.ppf(1.0 - alpha / 2.0))
    result = {
        "ndb": int(len(different)),
        "ndb_over_k": float(len(different) / bins),
        "k": int(bins),
        "k_requested": int(k),
        "alpha": float(alpha),
        "n_generated": int(n_generated),
        "n_reference": int(n_reference),
        "reference_proportions": [float(p) for p in reference_proportions],
        "generated_proportions": [float(p) for p in generated_proportions],
        "different_bins": [int(i) for i in different],
        "z": [float(v) for v in z],
    }
    if note:
        result["note"] = note
    return result


def _mean_pairwise_distance(
    embeddings: np.ndarray, max_clips: int, rng: np.random.Generator
) -> tuple[float, float | None, int]:
    """Return the mean Euclidean distance over pairs of clips, its standard error, clips used.

    Uses all pairs of at most `max_clips` clips (a seeded sample of clips when there are more).
    The standard error is the first-order (Hoeffding) one of this U-statistic: 2 x the std of
    each clip's mean distance to the others / sqrt(clips).
    """
    if len(embeddings) > max_clips:
        embeddings = embeddings[np.sort(rng.choice(len(embeddings), max_clips, replace=False))]
    count = len(embeddings)
    distances = scipy.spatial.distance.squareform(scipy.spatial.distance.pdist(embeddings))
    per_clip = distances.sum(axis=1) / (count - 1)
    stderr = float(2.0 * per_clip.std(ddof=1) / math.sqrt(count)) if count > 2 else None
    return float(per_clip.mean()), stderr, count


def pairwise_diversity(
    generated: Any, reference: Any, max_clips: int = 1000, seed: int = 0
) -> dict[str, Any]:
    """Return how spread out the generated clips are, relative to the reference clips.

    generated: `[n_generated, dim]`, reference: `[n_reference, dim]` embeddings (2 clips or more
    each). Both are standardised with the reference's per-dim mean and std; "ratio" is the mean
    Euclidean distance between two generated clips over the same for two reference clips: about 1
    for a set as varied as the reference, well below 1 for a collapsed one, above 1 for one more
    scattered (noise). Each mean takes all pairs of up to `max_clips` clips (a seeded sample of
    `max_clips` clips when a set is larger; 1000 clips take about 0.2 s at dim 300).

    Returns {"generated_mean", "reference_mean", "ratio", "ratio_stderr", "generated_stderr",
    "reference_stderr", "n_generated", "n_reference", "clips_used_generated",
    "clips_used_reference"}; the standard errors are first-order U-statistic ones, combined
    for the ratio by the delta method (None with fewer than 3 clips in a set).
    """
    generated = _embeddings(generated, "generated", "pairwise diversity", minimum=2)
    reference = _embeddings(reference, "reference", "pairwise diversity", minimum=2)
    _same_dim(generated, reference, "generated and reference")
    if max_clips < 3:
        raise ValueError(f"max_clips={max_clips} must be at least 3")
    mean, std = _reference_scaling(reference)
    rng = np.random.default_rng(seed)
    generated_mean, generated_stderr, generated_used = _mean_pairwise_distance(
        (generated - mean) / std, max_clips, rng
    )
    reference_mean, reference_stderr, reference_used = _mean_pairwise_distance(
        (reference - mean) / std, max_clips, rng
    )
    ratio = ratio_stderr = None
    if reference_mean > 0:
        ratio = generated_mean / reference_mean
        if generated_stderr is not None and reference_stderr is not None:
            relative = (generated_stderr / generated_mean) ** 2 if generated_mean > 0 else 0.0
            relative += (reference_stderr / reference_mean) ** 2
            ratio_stderr = float(ratio * math.sqrt(relative))
    return {
        "generated_mean": generated_mean,
        "reference_mean": reference_mean,
        "ratio": ratio,
        "ratio_stderr": ratio_stderr,
        "generated_stderr": generated_stderr,
        "reference_stderr": reference_stderr,
        "n_generated": int(len(generated)),
        "n_reference": int(len(reference)),
        "clips_used_generated": int(generated_used),
        "clips_used_reference": int(reference_used),
    }


def _unit_rows(embeddings: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(embeddings, axis=1, keepdims=True)
    return embeddings / np.maximum(norms, 1e-12)


def _nearest(queries: np.ndarray, keys: np.ndarray, chunk: int = 1024) -> tuple[np.ndarray, ...]:
    """Return, for each unit row of `queries`, the index of the most similar unit row of `keys`
    and that cosine similarity (chunks of `chunk` queries bound the memory)."""
    indices = np.empty(len(queries), dtype=np.int64)
    similarities = np.empty(len(queries))
    for start in range(0, len(queries), chunk):
        block = queries[start : start + chunk] @ keys.T
        best = block.argmax(axis=1)
        indices[start : start + chunk] = best
        similarities[start : start + chunk] = block[np.arange(len(block)), best]
    return indices, similarities


def memorization(
    generated: Any, train: Any, heldout: Any, threshold_quantile: float = 1.0
) -> dict[str, Any]:
    """Return each generated clip's nearest training clip and flag the likely copies.

    generated: `[n_generated, dim]`, train: `[n_train, dim]`, heldout: `[n_heldout, dim]`
    embeddings; heldout are real clips the model never trained on. All three are standardised
    with the train set's per-dim mean and std, and similarity is the cosine between rows (1:
    the same direction). The threshold is calibrated on real new recordings: the
    `threshold_quantile` quantile (default 1.0, the maximum) of the held-out clips' similarity to
    their nearest training clip. A generated clip closer to a training clip than that (similarity
    strictly above it) is flagged: with the maximum, no held-out clip would have been flagged, so
    a flag says "closer than any genuinely new recording got". A lower quantile flags more (at
    0.99 about 1% of new recordings would be flagged too); with few held-out clips the maximum is
    a noisy estimate, so check "n_heldout". One matrix product: 1000 x 5000 clips at dim 300 take
    well under a second.

    Returns {"nearest_index", "similarity" (per generated clip, lists), "threshold",
    "threshold_quantile", "flagged_share", "flagged_count", "flagged_indices", "n_generated",
    "n_train", "n_heldout", "heldout_similarity_mean", "generated_similarity_mean"}.
    """
    generated = _embeddings(generated, "generated", "memorization")
    train = _embeddings(train, "training", "memorization", minimum=2)
    heldout = _embeddings(heldout, "held-out", "memorization")
    _same_dim(generated, train, "generated and training")
    _same_dim(heldout, train, "held-out and training")
    if not 0.0 <= threshold_quantile <= 1.0:
        raise ValueError(f"threshold_quantile={threshold_quantile} must be in [0, 1]")
    mean, std = _reference_scaling(train)
    train_units = _unit_rows((train - mean) / std)
    nearest_index, similarity = _nearest(_unit_rows((generated - mean) / std), train_units)
    _, heldout_similarity = _nearest(_unit_rows((heldout - mean) / std), train_units)
    threshold = float(np.quantile(heldout_similarity, threshold_quantile))
    flagged = np.flatnonzero(similarity > threshold)
    return {
        "nearest_index": [int(i) for i in nearest_index],
        "similarity": [float(s) for s in similarity],
        "threshold": threshold,
        "threshold_quantile": float(threshold_quantile),
        "flagged_share": float(len(flagged) / len(generated)),
        "flagged_count": int(len(flagged)),
        "flagged_indices": [int(i) for i in flagged],
        "n_generated": int(len(generated)),
        "n_train": int(len(train)),
        "n_heldout": int(len(heldout)),
        "heldout_similarity_mean": float(heldout_similarity.mean()),
        "generated_similarity_mean": float(similarity.mean()),
    }


def closest_pairs(result: dict[str, Any], count: int = 8) -> list[tuple[int, int, float]]:
    """Return the `count` (generated_index, train_index, similarity) pairs of a `memorization`
    result with the highest similarity, highest first (ties: lower generated index first)."""
    similarity = np.asarray(result["similarity"], dtype=np.float64)
    order = np.argsort(-similarity, kind="stable")[: max(0, count)]
    return [(int(i), int(result["nearest_index"][i]), float(similarity[i])) for i in order]


def _paired_audio(estimate: Any, reference: Any) -> tuple[np.ndarray, np.ndarray]:
    estimate = np.asarray(estimate, dtype=np.float64)
    reference = np.asarray(reference, dtype=np.float64)
    if estimate.shape != reference.shape:
        raise ValueError(
            f"estimate {estimate.shape} and reference {reference.shape} must have the same shape"
        )
    if estimate.ndim == 0 or estimate.shape[-1] == 0:
        raise ValueError(f"audio must be [..., samples] with samples >= 1, got {estimate.shape}")
    return estimate, reference


def si_sdr(estimate: Any, reference: Any, eps: float = 1e-8) -> np.ndarray:
    """Return the scale-invariant signal-to-distortion ratio of each clip, in dB (higher is better).

    estimate, reference: `[..., samples]`, the same shape; returns `[...]` (float64), e.g. `[n]`
    for `[n, samples]`. SI-SDR of Le Roux et al. (2019): both signals made zero-mean, the target
    is the projection `alpha * reference` of the estimate on the reference, and SI-SDR =
    10 log10(||target||^2 / ||estimate - target||^2). Rescaling the estimate leaves it unchanged;
    for a reference plus independent noise it is about the signal-to-noise ratio. `eps` (added to
    both energies) keeps a silent reference or a perfect estimate finite: a perfect one gives
    about 10 log10(||reference||^2 / eps), 110 dB for a 0.5-amplitude sine of 8000 samples.
    """
    estimate, reference = _paired_audio(estimate, reference)
    estimate = estimate - estimate.mean(axis=-1, keepdims=True)
    reference = reference - reference.mean(axis=-1, keepdims=True)
    alpha = (estimate * reference).sum(axis=-1, keepdims=True) / (
        (reference**2).sum(axis=-1, keepdims=True) + eps
    )
    target = alpha * reference
    noise = estimate - target
    return 10.0 * np.log10(((target**2).sum(axis=-1) + eps) / ((noise**2).sum(axis=-1) + eps))


def _log_mel_l1_per_clip(
    estimate: np.ndarray, reference: np.ndarray, sample_rate: int, chunk: int = 32
) -> np.ndarray:
    """Return each clip's mean |log-mel(estimate) - log-mel(reference)|: `[n, samples]` -> [n]."""
    import torch

    from sonogen.audio.features import log_mel_spectrogram

    distances = []
    with torch.no_grad():
        for start in range(0, len(estimate), chunk):
            # float32 as the models see it; chunks bound the spectrograms' memory.
            estimate_mel = log_mel_spectrogram(
                torch.from_numpy(estimate[start : start + chunk].astype(np.float32)), sample_rate
            )
            reference_mel = log_mel_spectrogram(
                torch.from_numpy(reference[start : start + chunk].astype(np.float32)), sample_rate
            )
            distances.append((estimate_mel - reference_mel).abs().mean(dim=(-2, -1)).double())
    return torch.cat(distances).numpy()


def _audio_batch(estimate: Any, reference: Any) -> tuple[np.ndarray, np.ndarray]:
    estimate, reference = _paired_audio(estimate, reference)
    if estimate.ndim == 1:
        estimate, reference = estimate[None], reference[None]
    if estimate.ndim != 2 or len(estimate) == 0:
        raise ValueError(f"audio must be [n, samples] with n >= 1, got {estimate.shape}")
    if not (np.isfinite(estimate).all() and np.isfinite(reference).all()):
        raise SonogenError(
            "reconstruction metrics: the reconstructed or reference audio contains NaN or inf; "
            "the model's decoder diverged: check its training"
        )
    return estimate, reference


def log_mel_l1(estimate: Any, reference: Any, sample_rate: int) -> float:
    """Return the mean absolute difference of log-mel spectrograms, in nats (lower is better).

    estimate, reference: `[n, samples]` (or `[samples]`) at `sample_rate` Hz, the same shape.
    The spectrograms are `sonogen.audio.features.log_mel_spectrogram`'s (natural log of the
    80-band power mel spectrogram + 1e-5, n_fft 1024, hop 256), averaged over clips, bands and
    frames. 0 when the two are equal.
    """
    estimate, reference = _audio_batch(estimate, reference)
    return float(_log_mel_l1_per_clip(estimate, reference, sample_rate).mean())


def reconstruction_metrics(estimate: Any, reference: Any, sample_rate: int) -> dict[str, Any]:
    """Return how close reconstructions are to their originals, for encode/decode families.

    estimate: the decoded clips, reference: the originals, both `[n, samples]` at `sample_rate`
    Hz. Returns {"multi_resolution_stft" (mean over clips of
    `sonogen.audio.features.multi_resolution_stft_distance` of each clip alone; lower is better),
    "multi_resolution_stft_stderr", "log_mel_l1" (see `log_mel_l1`), "log_mel_l1_stderr",
    "si_sdr": {"mean", "stderr", "median", "n"} in dB (see `si_sdr`), "n"}.
    """
    import torch

    from sonogen.audio.features import multi_resolution_stft_distance

    estimate, reference = _audio_batch(estimate, reference)
    with torch.no_grad():
        # One clip at a time: the distance's spectral convergence takes its norms over the whole
        # batch, and per clip it has a per-clip spread for the standard error.
        stft_distances = [
            float(
                multi_resolution_stft_distance(
                    torch.from_numpy(estimate[i : i + 1].astype(np.float32)),
                    torch.from_numpy(reference[i : i + 1].astype(np.float32)),
                )
            )
            for i in range(len(estimate))
        ]
    stft_summary = mean_and_stderr(stft_distances)
    mel_summary = mean_and_stderr(_log_mel_l1_per_clip(estimate, reference, sample_rate))
    return {
        "multi_resolution_stft": stft_summary["mean"],
        "multi_resolution_stft_stderr": stft_summary["stderr"],
        "log_mel_l1": mel_summary["mean"],
        "log_mel_l1_stderr": mel_summary["stderr"],
        "si_sdr": mean_and_stderr(si_sdr(estimate, reference)),
        "n": int(len(estimate)),
    }


def signal_checks(
    audio: Any,
    sample_rate: int,
    silence_db: float = -60.0,
    clip_level: float = 0.999,
    clipped_share_limit: float = 0.001,
) -> dict[str, Any]:
    """Return sanity statistics of generated audio: broken, silent and clipped clips, loudness.

    audio: `[n, samples]` (float, nominally in [-1, 1]) at `sample_rate` Hz. A clip is:
    "nan" when any sample is NaN or inf; "silent" when finite and its RMS level is below
    `silence_db` dBFS (0 dBFS: RMS 1); "clipped" when finite and more than `clipped_share_limit`
    (0.1%) of its samples have |x| >= `clip_level` (0.999), i.e. sit at full scale.
    Returns {"n", "seconds_per_clip", "nan_count", "nan_share", "nan_indices", "silent_count",
    "silent_share", "silent_indices", "clipped_count", "clipped_share", "clipped_indices",
    "silence_db", "clip_level", "clipped_share_limit", "rms_db": {"mean", "std", "p5", "p50",
    "p95", "n"}}; the shares are out of all n clips and "rms_db" is over the finite ones
    (10 log10 of the mean square, floored at -100 dBFS; all None when none is finite).
    """
    audio = np.asarray(audio)
    if audio.ndim == 1:
        audio = audio[None]
    if audio.ndim != 2:
        raise ValueError(f"audio must be [n, samples], got shape {audio.shape}")
    count, samples = audio.shape
    finite = np.isfinite(audio).all(axis=1) if samples else np.ones(count, dtype=bool)
    # Non-finite clips are zeroed here so the statistics of the others can run vectorised.
    clean = np.where(finite[:, None], audio, 0.0).astype(np.float64)
    mean_square = (clean**2).mean(axis=1) if samples else np.zeros(count)
    rms_db = 10.0 * np.log10(np.maximum(mean_square, 1e-10))
    silent = finite & (rms_db < silence_db)
    full_scale = (np.abs(clean) >= clip_level).mean(axis=1) if samples else np.zeros(count)
    clipped = finite & (full_scale > clipped_share_limit)
    levels = rms_db[finite]
    if len(levels):
        percentiles = np.percentile(levels, [5, 50, 95])
        loudness = {
            "mean": float(levels.mean()),
            "std": float(levels.std()),
            "p5": float(percentiles[0]),
            "p50": float(percentiles[1]),
            "p95": float(percentiles[2]),
            "n": int(len(levels)),
        }
    else:
        loudness = {"mean": None, "std": None, "p5": None, "p50": None, "p95": None, "n": 0}

    def share(mask: np.ndarray) -> float | None:
        return float(mask.mean()) if count else None

    return {
        "n": int(count),
        "seconds_per_clip": float(samples / sample_rate),
        "nan_count": int((~finite).sum()),
        "nan_share": share(~finite),
        "nan_indices": [int(i) for i in np.flatnonzero(~finite)],
        "silent_count": int(silent.sum()),
        "silent_share": share(silent),
        "silent_indices": [int(i) for i in np.flatnonzero(silent)],
        "clipped_count": int(clipped.sum()),
        "clipped_share": share(clipped),
        "clipped_indices": [int(i) for i in np.flatnonzero(clipped)],
        "silence_db": float(silence_db),
        "clip_level": float(clip_level),
        "clipped_share_limit": float(clipped_share_limit),
        "rms_db": loudness,
    }
