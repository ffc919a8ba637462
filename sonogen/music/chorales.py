"""The ``chorales`` dataset: Bach's four-part chorales from the corpus that ships inside the
music21 package (Riemenschneider's 371, which are 350 distinct scores: some are numbered
twice), exported to MIDI in a temporary folder and tokenized by ``prepare_midi``. Nothing is
downloaded.

music21 writes the parts as tracks (all piano, program 0), at the chorale's tempo marking or
120 bpm; the tokenizer merges them into one stream of notes. Parsing and exporting take about
0.2 s per chorale on one core; the whole set a minute or two.
"""

from __future__ import annotations

import logging
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sonogen.errors import SonogenError

log = logging.getLogger(__name__)


def chorale_names() -> list[str]:
    """Return the corpus names of the chorales music21 holds (e.g. 'bach/bwv269'), in
    Riemenschneider order, each once; SonogenError if music21 or its corpus is missing."""
    try:
        from music21.corpus import chorales
    except ImportError:
        raise SonogenError(
            "music21 is not installed; `pip install music21` (its corpus holds the chorales)"
        ) from None
    numbered = chorales.Iterator(numberingSystem="riemenschneider", returnType="filename")
    names = list(dict.fromkeys(numbered))  # 21 chorales carry two numbers: each once
    if not names:
        raise SonogenError("music21's corpus holds no Bach chorales; reinstall music21")
    return names


def _work_path(name: str) -> Path:
    """Return the corpus file of one chorale: getWork answers a list where several files match
    the name (bwv281.krn and bwv281.mxl; bwv245.3 also matches bwv245.37.mxl)."""
    from music21 import corpus

    found = corpus.getWork(name)
    paths = [Path(p) for p in found] if isinstance(found, list) else [Path(found)]
    stem = name.rsplit("/", 1)[-1]
    exact = [p for p in paths if p.stem == stem] or (paths if len(paths) == 1 else [])
    for suffix in (".mxl", ".xml", ".krn"):
        for path in exact:
            if path.suffix == suffix:
                return path
    if not exact:
        raise SonogenError(f"{name}: not in music21's corpus")
    return exact[0]


def export_chorales(
    folder: Path,
    *,
    limit: int | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> list[tuple[str, str]]:
    """Write the chorales as ``folder/NAME.mid``; return (name, reason) for any that failed."""
    from music21 import converter

    names = chorale_names()[: None if limit is None else limit]
    failed = []
    for done, name in enumerate(names, start=1):
        try:
            score = converter.parse(_work_path(name), forceSource=True, storePickle=False)
            score.write("midi", fp=str(Path(folder) / f"{name.replace('/', '_')}.mid"))
        except Exception as error:  # noqa: BLE001 - one odd score must not stop the export
            failed.append((name, f"{type(error).__name__}: {error}"))
            log.warning("chorale %s: not exported (%s)", name, error)
        if progress is not None:
            progress(done, len(names))
    return failed


def make_chorales(
    out: str | Path,
    *,
    limit: int | None = None,
    force: bool = False,
    progress: Callable[[int, int], None] | None = None,
    **prepare_options: Any,
) -> Path:
    """Build the chorales as a midi-tokens dataset dir at ``out``; return ``out``.

    ``limit``: only the first chorales (for a quick try). ``prepare_options`` go to
    :func:`sonogen.music.tokens.prepare_midi` (tokenizer, split, transpose, seq_len, seed).
    """
    from sonogen.data.writing import check_out
    from sonogen.music.tokens import prepare_midi

    if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int) or limit < 1):
        raise SonogenError(f"--limit {limit!r}: must be a whole number, at least 1")
    out = Path(out)
    check_out(out, force)
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="sonogen-chorales-") as temporary:
        failed = export_chorales(Path(temporary), limit=limit, progress=progress)
        summary = prepare_midi(
            temporary,
            out,
            force=force,
            source_label="builtin:chorales (the Bach chorales of the music21 corpus)",
            skipped_before=[(name, f"not exported: {reason}") for name, reason in failed],
            **prepare_options,
        )
    log.info(
        "chorales: %d pieces (%d could not be exported) in %.1f s into %s",
        summary.files_used,
        len(failed),
        time.perf_counter() - started,
        out,
    )
    return out
