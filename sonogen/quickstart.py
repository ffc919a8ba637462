"""What `sonogen quickstart` trains: the family and settings that made the cleanest notes in 4
minutes on 2 CPU cores, judged by the numbers of issue "Sounds a listener keeps" (instrument
accuracy by the notes' classifier, median spectral flatness against the real notes', the level
after the note ends). The comparison is in BENCHMARKS.md ("The quickstart on flow").

Flow matching with its learned vocoder won: its notes are pitched and end in silence (median
flatness 2-4 times the real notes', against 73 times for the quickstart SpecGAN with Griffin-Lim,
which it replaced), and the classifier hears the asked instrument more often (0.845 of 200 clips,
against 0.31 of 64), though not yet the 0.9 the issue asks. The settings trade resolution for
steps, since a few minutes hold under two thousand of them: windows of 64 ms and hops of 32 ms
(held notes change slowly; a quarter of the frames of the default 32 ms / 8 ms, and finer
frequency bins for the partials), a U-Net of two levels, the vocoder trained on every other
step, batch 16, a learning rate of 4e-3 with a 50-step warm-up, and guidance 6. With 16 ms hops
and three levels the notes changed pitch and broke off within a clip (0.53 of the instruments
heard right); 32 ms hops made them hold together (0.71), and two levels gave as much with more
steps (0.72, 1,807 steps against 1,522). The flow's learning rate now falls linearly over the 4
minutes (`model.lr_decay`, the flow default), which let more guidance help: 0.83 of 200 clips
at guidance 6 after 1,800 steps, against 0.66-0.72 before.
"""

QUICKSTART_MODEL = "flow"
QUICKSTART_SETTINGS: list[str] = [
    "model.window=1024",
    "model.hop=512",  # 32 ms hops: held notes change slowly, and fewer frames hold together
    "model.levels=2",  # a shallower U-Net: fewer weights to learn in a few minutes
    "model.vocoder_segment_frames=8",  # 8 hops of 512: the 4,096 samples of the default
    "model.learning_rate=0.004",
    "model.warmup_steps=50",
    "model.vocoder_every=2",  # the vocoder on every other step, at 2e-3: more steps for the flow
    "model.vocoder_learning_rate=0.002",
    "model.guidance=6",  # with the decaying learning rate: 0.755 at 3, 0.795 at 4, 0.825 at 6
    "train.batch_size=16",
    "train.preview_every_steps=500",
]
QUICKSTART_MINUTES = 4.0
QUICKSTART_CLIPS_PER_LABEL = 2  # generated clips of each instrument
