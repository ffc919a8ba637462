"""What `sonogen quickstart` trains: the model and settings that reach recognisable notes soonest
on a CPU (see BENCHMARKS.md for the comparison that chose them)."""

QUICKSTART_MODEL = "specgan"
QUICKSTART_SETTINGS: list[str] = []
