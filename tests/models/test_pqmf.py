"""The PQMF bank without SciPy: the same filters as the SciPy design it replaced (old run dirs
rebuild the bank at load, so their models must hear the same sub-bands), and no SciPy import."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from sonogen.models.fvae import PQMF_ATTENUATION_DB, pqmf_filters

HEAVY = ("scipy", "librosa.core", "sklearn", "numba")


def scipy_pqmf_filters(bands: int, attenuation_db: float = PQMF_ATTENUATION_DB) -> np.ndarray:
    """The design as it was until the SciPy-free one (kaiserord, firwin, bounded Brent)."""
    from scipy.optimize import minimize_scalar
    from scipy.signal import firwin, kaiserord

    taps, beta = kaiserord(attenuation_db, 1.0 / bands)
    taps = 2 * (taps // 2) + 1

    def prototype(cutoff: float) -> np.ndarray:
        return firwin(taps, cutoff, window=("kaiser", beta), scale=False)

    def aliasing(cutoff: float) -> float:
        h = prototype(cutoff)
        product = np.convolve(h, h[::-1])
        return float(np.abs(product[len(product) // 2 :: 2 * bands][1:]).max())

    ideal = 1.0 / (2 * bands)
    found = minimize_scalar(
        aliasing, bounds=(0.5 * ideal, 1.5 * ideal), method="bounded", options={"xatol": 1e-9}
    )
    h = prototype(found.x)
    n = np.arange(taps) - (taps - 1) / 2
    k = np.arange(bands)[:, None]
    return 2 * h * np.cos((2 * k + 1) * np.pi / (2 * bands) * n + (-1) ** k * np.pi / 4)


@pytest.mark.parametrize("bands", [2, 4, 8, 16, 32, 64])
def test_pqmf_filters_equal_the_scipy_design(bands):
    """Same shape, and equal to 1e-10 (measured: bit for bit; a cutoff off by Brent's
    tolerance, 1e-9, would already move the filters by about 1e-9)."""
    pytest.importorskip("scipy")
    expected = scipy_pqmf_filters(bands)
    got = pqmf_filters(bands)
    assert got.shape == expected.shape
    assert got.dtype == np.float64
    assert np.abs(got - expected).max() < 1e-10


def test_pqmf_filters_other_attenuation_and_bad_one():
    """The attenuation is honoured as SciPy's design did; below 8 dB Kaiser's formula fails."""
    pytest.importorskip("scipy")
    assert np.abs(pqmf_filters(8, 60.0) - scipy_pqmf_filters(8, 60.0)).max() < 1e-10
    with pytest.raises(ValueError, match="8 dB"):
        pqmf_filters(4, 5.0)


def test_pqmf_filters_import_no_scipy():
    """Building the bank (every fvae load) imports neither SciPy nor what would pull it in
    (librosa's package is a lazy stub that may be there; its modules must not be)."""
    code = (
        "import sys\n"
        "from sonogen.models.fvae import PQMF\n"
        "PQMF(16)\n"
        f"print(sorted(m for m in {HEAVY!r} if m in sys.modules))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True
    )
    assert done.stdout.strip() == "[]", done.stdout + done.stderr
