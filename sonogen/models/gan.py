"""The GAN family: WaveGAN and SpecGAN (Donahue, McAuley & Puckette, "Adversarial Audio Synthesis",
ICLR 2019), trained with WGAN-GP, class-conditional when the dataset has labels.

- WaveGAN: 1-D transposed convolutions (kernel 25, stride 4) from a latent vector to 16384 samples;
  the critic mirrors it with strided convolutions and *phase shuffle* (each layer's activations
  shifted by a random -n..n samples) so it cannot tell real from fake by periodic artifacts.
- SpecGAN: the DCGAN-style 2-D version on a 128x128 log-magnitude spectrogram (n_fft 256, hop 128),
  each frequency bin normalised to zero mean and unit deviation over the training set, clipped at
  3 deviations and scaled to [-1, 1]; audio comes back through Griffin-Lim.

Conditioning: a label embedding is concatenated to the latent in the generator; the critic adds a
projection term <embed(label), features> (Miyato & Koyama 2018) to its output.

One training step is one critic update on one batch; every ``critic_steps``-th step also updates the
generator (the paper's 5 critic updates per generator update, each on a fresh batch).
Latents are N(0, I) rather than the paper's U(-1, 1), so that the truncation trick applies.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from sonogen.config import LEARNING_RATES, DataConfig, setting
from sonogen.errors import SonogenError
from sonogen.models.base import (
    ExportGraph,
    Family,
    GraphModule,
    check_seed,
    check_steps,
    check_temperature,
    check_truncation,
    per_bin_statistics,
    seeded_generator,
    slerp,
)
from sonogen.models.vocoder import LinearSpec, Vocoder

# --------------------------------------------------------------------------------------------
# configs


# The longest clip WaveGAN makes: 16 * 4**layers samples, 6 layers at most (the paper's longest
# model has 5, 16384 samples; 6 at dim 128 is already ~1.5 GB of weights).
WAVEGAN_MAX_LAYERS = 6
# SpecGAN's widest spectrogram: its networks grow with the frame count (5 stride-2 layers from
# frames / 32 columns)
SPECGAN_MAX_FRAMES = 1024


@dataclass(frozen=True)
class WaveGANConfig:
    # width multiplier d; the paper's is 64 (CPU default is smaller)
    dim: int = setting(16, 1, 128)
    latent_dim: int = setting(100, 1, 4096)
    # odd or even both give an exact x4 per layer; 3 is the smallest with padding >= 0
    kernel_size: int = setting(25, 3, 101)
    # critic shifts each layer by -n..n samples; 0 turns it off (the shortest shuffled layer has
    # 64 samples, and a reflect pad must be shorter than that)
    phase_shuffle: int = setting(2, 0, 16)
    label_dim: int = setting(32, 1, 4096)  # size of the label embedding fed to the generator
    critic_steps: int = setting(5, 1, 100)  # critic updates per generator update
    gradient_penalty: float = setting(10.0, 0, 10**6)
    learning_rate: float = setting(1e-4, *LEARNING_RATES)
    beta1: float = setting(0.5, 0, 1, below=True)
    beta2: float = setting(0.9, 0, 1, below=True)


@dataclass(frozen=True)
class SpecGANConfig:
    dim: int = setting(16, 1, 128)  # the paper's is 64
    latent_dim: int = setting(100, 1, 4096)
    kernel_size: int = setting(5, 1, 31, odd=True, why="its layers double the size only then")
    n_fft: int = setting(
        256, choices=(256,), why="SpecGAN's networks are built for 128 frequency bins"
    )
    hop_length: int = setting(128, 16, 256)
    # normalised log-magnitudes are clipped at this many deviations
    clip_deviations: float = setting(3.0, 0, 100, above=True)
    griffin_lim_iters: int = setting(16, 1, 1000)  # the paper's count
    # spectrogram -> audio: a vocoder learnt beside the GAN (sonogen.models.vocoder), or the
    # paper's Griffin-Lim (what runs written before the vocoder existed use)
    vocoder: str = setting("learned", choices=("learned", "griffin-lim"), older_runs="griffin-lim")
    vocoder_channels: int = setting(128, 8, 1024)
    vocoder_blocks: int = setting(6, 1, 32)
    vocoder_learning_rate: float = setting(1e-3, *LEARNING_RATES)
    vocoder_segment_frames: int = setting(32, 4, 4096)
    label_dim: int = setting(32, 1, 4096)
    critic_steps: int = setting(5, 1, 100)
    gradient_penalty: float = setting(10.0, 0, 10**6)
    learning_rate: float = setting(1e-4, *LEARNING_RATES)
    beta1: float = setting(0.5, 0, 1, below=True)
    beta2: float = setting(0.9, 0, 1, below=True)


# --------------------------------------------------------------------------------------------
# building blocks


class PhaseShuffle(nn.Module):
    """Shift each example's activations by a random integer in [-n, n], reflect-padding the edge."""

    def __init__(self, n: int):
        super().__init__()
        self.n = n

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # x: [batch, channels, time]
        if self.n == 0 or not self.training:
            return x
        length = x.shape[-1]
        padded = F.pad(x, (self.n, self.n), mode="reflect")
        shifts = torch.randint(-self.n, self.n + 1, (x.shape[0],), device=x.device)
        out = torch.empty_like(x)
        for shift in range(-self.n, self.n + 1):
            chosen = shifts == shift
            start = self.n - shift
            out[chosen] = padded[chosen, :, start : start + length]
        return out


