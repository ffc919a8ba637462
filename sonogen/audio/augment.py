"""Training-time augmentation of audio batches (torch, on the batch's device)."""

from __future__ import annotations

import torch


def augment(audio: torch.Tensor) -> torch.Tensor:
    """Return a randomly augmented copy of ``audio`` [batch, samples] (torch RNG, per clip).

    Each of these is applied to a clip with probability 0.5: gain of -6..+3 dB, a time shift of up
    to 5% of the clip (zero-filled), a pitch shift of up to +-1 semitone (resampling by linear
    interpolation, which also changes duration slightly, as a tape would), and white noise 30-50 dB
    below the clip's RMS. Results are clipped to [-1, 1].
    """
    batch, samples = audio.shape
    device = audio.device
    out = audio.clone()

    def chosen() -> torch.Tensor:
        return torch.rand(batch, device=device) < 0.5

    # pitch: resample each chosen clip by 2**(semitones/12)
    pick = chosen()
    for i in torch.nonzero(pick).flatten().tolist():
        ratio = 2 ** (float(torch.empty(1).uniform_(-1, 1)) / 12)
        positions = torch.arange(samples, device=device, dtype=audio.dtype) * ratio
        left = positions.floor().long().clamp(max=samples - 1)
        right = (left + 1).clamp(max=samples - 1)
        frac = positions - left
        value = out[i, left] * (1 - frac) + out[i, right] * frac
        out[i] = torch.where(positions <= samples - 1, value, torch.zeros_like(value))
    # time shift
    pick = chosen()
    max_shift = max(1, samples // 20)
    for i in torch.nonzero(pick).flatten().tolist():
        shift = int(torch.randint(-max_shift, max_shift + 1, (1,)))
        out[i] = torch.roll(out[i], shift)
        if shift > 0:
            out[i, :shift] = 0
        elif shift < 0:
            out[i, shift:] = 0
    # gain
    gain_db = torch.empty(batch, device=device).uniform_(-6, 3)
    out = torch.where(chosen()[:, None], out * 10 ** (gain_db[:, None] / 20), out)
    # noise
    rms = out.pow(2).mean(dim=1, keepdim=True).sqrt()
    noise_db = torch.empty(batch, 1, device=device).uniform_(30, 50)
    noise = torch.randn_like(out) * rms * 10 ** (-noise_db / 20)
    out = torch.where(chosen()[:, None], out + noise, out)
    return out.clamp(-1, 1)
