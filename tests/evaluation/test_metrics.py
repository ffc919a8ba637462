"""Tests of the evaluation metrics on synthetic data: Gaussian-mixture embeddings, sines, noise."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch

from sonogen.errors import SonogenError
from sonogen.evaluation import metrics

DIM = 8
COMPONENTS = 8


def mixture(
    count: int, seed: int, components: list[int] | None = None, dim: int = DIM
) -> np.ndarray:
    """Return float64 [count, dim] "real" embeddings: a fixed mixture of 8 Gaussians.

    The component means and shapes are the same for every call with one `dim` (seed 1234);
    `seed` draws the clips; `components` restricts the draw to those components (a
    mode-collapsed model).
    """
    layout = np.random.default_rng(1234)
    means = layout.normal(0.0, 3.0, size=(COMPONENTS, dim))
    scales = layout.uniform(0.3, 0.8, size=(COMPONENTS, dim))
    rng = np.random.default_rng(seed)
    chosen = rng.choice(components if components is not None else COMPONENTS, size=count)
    return means[chosen] + scales[chosen] * rng.normal(size=(count, dim))


def assert_plain(value: object, where: str = "result") -> None:
    """Assert a metric result holds only JSON-ready Python types (no numpy scalars, no NaN)."""
    if isinstance(value, dict):
        for key, item in value.items():
            assert type(key) is str, f"{where}: key {key!r}"
            assert_plain(item, f"{where}.{key}")
    elif isinstance(value, (list, tuple)):
        for i, item in enumerate(value):
            assert_plain(item, f"{where}[{i}]")
    else:
        assert value is None or type(value) in (float, int, bool, str), (where, type(value))
        if type(value) is float:
            assert math.isfinite(value), where


def dumps(result: dict) -> str:
    assert_plain(result)
    return json.dumps(result, allow_nan=False)


def random_covariance(rng: np.random.Generator, dim: int) -> np.ndarray:
    factor = rng.normal(size=(dim, dim))
    return factor @ factor.T / dim + 0.1 * np.eye(dim)


# --- Gaussian fit and Fréchet distance ---------------------------------------------------------


def test_gaussian_fit_is_mean_and_unbiased_covariance():
    embeddings = mixture(50, seed=1)
    mean, covariance = metrics.gaussian_fit(embeddings.astype(np.float32))
    centred = embeddings - embeddings.mean(axis=0)
    assert mean.dtype == covariance.dtype == np.float64
    assert mean.shape == (DIM,) and covariance.shape == (DIM, DIM)
    np.testing.assert_allclose(mean, embeddings.mean(axis=0), rtol=1e-6)
    np.testing.assert_allclose(covariance, centred.T @ centred / 49, rtol=1e-5)
    with pytest.raises(SonogenError, match="at least 2"):
        metrics.gaussian_fit(embeddings[:1])


def test_frechet_distance_matches_an_eigendecomposition():
    rng = np.random.default_rng(0)
    for dim in (1, 5, 40):
        mean_a, mean_b = rng.normal(size=dim), rng.normal(size=dim)
        covariance_a, covariance_b = random_covariance(rng, dim), random_covariance(rng, dim)
        # Tr sqrt(A B) = Tr sqrt(A^1/2 B A^1/2), a symmetric PSD matrix: sum of sqrt eigenvalues.
        values, vectors = np.linalg.eigh(covariance_a)
        root_a = vectors @ np.diag(np.sqrt(values)) @ vectors.T
        trace_root = np.sqrt(np.linalg.eigvalsh(root_a @ covariance_b @ root_a)).sum()
        expected = (
            np.sum((mean_a - mean_b) ** 2)
            + np.trace(covariance_a)
            + np.trace(covariance_b)
            - 2 * trace_root
        )
        distance = metrics.frechet_distance(mean_a, covariance_a, mean_b, covariance_b)
        assert type(distance) is float
        assert distance == pytest.approx(expected, rel=1e-8)
        # The fast path that the jackknife and FAD-infinity use agrees with it.
        fast = metrics._FrechetToReference(mean_b, covariance_b)(mean_a, covariance_a)
        assert fast == pytest.approx(expected, rel=1e-8)


def test_frechet_distance_guards():
    rng = np.random.default_rng(1)
    # Fewer clips than dims: singular covariances, still a finite, non-negative distance.
    mean_a, covariance_a = metrics.gaussian_fit(rng.normal(size=(5, 20)))
    mean_b, covariance_b = metrics.gaussian_fit(rng.normal(size=(6, 20)) + 1.0)
    distance = metrics.frechet_distance(mean_a, covariance_a, mean_b, covariance_b)
    assert math.isfinite(distance) and distance > 20 * 0.5  # the means differ by ~1 per dim
    # The same Gaussian: 0, never a tiny negative.
    assert metrics.frechet_distance(mean_a, covariance_a, mean_a, covariance_a) == pytest.approx(
        0.0, abs=1e-8
    )
    assert metrics.frechet_distance(mean_a, covariance_a, mean_a, covariance_a) >= 0.0
    # Not a covariance: sqrtm(-I) is i I, a large imaginary part.
    with pytest.raises(ValueError, match="imaginary"):
        metrics.frechet_distance(np.zeros(3), -np.eye(3), np.zeros(3), np.eye(3))
    with pytest.raises(ValueError, match="dim"):
        metrics.frechet_distance(np.zeros(3), np.eye(3), np.zeros(2), np.eye(2))


# --- FAD ---------------------------------------------------------------------------------------


def test_fad_self_halves_and_other_distributions():
    real = mixture(2000, seed=2)
    itself = metrics.fad(real, real)
    assert itself["value"] == pytest.approx(0.0, abs=1e-8)
    halves = metrics.fad(real[:1000], real[1000:])
    noise = metrics.fad(np.random.default_rng(3).normal(size=(1000, DIM)), real)
    shifted = metrics.fad(real[:1000] + 1.0, real[1000:])
    assert halves["value"] < 0.3
    # A shift moves only the mean term: ||d + 1||^2 = ||d||^2 + 2 sum(d) + DIM.
    difference = real[:1000].mean(axis=0) - real[1000:].mean(axis=0)
    expected = halves["value"] + 2 * difference.sum() + DIM
    assert shifted["value"] == pytest.approx(expected, rel=1e-9)
    assert noise["value"] > 50 * halves["value"]
    assert halves["n_generated"] == 1000 and halves["n_reference"] == 1000
    assert halves["dim"] == DIM and halves["jackknife_groups"] == 20
    low, high = halves["ci95"]
    assert 0 < halves["stderr"] < 1
    assert high == pytest.approx(halves["value"] + 1.96 * halves["stderr"])
    assert low == pytest.approx(max(0.0, halves["value"] - 1.96 * halves["stderr"]))
    dumps(halves)


def test_fad_grows_with_added_noise():
    real = mixture(1200, seed=4)
    generated, reference = real[:600], real[600:]
    rng = np.random.default_rng(5)
    noise = rng.normal(size=generated.shape)
    values = [
        metrics.fad(generated + level * noise, reference, jackknife_groups=0)["value"]
        for level in (0.0, 0.25, 0.5, 1.0, 2.0)
    ]
    assert (np.diff(values) > 0).all(), values
    assert values[-1] > 10 * values[0]


def test_fad_stderr_matches_the_spread_over_independent_draws():
    reference = mixture(4000, seed=6)
    results = [metrics.fad(mixture(300, seed=100 + i) + 0.2, reference) for i in range(16)]
    spread = np.std([r["value"] for r in results], ddof=1)
    estimate = np.mean([r["stderr"] for r in results])
    assert 0.5 < estimate / spread < 2.0, (estimate, spread)


def test_fad_rejects_bad_embeddings():
    real = mixture(100, seed=7)
    broken = real.copy()
    broken[3, 2] = np.nan
    with pytest.raises(SonogenError, match="1 of 100 generated embeddings contain NaN"):
        metrics.fad(broken, real)
    with pytest.raises(SonogenError, match="needs at least 2"):
        metrics.fad(real[:1], real)
    with pytest.raises(ValueError, match="differ in dim"):
        metrics.fad(real[:, :4], real)
    small = metrics.fad(real[:2], real)  # too few for a jackknife, still a value
    assert small["stderr"] is None and small["ci95"] is None and small["value"] > 0


# --- FAD-infinity ------------------------------------------------------------------------------


def test_fad_infinity_recovers_the_intercept():
    dim = 16
    rng = np.random.default_rng(0)
    factor = rng.normal(size=(dim, dim)) / math.sqrt(dim)
    reference = rng.normal(size=(20000, dim)) @ factor.T
    same = rng.normal(size=(1500, dim)) @ factor.T

    # Drawn like the reference: the true FAD is ~0 (the 20000-clip reference fit is off by
    # ~dim^2 / 80000 = 0.003); FAD of 500 clips is biased well above it, FAD-infinity is not.
    result = metrics.fad_infinity(same, reference)
    assert result["sizes"][0] == 500 and result["sizes"][-1] == 1500 and len(result["sizes"]) == 10
    assert result["fad_at_sizes"][0] > 0.08
    assert abs(result["value"]) < 0.25 * result["fad_at_sizes"][0]
    assert abs(result["value"]) < 0.5 * result["fad_at_sizes"][-1]  # below plain FAD at N
    assert result["slope"] > 0 and 0 < result["stderr"] < 0.02 and result["r2"] > 0.9
    assert result["n_generated"] == 1500 and result["n_reference"] == 20000
    dumps(result)

    # The same clips shifted: FAD moves by ||shift||^2 + 2 shift . (mean - reference mean) at
    # every n, so the intercept must move by that too (up to the subsets' own mean noise).
    shift = np.full(dim, math.sqrt(0.5 / dim))  # ||shift||^2 = 0.5
    known = shift @ shift + 2 * shift @ (same.mean(axis=0) - reference.mean(axis=0))
    shifted = metrics.fad_infinity(same + shift, reference)
    assert shifted["value"] == pytest.approx(result["value"] + known, abs=0.04)
    assert shifted["fad_at_sizes"][0] > shifted["value"]


def test_fad_infinity_too_few_clips_and_explicit_sizes():
    reference = mixture(1000, seed=9)
    result = metrics.fad_infinity(mixture(16, seed=10), reference)  # sizes would start at 12
    assert result["value"] is None and result["stderr"] is None
    assert "too few" in result["reason"] and "at least 18" in result["reason"]
    dumps(result)
    result = metrics.fad_infinity(mixture(200, seed=11), reference, sizes=[50, 100, 150, 200])
    assert result["sizes"] == [50, 100, 150, 200] and result["value"] is not None
    with pytest.raises(SonogenError, match="sizes"):
        metrics.fad_infinity(mixture(200, seed=11), reference, sizes=[50, 300])


# --- Inception Score ---------------------------------------------------------------------------


def test_inception_score_of_a_set_sorted_by_class_is_not_split_by_class():
    # a valid split or a folder of files named by class comes sorted: consecutive splits would
    # each hold one class and score about 1 (a real FSDD valid split once scored 1.10 that way)
    classes, count = 10, 250
    sorted_one_hot = np.eye(classes)[np.repeat(np.arange(classes), count // classes)]
    result = metrics.inception_score(sorted_one_hot)
    assert result["mean"] > 0.8 * classes, result
    assert metrics.inception_score(sorted_one_hot, seed=1)["mean"] > 0.8 * classes


def test_inception_score_extremes():
    classes, count = 10, 1000
    labels = np.arange(count) % classes
    one_hot = np.eye(classes)[labels]
    # one part holds the balanced set: exactly K
    assert metrics.inception_score(one_hot, splits=1)["mean"] == pytest.approx(classes, rel=1e-9)
    # ten random parts of 100 are only nearly balanced: a little under K
    result = metrics.inception_score(one_hot)
    assert 0.9 * classes < result["mean"] < classes
    assert result["splits"] == 10 and result["n"] == count and result["classes"] == classes
    dumps(result)

    # 99% confident: IS = K exp(-H(p(y|x))) for balanced classes.
    confidence = 0.99
    confident = np.full((count, classes), (1 - confidence) / (classes - 1))
    confident[np.arange(count), labels] = confidence
    entropy = -(
        confidence * math.log(confidence)
        + (1 - confidence) * math.log((1 - confidence) / (classes - 1))
    )
    assert metrics.inception_score(confident, splits=1)["mean"] == pytest.approx(
        classes * math.exp(-entropy), rel=1e-9
    )

    same = metrics.inception_score(np.tile(confident[:1], (count, 1)))
    assert same["mean"] == pytest.approx(1.0, abs=1e-12) and same["std"] == pytest.approx(0.0)

    soft = np.random.default_rng(12).dirichlet(np.ones(classes), size=count)
    assert 1.0 < metrics.inception_score(soft)["mean"] < 2.0
    assert metrics.inception_score(one_hot[:4])["splits"] == 1  # one part, not four of one clip
    assert metrics.inception_score(one_hot[:35])["splits"] == 3


def test_inception_score_rejects_non_probabilities():
    logits = np.random.default_rng(13).normal(size=(20, 5))
    with pytest.raises(ValueError, match="sums to"):
        metrics.inception_score(logits - logits.min())
    with pytest.raises(ValueError, match="non-negative"):
        metrics.inception_score(logits)
    with pytest.raises(ValueError, match=r"\[n, classes\]"):
        metrics.inception_score(np.ones(5) / 5)


# --- NDB ---------------------------------------------------------------------------------------


def test_ndb_same_mixture_low_collapsed_high():
    reference = mixture(2000, seed=14)
    same = metrics.ndb(mixture(1000, seed=15), reference, k=20)
    assert same["k"] == same["k_requested"] == 20 and "note" not in same
    assert same["ndb_over_k"] <= 0.1
    assert sum(same["reference_proportions"]) == pytest.approx(1.0)
    assert sum(same["generated_proportions"]) == pytest.approx(1.0)
    assert len(same["generated_proportions"]) == 20 and same["ndb"] == len(same["different_bins"])
    dumps(same)

    collapsed = metrics.ndb(mixture(1000, seed=16, components=[0, 1]), reference, k=20)
    assert collapsed["ndb_over_k"] >= 0.6
    # Every bin the collapsed set over-fills is flagged with a positive z.
    for index in collapsed["different_bins"]:
        over = collapsed["generated_proportions"][index] > collapsed["reference_proportions"][index]
        assert (collapsed["z"][index] > 0) == over


def test_ndb_lowers_k_for_a_small_reference():
    result = metrics.ndb(mixture(50, seed=17), mixture(100, seed=18), k=50)
    assert result["k"] == 10 and result["k_requested"] == 50
    assert "lowered from 50 to 10" in result["note"]
    assert len(result["reference_proportions"]) == 10


# --- pairwise diversity ------------------------------------------------------------------------


def test_pairwise_diversity_ratio():
    reference = mixture(400, seed=19)
    same = metrics.pairwise_diversity(mixture(300, seed=20), reference)
    assert 0.9 < same["ratio"] < 1.1
    assert 0 < same["ratio_stderr"] < 0.1
    dumps(same)
    # All pairs: the reference mean is the mean of pdist on the standardised reference.
    standardised = (reference - reference.mean(axis=0)) / reference.std(axis=0)
    differences = standardised[:, None, :] - standardised[None, :, :]
    distances = np.sqrt((differences**2).sum(axis=-1))
    assert same["reference_mean"] == pytest.approx(distances.sum() / (400 * 399), rel=1e-9)

    collapsed = metrics.pairwise_diversity(mixture(300, seed=21, components=[3]), reference)
    assert collapsed["ratio"] < 0.3

    sampled = metrics.pairwise_diversity(mixture(500, seed=22), reference, max_clips=100)
    assert sampled["clips_used_generated"] == 100 and sampled["n_generated"] == 500
    assert 0.8 < sampled["ratio"] < 1.2


# --- memorization ------------------------------------------------------------------------------


def test_memorization_flags_copies_not_new_recordings():
    dim = 32
    train = mixture(1000, seed=23, dim=dim)
    calibration = mixture(300, seed=24, dim=dim)
    new_recordings = mixture(300, seed=25, dim=dim)  # drawn independently of the calibration
    rng = np.random.default_rng(26)
    copied = rng.choice(len(train), size=20, replace=False)
    noised = rng.choice(len(train), size=20, replace=False)
    generated = np.concatenate(
        [
            train[copied],
            train[noised] + 0.05 * train.std(axis=0) * rng.normal(size=(20, dim)),
            new_recordings,
        ]
    )
    result = metrics.memorization(generated, train, calibration)
    assert result["nearest_index"][:20] == copied.tolist()
    assert result["nearest_index"][20:40] == noised.tolist()
    assert min(result["similarity"][:20]) == pytest.approx(1.0, abs=1e-9)
    flagged = set(result["flagged_indices"])
    assert set(range(40)) <= flagged
    new_flagged = len(flagged - set(range(40)))
    assert new_flagged / len(new_recordings) <= 0.05
    assert result["flagged_count"] == len(flagged)
    assert result["flagged_share"] == pytest.approx(len(flagged) / len(generated))
    assert result["n_generated"] == 340 and result["n_train"] == 1000
    assert result["n_heldout"] == 300 and result["threshold"] < 1.0
    assert result["heldout_similarity_mean"] < result["threshold"]
    dumps(result)

    pairs = metrics.closest_pairs(result, count=5)
    assert len(pairs) == 5
    assert [p[2] for p in pairs] == sorted((p[2] for p in pairs), reverse=True)
    assert all(g < 20 and t == copied[g] for g, t, _ in pairs)
    # Works on the dict as it comes back from metrics.json too.
    assert metrics.closest_pairs(json.loads(dumps(result)), count=5) == pairs

    lenient = metrics.memorization(generated, train, calibration, threshold_quantile=0.5)
    assert lenient["threshold"] < result["threshold"]
    assert lenient["flagged_count"] > result["flagged_count"]


# --- reconstruction ----------------------------------------------------------------------------


def tones(count: int, samples: int, sample_rate: int, seed: int) -> np.ndarray:
    """Return float32 [count, samples]: two-partial tones of random pitch, level and phase."""
    rng = np.random.default_rng(seed)
    t = np.arange(samples) / sample_rate
    frequency = rng.uniform(200, 1000, size=(count, 1))
    phase = rng.uniform(0, 2 * np.pi, size=(count, 1))
    level = rng.uniform(0.2, 0.6, size=(count, 1))
    wave = np.sin(2 * np.pi * frequency * t + phase) + 0.5 * np.sin(4 * np.pi * frequency * t)
    return (level * wave / 1.5).astype(np.float32)


def with_noise(clean: np.ndarray, snr_db: float, seed: int) -> np.ndarray:
    """Return clean + white noise scaled so each clip's SNR is exactly `snr_db`."""
    noise = np.random.default_rng(seed).normal(size=clean.shape)
    noise -= noise.mean(axis=1, keepdims=True)
    signal_power = (clean.astype(np.float64) ** 2).sum(axis=1, keepdims=True)
    noise *= np.sqrt(signal_power / (noise**2).sum(axis=1, keepdims=True) / 10 ** (snr_db / 10))
    return clean + noise


