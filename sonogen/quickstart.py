"""What `sonogen quickstart` trains: the GAN and settings that reached recognisable notes soonest
on 2 CPU cores (the comparison is in BENCHMARKS.md).

SpecGAN beat WaveGAN here: WaveGAN at the CPU width made ~2.5 steps/s against SpecGAN's ~5 at the
same batch, and its early output keeps a loud broadband noise floor. Within a few minutes the
number of steps is what matters, so the quickstart uses a narrow SpecGAN (width 8), one critic
step per generator step, Adam(5e-4, 0.0, 0.9) and batch 16 instead of the paper's 5 critic steps
and Adam(1e-4, 0.5, 0.9), which need far more steps than a CPU can take in minutes.
"""

QUICKSTART_MODEL = "specgan"
QUICKSTART_SETTINGS: list[str] = [
    "model.dim=8",
    "model.critic_steps=1",
    "model.learning_rate=0.0005",
    "model.beta1=0.0",
    "train.batch_size=16",
    "train.preview_every_steps=500",
    # the quickstart's numbers in BENCHMARKS.md were measured with Griffin-Lim; the learned
    # vocoder (SpecGAN's default since) takes a share of the 4 minutes and is not yet measured here
    "model.vocoder=griffin-lim",
]
QUICKSTART_MINUTES = 4.0
