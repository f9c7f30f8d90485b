"""funcgrad.numpy against numpy's namespace: nothing a user meets is missing.

Every function the breadth issue lists exists in funcgrad.numpy (and in numpy, so the list
has no typos); every numpy ufunc with a floating-point loop has a funcgrad.numpy twin
(the exceptions are listed with their reasons); and the README's list of functions is the
table's.
"""

from __future__ import annotations

import re
import textwrap
from pathlib import Path

import numpy as np
import pytest

import funcgrad.numpy as fnp

README = Path(__file__).resolve().parent.parent / "README.md"

LISTED = {
    "": """
        sinh cosh arcsinh arccosh arctanh arcsin arccos arctan arctan2 hypot log2 log10 log1p
        expm1 exp2 logaddexp logaddexp2 sinc deg2rad rad2deg degrees radians floor ceil round
        rint trunc fix fabs sign absolute square cbrt reciprocal mod remainder fmod
        floor_divide true_divide float_power fmax fmin copysign nan_to_num clip real imag conj
        conjugate angle isnan isinf isfinite signbit less less_equal greater greater_equal
        equal not_equal logical_and logical_or logical_xor logical_not
        all any cumsum cumprod nansum nanmean ptp average var std median percentile quantile
        sort argsort partition argmax argmin
        vstack hstack dstack column_stack row_stack append split array_split hsplit vsplit
        dsplit tile repeat flip fliplr flipud rot90 roll tril triu diag diagonal trace diff
        kron inner outer vdot cross convolve correlate meshgrid atleast_1d atleast_2d
        atleast_3d take take_along_axis select where pad full full_like zeros_like ones_like
        eye identity linspace arange einsum
    """,
    "linalg": """
        norm inv pinv solve lstsq det slogdet cholesky qr eigh eigvalsh eig svd matrix_power
        multi_dot tensorsolve tensorinv
    """,
    "fft": """
        fft ifft fft2 ifft2 fftn ifftn rfft irfft rfft2 irfft2 rfftn irfftn hfft ihfft
        fftshift ifftshift fftfreq rfftfreq
    """,
}

# numpy ufuncs with a floating-point loop that funcgrad.numpy leaves out, and why.
NOT_DIFFERENTIABLE_UFUNCS = {
    "frexp": "splits floats into mantissa and exponent: bit manipulation, no derivative",
    "ldexp": "scales by integer powers of two: bit manipulation",
    "modf": "two outputs (fractional, integral part); use x - trunc(x) and trunc(x)",
    "nextafter": "the next representable float: no derivative",
    "spacing": "the distance to the next float: no derivative",
}


@pytest.mark.parametrize("module", sorted(LISTED))
def test_every_listed_function_is_in_funcgrad_numpy(module: str) -> None:
    ours = getattr(fnp, module) if module else fnp
    theirs = getattr(np, module) if module else np
    names = LISTED[module].split()
    assert [n for n in names if not hasattr(theirs, n)] == []  # the list itself is numpy's
    assert [n for n in names if not callable(getattr(ours, n, None))] == []


def test_every_float_ufunc_of_numpy_has_a_twin() -> None:
    ufuncs = [n for n in dir(np) if isinstance(getattr(np, n), np.ufunc)]
    floating = [n for n in ufuncs if any(t.split("->")[-1] in ("d", "dd", "D")
                                         for t in getattr(np, n).types)]
    missing = [n for n in floating if not hasattr(fnp, n) and n not in NOT_DIFFERENTIABLE_UFUNCS]
    assert missing == []


def functions_block() -> str:
    """The README's list of funcgrad.numpy's functions, made from the table."""
    names = sorted(fnp.TABLE)
    return "\n".join(textwrap.wrap(" ".join(names), 88))


def test_readme_lists_every_function_of_the_table() -> None:
    text = README.read_text()
    found = re.search(r"<!-- functions: generated from funcgrad.numpy.TABLE -->\n```text\n"
                      r"(.*?)\n```", text, flags=re.S)
    assert found, "README.md lost its generated list of funcgrad.numpy functions"
    assert found.group(1) == functions_block(), (
        "README.md's list of functions is out of date; replace it with:\n" + functions_block())