class Conditioning(nn.Module):
    """Label embedding for the generator and projection for the critic; no-ops when unlabelled."""

    def __init__(self, num_labels: int, label_dim: int, feature_dim: int):
        super().__init__()
        self.num_labels = num_labels
        self.label_dim = label_dim if num_labels else 0
        if num_labels:
            self.generator_embedding = nn.Embedding(num_labels, label_dim)
            self.critic_embedding = nn.Embedding(num_labels, feature_dim)
            nn.init.normal_(self.critic_embedding.weight, std=0.02)

    def latent(self, z: torch.Tensor, labels: torch.Tensor | None) -> torch.Tensor:
        if not self.num_labels:
            return z
        return torch.cat([z, self.generator_embedding(labels)], dim=1)

    def projection(self, features: torch.Tensor, labels: torch.Tensor | None) -> torch.Tensor:
        if not self.num_labels:
            return features.new_zeros(features.shape[0])
        return (self.critic_embedding(labels) * features).sum(dim=1)


def wavegan_layers(clip_samples: int) -> int:
    """Return the number of stride-4 layers so that 16 * 4**layers >= clip_samples (5 for 16384)."""
    return max(1, math.ceil(math.log(max(clip_samples, 16) / 16, 4) - 1e-9))


class WaveGANGenerator(nn.Module):
    """latent [batch, latent_dim (+label_dim)] -> audio [batch, 1, 16 * 4**layers]."""

    def __init__(self, config: WaveGANConfig, layers: int, input_dim: int):
        super().__init__()
        channels = [config.dim * 2 ** (layers - 1 - i) for i in range(layers)] + [1]
        self.start_channels = channels[0]
        self.dense = nn.Linear(input_dim, 16 * channels[0])
        padding = (config.kernel_size - 4 + 1) // 2  # length exactly x4 per layer
        self.convs = nn.ModuleList(
            nn.ConvTranspose1d(
                c_in,
                c_out,
                config.kernel_size,
                stride=4,
                padding=padding,
                output_padding=4 - config.kernel_size + 2 * padding,
            )
            for c_in, c_out in zip(channels[:-1], channels[1:], strict=True)
        )

    def forward(self, latent: torch.Tensor) -> torch.Tensor:
        x = F.relu(self.dense(latent).view(latent.shape[0], self.start_channels, 16))
        for i, conv in enumerate(self.convs):
            x = conv(x)
            x = torch.tanh(x) if i == len(self.convs) - 1 else F.relu(x)
        return x


