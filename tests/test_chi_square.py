"""The χ² quantile of the OOD threshold against scipy, without importing scipy.stats at run time."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
from numpy.testing import assert_allclose
from scipy.special import gammainc, gammaincc
from scipy.stats import chi2

from harbridge.calibration.chi_square import chi2_quantile, regularized_gamma
from harbridge.calibration.gaussian import OOD_QUANTILE, GaussianClassifier

DOFS = np.arange(1, 513)


@pytest.mark.parametrize("probability", [OOD_QUANTILE, 0.99, 0.9, 0.5, 0.1, 1e-3])
def test_quantile_matches_scipy_for_every_rank_up_to_512(probability: float) -> None:
    ours = np.array([chi2_quantile(probability, int(k)) for k in DOFS])
    assert_allclose(ours, chi2.ppf(probability, DOFS), rtol=1e-10)


@pytest.mark.parametrize(
    ("probability", "dof"),
    [(1e-12, 0.3), (1e-12, 1), (1 - 1e-9, 2), (0.999, 0.5), (0.5, 5000), (0.999, 100_000)],
)
def test_quantile_far_in_the_tails_and_beyond_integer_ranks(probability: float, dof: float) -> None:
    assert_allclose(chi2_quantile(probability, dof), chi2.ppf(probability, dof), rtol=1e-10)


@pytest.mark.parametrize("a", [0.5, 1.0, 3.5, 16.0, 256.0])
@pytest.mark.parametrize("relative_x", [1e-3, 0.5, 1.0, 1.5, 4.0])
def test_regularized_gamma_matches_scipy_in_both_branches(a: float, relative_x: float) -> None:
    x = relative_x * (a + 1.0)
    lower, upper = regularized_gamma(a, x)
    assert_allclose([lower, upper], [gammainc(a, x), gammaincc(a, x)], rtol=1e-12, atol=1e-300)
    assert lower + upper == pytest.approx(1.0, abs=1e-15)


@pytest.mark.parametrize(("probability", "dof"), [(0.0, 3), (1.0, 3), (1.5, 3), (0.5, 0)])
def test_quantile_refuses_what_has_none(probability: float, dof: float) -> None:
    with pytest.raises(ValueError, match="must"):
        chi2_quantile(probability, dof)


def test_threshold_equals_scipy_quantile_and_scipy_stats_is_not_imported() -> None:
    rng = np.random.default_rng(0)
    y = np.repeat(np.arange(3), 40)
    model = GaussianClassifier().fit(rng.normal(size=(120, 7)) + y[:, None], y, 3)
    assert_allclose(model.ood_threshold_, np.sqrt(chi2.ppf(OOD_QUANTILE, 7)), rtol=1e-12)
    # In a fresh interpreter: a calibration's head must not pay for the scipy.stats import.
    code = (
        "import sys, numpy as np\n"
        "from harbridge.calibration.gaussian import GaussianClassifier\n"
        "y = np.arange(60) % 3\n"
        "GaussianClassifier().fit(np.random.default_rng(0).normal(size=(60, 4)) + y[:, None], y, 3)\n"
        "print('scipy.stats' in sys.modules, 'scipy.special' in sys.modules)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.split() == ["False", "False"]