def test_si_sdr_identity_snr_and_scale():
    clean = tones(6, 8000, 8000, seed=27)
    itself = metrics.si_sdr(clean, clean)
    assert itself.shape == (6,) and itself.min() > 100
    for snr in (0.0, 10.0, 20.0, 30.0):
        measured = metrics.si_sdr(with_noise(clean, snr, seed=int(snr)), clean)
        np.testing.assert_allclose(measured, snr, atol=0.5)
    noisy = with_noise(clean, 10.0, seed=28)
    np.testing.assert_allclose(metrics.si_sdr(3.7 * noisy, clean), metrics.si_sdr(noisy, clean))
    np.testing.assert_allclose(metrics.si_sdr(noisy, 0.2 * clean), metrics.si_sdr(noisy, clean))
    # An offset is removed first (zero mean), a silent reference stays finite.
    np.testing.assert_allclose(metrics.si_sdr(noisy + 0.1, clean), metrics.si_sdr(noisy, clean))
    silent = metrics.si_sdr(noisy[:1], np.zeros((1, 8000)))
    assert np.isfinite(silent).all() and silent[0] < -50
    with pytest.raises(ValueError, match="same shape"):
        metrics.si_sdr(clean[:, :100], clean)


def test_reconstruction_metrics():
    from sonogen.audio.features import log_mel_spectrogram, multi_resolution_stft_distance

    sample_rate = 8000
    clean = tones(4, 4000, sample_rate, seed=29)
    noisy = with_noise(clean, 10.0, seed=30).astype(np.float32)
    perfect = metrics.reconstruction_metrics(clean, clean, sample_rate)
    assert perfect["multi_resolution_stft"] == pytest.approx(0.0, abs=1e-6)
    assert perfect["log_mel_l1"] == pytest.approx(0.0, abs=1e-6)
    assert perfect["si_sdr"]["mean"] > 100 and perfect["n"] == 4

    result = metrics.reconstruction_metrics(noisy, clean, sample_rate)
    dumps(result)
    assert result["si_sdr"]["mean"] == pytest.approx(10.0, abs=0.5)
    assert result["si_sdr"]["n"] == 4 and result["si_sdr"]["stderr"] > 0
    per_clip = [
        float(
            multi_resolution_stft_distance(
                torch.from_numpy(noisy[i : i + 1]), torch.from_numpy(clean[i : i + 1])
            )
        )
        for i in range(4)
    ]
    assert result["multi_resolution_stft"] == pytest.approx(np.mean(per_clip), rel=1e-5)
    mel_difference = log_mel_spectrogram(torch.from_numpy(noisy), sample_rate) - (
        log_mel_spectrogram(torch.from_numpy(clean), sample_rate)
    )
    expected = float(mel_difference.abs().mean())
    assert result["log_mel_l1"] == pytest.approx(expected, rel=1e-5)
    assert metrics.log_mel_l1(noisy, clean, sample_rate) == pytest.approx(expected, rel=1e-5)
    assert result["log_mel_l1"] > 0.5