class WaveGANCritic(nn.Module):
    """audio [batch, 1, 16 * 4**layers] -> (score [batch], features [batch, feature_dim])."""

    def __init__(self, config: WaveGANConfig, layers: int):
        super().__init__()
        channels = [1] + [config.dim * 2**i for i in range(layers)]
        padding = (config.kernel_size - 1) // 2
        self.convs = nn.ModuleList(
            nn.Conv1d(c_in, c_out, config.kernel_size, stride=4, padding=padding)
            for c_in, c_out in zip(channels[:-1], channels[1:], strict=True)
        )
        self.shuffle = PhaseShuffle(config.phase_shuffle)
        self.feature_dim = 16 * channels[-1]
        self.out = nn.Linear(self.feature_dim, 1)

    def forward(self, audio: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        x = audio
        for i, conv in enumerate(self.convs):
            x = F.leaky_relu(conv(x), 0.2)
            if i < len(self.convs) - 1:
                x = self.shuffle(x)
        features = x.flatten(1)
        return self.out(features).squeeze(1), features


class SpecGANGenerator(nn.Module):
    """latent -> normalised log-magnitude [batch, 1, 128, frames] in [-1, 1]."""

    def __init__(self, config: SpecGANConfig, input_dim: int, start_width: int):
        super().__init__()
        channels = [config.dim * 2 ** (4 - i) for i in range(5)] + [1]  # 16d ... d, 1
        self.start_channels, self.start_width = channels[0], start_width
        self.dense = nn.Linear(input_dim, channels[0] * 4 * start_width)
        padding = config.kernel_size // 2
        self.convs = nn.ModuleList(
            nn.ConvTranspose2d(c_in, c_out, config.kernel_size, 2, padding, output_padding=1)
            for c_in, c_out in zip(channels[:-1], channels[1:], strict=True)
        )

    def forward(self, latent: torch.Tensor) -> torch.Tensor:
        x = self.dense(latent).view(latent.shape[0], self.start_channels, 4, self.start_width)
        x = F.relu(x)
        for i, conv in enumerate(self.convs):
            x = conv(x)
            x = torch.tanh(x) if i == len(self.convs) - 1 else F.relu(x)
        return x


class SpecGANCritic(nn.Module):
    """spectrogram [batch, 1, 128, frames] -> (score [batch], features [batch, feature_dim])."""

    def __init__(self, config: SpecGANConfig, start_width: int):
        super().__init__()
        channels = [1] + [config.dim * 2**i for i in range(5)]
        padding = config.kernel_size // 2
        self.convs = nn.ModuleList(
            nn.Conv2d(c_in, c_out, config.kernel_size, 2, padding)
            for c_in, c_out in zip(channels[:-1], channels[1:], strict=True)
        )
        self.feature_dim = channels[-1] * 4 * start_width
        self.out = nn.Linear(self.feature_dim, 1)

    def forward(self, spectrogram: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        x = spectrogram
        for conv in self.convs:
            x = F.leaky_relu(conv(x), 0.2)
        features = x.flatten(1)
        return self.out(features).squeeze(1), features


# --------------------------------------------------------------------------------------------
# the shared GAN recipe


class _WGANGP(Family):
    """WGAN-GP training, conditioning, sampling and interpolation shared by WaveGAN and SpecGAN.

    Subclasses build ``generator``, ``critic`` and ``conditioning`` and define ``to_critic_input``
    (audio -> what the critic sees) and ``output_to_audio`` (generator output -> audio).
    """

    # the label embedding lives in `conditioning`, so it is averaged with the generator
    ema_modules = ("generator", "conditioning")
    # the gradient penalty's inner autograd.grad is not loss-scaled, so fp16 would under- or
    # overflow it; bf16 (same range as fp32) is fine
    float16 = False
    interpolates = frozenset({"seeds"})
    generation_options = frozenset({"truncation"})
    exports = ("generator",)
    generator: nn.Module
    critic: nn.Module
    conditioning: Conditioning

    def configure_optimizers(self):
        c = self.config
        betas = (c.beta1, c.beta2)
        generator_params = list(self.generator.parameters())
        critic_params = list(self.critic.parameters())
        if self.conditioning.num_labels:
            generator_params.append(self.conditioning.generator_embedding.weight)
            critic_params.append(self.conditioning.critic_embedding.weight)
        return [
            torch.optim.Adam(generator_params, lr=c.learning_rate, betas=betas),
            torch.optim.Adam(critic_params, lr=c.learning_rate, betas=betas),
        ]

    # the two networks with conditioning applied
    def generate_output(self, z: torch.Tensor, labels: torch.Tensor | None) -> torch.Tensor:
        return self.generator(self.conditioning.latent(z, labels))

    def score(self, x: torch.Tensor, labels: torch.Tensor | None) -> torch.Tensor:
        score, features = self.critic(x)
        return score + self.conditioning.projection(features, labels)

    def gradient_penalty(
        self, real: torch.Tensor, fake: torch.Tensor, labels: torch.Tensor | None
    ) -> torch.Tensor:
        shape = (real.shape[0],) + (1,) * (real.dim() - 1)
        alpha = torch.rand(shape, device=real.device, dtype=real.dtype)
        mixed = (alpha * real + (1 - alpha) * fake).requires_grad_(True)
        (grad,) = torch.autograd.grad(self.score(mixed, labels).sum(), mixed, create_graph=True)
        return ((grad.flatten(1).norm(dim=1) - 1) ** 2).mean()

    def train_step(self, audio, labels, step, optimizers, backward):
        c = self.config
        generator_optimizer, critic_optimizer = optimizers[:2]
        labels = labels if self.conditioning.num_labels else None
        real = self.to_critic_input(audio)
        z = torch.randn(real.shape[0], c.latent_dim, device=real.device)
        with torch.no_grad():
            fake = self.generate_output(z, labels)
        real_score = self.score(real, labels).mean()
        fake_score = self.score(fake, labels).mean()
        penalty = self.gradient_penalty(real, fake, labels)
        critic_loss = fake_score - real_score + c.gradient_penalty * penalty
        critic_optimizer.zero_grad()
        backward(critic_loss)
        critic_optimizer.step()
        logs = {
            "critic_loss": critic_loss.detach(),
            "wasserstein": (real_score - fake_score).detach(),
            "gradient_penalty": penalty.detach(),
        }
        if (step + 1) % c.critic_steps == 0:
            z = torch.randn(real.shape[0], c.latent_dim, device=real.device)
            generator_loss = -self.score(self.generate_output(z, labels), labels).mean()
            generator_optimizer.zero_grad()
            backward(generator_loss)
            generator_optimizer.step()
            logs["generator_loss"] = generator_loss.detach()
        return logs

    @torch.no_grad()
    def validate(self, audio, labels):
        """Critic's Wasserstein estimate between held-out clips and generated ones."""
        labels = labels if self.conditioning.num_labels else None
        real = self.to_critic_input(audio)
        z = torch.randn(real.shape[0], self.config.latent_dim, device=real.device)
        fake = self.generate_output(z, labels)
        return {"wasserstein": (self.score(real, labels) - self.score(fake, labels)).mean()}

    # --- generation -----------------------------------------------------------------------
    def sample_latent(
        self,
        n: int,
        generator: torch.Generator,
        temperature: float = 1.0,
        truncation: float | None = None,
    ) -> torch.Tensor:
        """Return z [n, latent_dim] ~ N(0, I) (resampled beyond +-truncation), times temperature."""
        temperature = check_temperature(temperature)
        truncation = check_truncation(truncation)
        z = torch.randn(n, self.config.latent_dim, generator=generator, device=generator.device)
        if truncation is not None:
            for _ in range(100):
                outside = z.abs() > truncation
                if not outside.any():
                    break
                z[outside] = torch.randn(
                    int(outside.sum()), generator=generator, device=generator.device
                )
            z = z.clamp(-truncation, truncation)
        return z * temperature

    def sample_labels(
        self, n: int, labels: torch.Tensor | None, generator: torch.Generator
    ) -> torch.Tensor | None:
        labels = self.check_labels(labels, n)
        if labels is None and self.num_labels:
            labels = torch.randint(
                self.num_labels, (n,), generator=generator, device=generator.device
            )
        return labels

    @torch.no_grad()
    def decode_latent(
        self, z: torch.Tensor, labels: torch.Tensor | None, batch_size: int = 64
    ) -> torch.Tensor:
        """Return audio [n, clip_samples] for latents z [n, latent_dim] (and labels [n])."""
        chunks = []
        for start in range(0, z.shape[0], batch_size):
            part_labels = None if labels is None else labels[start : start + batch_size]
            chunks.append(self.graph_generate(z[start : start + batch_size], part_labels))
        return torch.cat(chunks)

    @torch.no_grad()
    def generate(self, n, *, seed=None, labels=None, temperature=1.0, truncation=None, **options):
        if options:
            raise SonogenError(f"{', '.join(options)}: not an option of {type(self).__name__}")
        if n < 1:
            raise SonogenError(f"-n {n}: ask for at least one clip")
        check_temperature(temperature)  # before eval(), so an error leaves the mode as it was
        check_truncation(truncation)
        was_training = self.training
        self.eval()
        generator = seeded_generator(seed, self.device)
        z = self.sample_latent(n, generator, temperature, truncation)
        labels = self.sample_labels(n, labels, generator)
        audio = self.decode_latent(z, labels)
        self.train(was_training)
        return audio

    # --- export -----------------------------------------------------------------------------
    def export_graphs(self, batch, block_samples=None, **options):
        """The generator: z [batch, latent_dim] (and label [batch], int64) -> audio [batch,
        clip_samples] in [-1, 1]; the learned vocoder is inside (Griffin-Lim is not exported)."""
        if options:
            raise SonogenError(f"{', '.join(options)}: export bakes no options into a GAN")
        family = self.exportable_copy(drop=("critic",))
        z = torch.randn(batch, self.config.latent_dim)
        inputs, names = (z,), ("z",)
        if self.num_labels:
            inputs, names = (z, torch.zeros(batch, dtype=torch.int64)), ("z", "label")
        description = (
            f"z [batch, {self.config.latent_dim}] float32 ~ N(0, 1)"
            + (f", label [batch] int64 in 0..{self.num_labels - 1}" if self.num_labels else "")
            + f" -> audio [batch, {self.data.clip_samples}] float32 in [-1, 1]"
        )
        graph = GraphModule(family, "graph_generate")
        return {"generator": ExportGraph(graph, inputs, names, "audio", description)}

    def graph_generate(self, z: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        """Audio [n, clip_samples] for latents z [n, latent_dim] in one pass (what is exported)."""
        return self.output_to_audio(self.generate_output(z, labels)).clamp(-1, 1)

    @torch.no_grad()
    def interpolate_seeds(
        self, seed_a: int, seed_b: int, steps: int, *, label: int | None = None
    ) -> torch.Tensor:
        """Return audio [steps, clip_samples] along the spherical path between the latents of
        two seeds (each 0..2**63-1; steps 2..1000)."""
        steps = check_steps(steps)
        seed_a, seed_b = check_seed(seed_a, "seed A"), check_seed(seed_b, "seed B")
        if seed_a is None or seed_b is None:
            raise SonogenError("seed A, seed B: an interpolation needs two seeds")
        was_training = self.training
        self.eval()
        z_a = self.sample_latent(1, seeded_generator(seed_a, self.device))[0]
        z_b = self.sample_latent(1, seeded_generator(seed_b, self.device))[0]
        z = slerp(z_a, z_b, steps)
        labels = None
        if self.num_labels:
            labels = self.check_labels(torch.tensor(label if label is not None else 0), steps)
        audio = self.decode_latent(z, labels)
        self.train(was_training)
        return audio


class WaveGAN(_WGANGP):
    """WaveGAN: a GAN on the raw waveform."""

    Config = WaveGANConfig

    def __init__(self, config: WaveGANConfig, data: DataConfig):
        super().__init__(config, data)
        layers = wavegan_layers(data.clip_samples)
        if layers > WAVEGAN_MAX_LAYERS:
            longest = 16 * 4**WAVEGAN_MAX_LAYERS
            raise SonogenError(
                f"data.clip_samples {data.clip_samples}: WaveGAN makes clips of at most {longest} "
                f"samples; prepare the dataset with --clip-samples {longest} or less, or use "
                "another model"
            )
        self.model_samples = 16 * 4**layers
        self.critic = WaveGANCritic(config, layers)
        self.conditioning = Conditioning(self.num_labels, config.label_dim, self.critic.feature_dim)
        self.generator = WaveGANGenerator(
            config, layers, config.latent_dim + self.conditioning.label_dim
        )

    def to_critic_input(self, audio: torch.Tensor) -> torch.Tensor:
        """[batch, clip_samples] -> [batch, 1, model_samples] (zero-padded at the end)."""
        return F.pad(audio, (0, self.model_samples - audio.shape[-1])).unsqueeze(1)

    def output_to_audio(self, output: torch.Tensor) -> torch.Tensor:
        return output[:, 0, : self.data.clip_samples]


class SpecGAN(_WGANGP):
    """SpecGAN: a GAN on normalised log-magnitude spectrograms, inverted by a learned vocoder
    (or Griffin-Lim)."""

    Config = SpecGANConfig
    frequency_bins = 128

    def __init__(self, config: SpecGANConfig, data: DataConfig):
        super().__init__(config, data)  # n_fft is 256 (declared on SpecGANConfig)
        frames = math.ceil(data.clip_samples / config.hop_length)
        self.frames = max(32, math.ceil(frames / 32) * 32)  # 5 stride-2 layers from width 4
        if self.frames > SPECGAN_MAX_FRAMES:
            hop = math.ceil(data.clip_samples / SPECGAN_MAX_FRAMES)
            raise SonogenError(
                f"model.hop_length {config.hop_length}: gives {frames} frames for clips of "
                f"{data.clip_samples} samples, SpecGAN takes at most {SPECGAN_MAX_FRAMES}; set "
                f"model.hop_length to {hop} or more, or prepare shorter clips"
            )
        start_width = self.frames // 32
        self.critic = SpecGANCritic(config, start_width)
        self.conditioning = Conditioning(self.num_labels, config.label_dim, self.critic.feature_dim)
        self.generator = SpecGANGenerator(
            config, config.latent_dim + self.conditioning.label_dim, start_width
        )
        self.register_buffer("log_mean", torch.zeros(self.frequency_bins, 1))
        self.register_buffer("log_std", torch.ones(self.frequency_bins, 1))
        if config.vocoder == "learned":
            spec = LinearSpec(config.n_fft, config.hop_length, self.frequency_bins)
            self.vocoder = Vocoder(spec, config.vocoder_channels, config.vocoder_blocks)

    def export_graphs(self, batch, block_samples=None, **options):
        if self.config.vocoder != "learned":
            raise SonogenError(
                "model.vocoder griffin-lim: Griffin-Lim's iterations are not exported; export a "
                "SpecGAN trained with the learned vocoder (the default)"
            )
        return super().export_graphs(batch, block_samples, **options)

    def configure_optimizers(self):
        optimizers = super().configure_optimizers()
        if self.config.vocoder == "learned":
            c = self.config
            optimizers.append(
                torch.optim.AdamW(
                    self.vocoder.parameters(), lr=c.vocoder_learning_rate, betas=(0.8, 0.99)
                )
            )
        return optimizers

    def train_step(self, audio, labels, step, optimizers, backward):
        """A GAN step, then (with the learned vocoder) one vocoder step on random segments of the
        same real clips."""
        logs = super().train_step(audio, labels, step, optimizers, backward)
        if self.config.vocoder == "learned":
            loss, vocoder_logs = self.vocoder.loss(audio, self.config.vocoder_segment_frames)
            optimizers[2].zero_grad()
            backward(loss)
            optimizers[2].step()
            logs |= {"vocoder_loss": loss.detach()} | vocoder_logs
        return logs

    @torch.no_grad()
    def validate(self, audio, labels):
        """The Wasserstein estimate, and the vocoder's copy synthesis of the held-out clips:
        log-magnitude L1 and multi-resolution STFT distance."""
        from sonogen.audio.features import multi_resolution_stft_distance

        scores = super().validate(audio, labels)
        if self.config.vocoder == "learned":
            real = self.log_magnitude(audio)
            output = self.spectrogram_to_audio(real)
            scores["vocoder_feature_l1"] = (self.log_magnitude(output) - real).abs().mean()
            scores["vocoder_stft"] = multi_resolution_stft_distance(output, audio)
        return scores

    def log_magnitude(self, audio: torch.Tensor) -> torch.Tensor:
        """audio [batch, samples] -> log |STFT| [batch, 128, frames] (Nyquist bin dropped)."""
        from sonogen.audio.features import stft_magnitude

        c = self.config
        audio = F.pad(audio, (0, self.frames * c.hop_length - audio.shape[-1]))
        magnitude = stft_magnitude(audio, n_fft=c.n_fft, hop_length=c.hop_length)
        return torch.log(magnitude[:, : self.frequency_bins, : self.frames] + 1e-6)

    def fit_statistics(self, audio: np.ndarray) -> None:
        """Per-frequency mean and deviation of the log-magnitude over training clips."""
        mean, deviation = per_bin_statistics(self.log_magnitude, audio, self.log_mean.device)
        self.log_mean.copy_(mean)
        self.log_std.copy_(deviation)

    def to_critic_input(self, audio: torch.Tensor) -> torch.Tensor:
        """audio [batch, samples] -> normalised spectrogram [batch, 1, 128, frames] in [-1, 1]."""
        k = self.config.clip_deviations
        normalised = (self.log_magnitude(audio) - self.log_mean) / self.log_std
        return (normalised.clamp(-k, k) / k).unsqueeze(1)

    def output_to_audio(self, output: torch.Tensor) -> torch.Tensor:
        c = self.config
        log_magnitude = output[:, 0] * c.clip_deviations * self.log_std + self.log_mean
        return self.spectrogram_to_audio(log_magnitude)

    def spectrogram_to_audio(self, log_magnitude: torch.Tensor) -> torch.Tensor:
        """log |STFT| [batch, 128, frames] -> audio [batch, clip_samples], by the learned
        vocoder or Griffin-Lim (``model.vocoder``)."""
        from sonogen.audio.features import griffin_lim

        c = self.config
        if c.vocoder == "learned":
            # one more frame (a copy of the last), as for Griffin-Lim below: frames - 1 hops of
            # audio would leave the last hop silent
            audio = self.vocoder(F.pad(log_magnitude, (0, 1), mode="replicate"))
            return audio[:, : self.data.clip_samples]
        magnitude = torch.exp(log_magnitude)
        magnitude = F.pad(magnitude, (0, 0, 0, 1))  # the dropped Nyquist bin, as zeros
        # one more frame (a copy of the last) so the frames cover `length` samples exactly with
        # centred STFTs (length // hop + 1 frames); without it the last hop came back as zeros
        magnitude = F.pad(magnitude, (0, 1), mode="replicate")
        audio = griffin_lim(
            magnitude,
            n_fft=c.n_fft,
            hop_length=c.hop_length,
            n_iter=c.griffin_lim_iters,
            length=self.frames * c.hop_length,
        )
        return audio[:, : self.data.clip_samples]
