"""The shared scalar checks of clipsgd._validate, seen through several public entry points.

A fix in one checker must reach every parameter that uses it, so each case below goes
through a different public function or constructor.
"""

import numpy as np
import pytest

import clipsgd
from clipsgd import DPSGD, ClippedSGD, problems
from clipsgd._validate import check_positive, check_real
from clipsgd.exact import stationary_points


@pytest.mark.parametrize("value", [1 + 1j, 1j, 2 + 0j, np.complex64(1), np.array(1 + 1j)])
def test_check_real_refuses_complex_with_the_name(value):
    # complex passes the "is a number" test but is not real: before the fix float() raised
    # "float() argument must be a string or a real number, not 'complex'" without the name
    with pytest.raises(TypeError, match=r"^lr must be a real number \(got"):
        check_real("lr", value)
    with pytest.raises(TypeError, match=r"^lr must be a real number"):
        check_positive("lr", value)


@pytest.mark.parametrize("call, name", [
    (lambda: clipsgd.clip([3.0, 4.0], 1 + 1j), "c"),
    (lambda: ClippedSGD(lr=0.1, c=1j), "c"),
    (lambda: ClippedSGD(lr=1j, c=1.0), "lr"),
    (lambda: DPSGD(lr=0.1, c=1, noise_multiplier=1 + 1j, sample_rate=0.5), "noise_multiplier"),
    (lambda: DPSGD(lr=0.1, c=1, noise_multiplier=1.0, sample_rate=0.5 + 0j), "sample_rate"),
    (lambda: stationary_points(problems.example1(), c=1 + 1j), "c"),
])
def test_complex_scalars_name_the_parameter_at_every_entry_point(call, name):
    # same message as any other wrong type ("c must be a real number"), whatever the caller
    with pytest.raises(TypeError, match=rf"^{name} must be a real number"):
        call()


def test_real_numpy_scalars_and_zero_d_arrays_still_pass():
    # the complex check must not refuse NumPy reals
    assert check_real("c", np.float32(0.5)) == 0.5
    assert check_real("c", np.int64(3)) == 3.0
    assert check_real("c", np.array(2.5)) == 2.5