# --- signal checks and helpers -----------------------------------------------------------------


def test_signal_checks_on_a_hand_made_batch():
    sample_rate, samples = 8000, 8000
    t = np.arange(samples) / sample_rate
    sine = 0.5 * np.sin(2 * np.pi * 440 * t)
    one_peak = sine.copy()
    one_peak[100] = 1.0  # 1 sample of 8000 at full scale: 0.0125%, not clipped
    nan_clip = sine.copy()
    nan_clip[7] = np.nan
    inf_clip = sine.copy()
    inf_clip[9] = np.inf
    batch = np.stack(
        [
            sine,  # 0: fine, -9.03 dBFS
            np.zeros(samples),  # 1: silent
            1e-4 * np.sin(2 * np.pi * 440 * t),  # 2: -83 dBFS, silent
            np.clip(3 * sine, -1, 1),  # 3: clipped
            nan_clip,  # 4
            one_peak,  # 5: fine
            inf_clip,  # 6
        ]
    ).astype(np.float32)
    result = metrics.signal_checks(batch, sample_rate)
    dumps(result)
    assert result["n"] == 7 and result["seconds_per_clip"] == 1.0
    assert result["nan_indices"] == [4, 6] and result["nan_count"] == 2
    assert result["silent_indices"] == [1, 2] and result["silent_share"] == pytest.approx(2 / 7)
    assert result["clipped_indices"] == [3] and result["clipped_share"] == pytest.approx(1 / 7)
    assert result["rms_db"]["n"] == 5
    assert result["rms_db"]["p50"] == pytest.approx(20 * math.log10(0.5 / math.sqrt(2)), abs=0.01)
    # The zero clip is floored at -100 dBFS; p5 of 5 levels lies between it and the next, -83.
    assert -100.0 < result["rms_db"]["p5"] < -83.0

    broken = metrics.signal_checks(np.full((2, 100), np.nan, dtype=np.float32), sample_rate)
    assert broken["nan_share"] == 1.0 and broken["rms_db"]["mean"] is None
    dumps(broken)


def test_mean_and_stderr():
    result = metrics.mean_and_stderr([1.0, 2.0, 3.0, 10.0])
    assert result == {
        "mean": 4.0,
        "stderr": pytest.approx(np.std([1, 2, 3, 10], ddof=1) / 2),
        "median": 2.5,
        "n": 4,
    }
    assert metrics.mean_and_stderr([5.0])["stderr"] is None
    assert metrics.mean_and_stderr([])["mean"] is None


def test_label_accuracy_per_label_and_confusion():
    from sonogen.evaluation.metrics import label_accuracy

    # asked 0,0,0,1,1,2 ; predicted 0,0,1,1,2,2 ; one clip without a label (-1) is left out
    result = label_accuracy([0, 0, 1, 1, 2, 2, 0], [0, 0, 0, 1, 1, 2, -1], ["a", "b", "c"])
    assert result["n"] == 6 and result["value"] == pytest.approx(4 / 6)
    assert result["per_label"] == pytest.approx({"a": 2 / 3, "b": 0.5, "c": 1.0})
    assert result["per_label_n"] == {"a": 3, "b": 2, "c": 1}
    assert result["confusion"]["counts"] == [[2, 1, 0], [0, 1, 1], [0, 0, 1]]
    empty = label_accuracy([], [], ["a", "b"])
    assert empty["value"] is None and empty["per_label"] == {"a": None, "b": None}
    with pytest.raises(ValueError, match="label indices"):
        label_accuracy([3], [0], ["a", "b"])
