"""Tests of funcgrad.scipy (special, linalg, stats), which is written on numpy alone.

* Values against scipy's: the reference numbers below were computed once with scipy 1.17.1
  (float64) and written out here; scipy is not imported.
* Derivatives: check_grads to second order, forward and reverse, against finite
  differences; at special points (xlogy(0, 0), logit at 0 and 1, log_ndtr far in the
  tail, -inf logits) and for the triangle a solve reads, against JAX's gradients
  (computed once with JAX 0.10.2 in float64, written out here).
* float32 in gives float32 out, values and gradients; vmap against a loop; jit against
  the eager call; stability at logits of +-1e4; the errors.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

import funcgrad.numpy as fnp
from funcgrad import ShapeError, grad, jacrev, jit, jvp, vmap
from funcgrad.scipy import linalg, special, stats
from funcgrad.scipy.stats import multivariate_normal as mvn
from funcgrad.scipy.stats import norm
from funcgrad.testing import check_grads

NDArray = np.ndarray[Any, Any]


# ---------------------------------------------------------------------------- inputs

Z = np.array([-6, -2.5, -1.2, -0.3, 1e-10, 0.7, 1.25, 1.3, 3, 10, 27])
X = np.array([-1e4, -200, -38, -20, -5, -1.77, -1, 0, 0.5, 3, 9, 40])
P = np.array([1e-10, 0.1, 0.5, 0.9, 1 - 1e-10])
E = np.array([-800, -30, -1, 0, 0.5, 20, 800.0])
XY = np.array([0.5, 2, -1.5, 3])
YY = np.array([1e-3, 0.7, 5, 1e10])
L23 = np.array([[1.0, 2, 3], [0.5, -1, 4]])
XN = np.array([-50, -3, 0.2, 1, 7, 60.0])
LOC, SCALE = 0.5, 2.5
C = np.array([[2.0, 0.3, -0.4], [0.3, 1.5, 0.2], [-0.4, 0.2, 1.0]])
MU = np.array([0.1, -0.2, 0.3])
XM = np.array([[0.5, 1.0, -1.0], [0.0, 0.0, 0.0], [2.0, -1.0, 0.5], [-0.3, 0.8, 1.2]])
DIAG = np.array([0.5, 2, 1.5])
A1 = np.array([[0.3, -1.2, 0.5], [0.8, 0.1, -0.7], [-0.4, 0.9, 0.2]])
A2 = np.array([[1.5, 2.0, -3.0, 0.5], [-2.5, 0.5, 1.0, 4.0], [3.0, -1.0, 2.0, -2.0],
               [0.5, 3.5, -1.5, 1.0]])  # 1-norm 9: two squarings
A3 = np.array([[1.0, 1e3], [0.0, 2.0]])  # far from normal: 8 squarings
W = np.array([[1.0, -2.0, 0.5], [0.3, 1.2, -0.7], [2.0, 0.1, 0.4]])
T = np.array([[2.0, 0.5, -0.3], [0.1, 1.5, 0.4], [-0.2, 0.3, 1.8]])
B = np.array([[1.0, -1.0], [0.5, 2.0], [-0.3, 0.7]])


# ---------------------------------------------------------------------------- scipy's values

# scipy 1.17.1 at the inputs above (see the module docstring).
ERF = [-1.0, -9.9959304798255499e-01, -9.1031397822963533e-01, -3.2862675945912739e-01,
       1.1283791670955126e-10, 6.7780119383741833e-01, 9.2290012825645817e-01,
       9.3400794494065242e-01, 9.9997790950300136e-01, 1.0, 1.0]
ERFC = [2.0, 1.9995930479825550e+00, 1.9103139782296354e+00, 1.3286267594591274e+00,
        9.9999999988716204e-01, 3.2219880616258167e-01, 7.7099871743541770e-02,
        6.5992055059347576e-02, 2.2090496998585445e-05, 2.0884875837625446e-45, 0.0]
NDTR = [0.0, 0.0, 0.0, 2.7536241186061556e-89, 2.8665157187919328e-07, 3.8363570362871219e-02,
        1.5865525393145707e-01, 0.5, 6.9146246127401312e-01, 9.9865010196836990e-01, 1.0, 1.0]
LOG_NDTR = [-5.0000010129278921e+07, -2.0006217280898189e+04, -7.2655721601882010e+02,
            -2.0391715537109729e+02, -1.5064998393988727e+01, -3.2606469581450668e+00,
            -1.8410216450092634e+00, -6.9314718055994529e-01, -3.6894641528865635e-01,
            -1.3508099647481925e-03, -1.1285884059538324e-19, -0.0]
LOGIT = [-23.025850929840455, -2.197224577336219, 0.0, 2.1972245773362196, 23.025850847100088]
EXPIT = [0.0, 9.357622968839299e-14, 2.689414213699951e-01, 0.5, 6.224593312018546e-01,
         9.999999979388463e-01, 1.0]
XLOGY = [-3.4538776394910684, -0.7133498878774649, -2.4141568686511503, 69.07755278982137]
XLOG1PY = [4.9975016654176657e-04, 1.0612565021243408e+00, -2.6876392038420827e+00,
           6.9077552790121359e+01]
SOFTMAX_ALL = [[0.03131385992657585, 0.08511989641732304, 0.23137986767152538],
               [0.018992816119415046, 0.004237870102394759, 0.628955689762766]]
SOFTMAX_0 = [[0.6224593312018546, 0.9525741268224334, 0.2689414213699951],
             [0.37754066879814546, 0.04742587317756679, 0.7310585786300049]]
LOG_SOFTMAX_1 = [[-2.4076059644443806, -1.4076059644443804, -0.4076059644443804],
                 [-3.5362695651247793, -5.036269565124779, -0.03626956512477912]]
LOG_SOFTMAX_ALL = [[-3.4636944702912933, -2.4636944702912933, -1.4636944702912933],
                   [-3.9636944702912933, -5.463694470291293, -0.46369447029129335]]
NORM_LOGPDF = [-205.8552292650788, -2.8152292650788278, -1.8424292650788279,
               -1.8552292650788278, -5.215229265078828, -285.0552292650788]
NORM_PDF = [3.9646956951464711e-90, 5.9890986254297951e-02, 1.5843208471746245e-01,
            1.5641707759018236e-01, 5.4331876934742458e-03, 1.5925273239013232e-124]
NORM_CDF = [4.8948636547651305e-91, 8.0756659233771066e-02, 4.5224157397941617e-01,
            5.7925970943910299e-01, 9.9533881197628127e-01, 1.0]
NORM_LOGCDF = [-2.0794705704084419e+02, -2.5163148529883292e+00, -7.9353878621381679e-01,
               -5.4600435372277423e-01, -4.6720852364394013e-03, -1.6698851022407859e-125]
NORM_SF = [1.0, 9.1924334076622893e-01, 5.4775842602058389e-01, 4.2074029056089696e-01,
           4.6611880237187467e-03, 1.6698851022407859e-125]
NORM_LOGSF = [-4.8948636547651305e-91, -8.4204403030172695e-02, -6.0192091765712996e-01,
              -8.6573952268159515e-01, -5.3684849226242655e+00, -2.8731038180124739e+02]
MVN_MATRIX = [-4.870085049097572, -3.3152070003170833, -4.8731338295853766, -3.877008731237618]
MVN_DIAG = [-4.042881487001433, -3.0095481536681, -6.7428814870014335, -3.6395481536681005]
MVN_SCALAR = [-4.571803183705919, -2.3218031837059194, -5.2860888979916325, -3.628946040848776]
MVN_1D = [-1.8280121234846454, -1.2755121234846454, -1.8280121234846454]
EXPM_A1 = [[7.1834472531241855e-01, -8.3491609176673576e-01, 9.1459037475938743e-01],
           [8.6166040628237173e-01, 3.1358844402176145e-01, -3.7790023466416983e-01],
           [4.4692844340484168e-04, 1.0088140361760147e+00, 7.9734861563996318e-01]]
EXPM_A2 = [[-18.72065105842844, 23.764853552617407, 3.8979089460781573, 31.984396505851155],
           [-5.3458894059398, 14.439231389848251, 6.0495399825786, 17.192491519398434],
           [4.270988400353378, -1.6343339038744455, -6.035737885937196, -3.546663122536802],
           [-16.442929554887478, 26.11971732721358, 7.385745638392624, 33.772200259532454]]
EXPM_A3 = [[2.718281828459045, 4.670774270471606e+03], [0.0, 7.389056098930650]]
# solve_triangular(T, B, trans='T', lower=True, unit_diagonal=True)
SOLVE_T_UNIT = [[0.8809999999999999, -1.039], [0.59, 1.79], [-0.3, 0.7]]

# (name, function, arguments, scipy's value, relative tolerance)
VALUES: list[tuple[str, Callable[..., Any], tuple[NDArray, ...], Any, float]] = [
    ("erf", special.erf, (Z,), ERF, 1e-15),
    ("erfc", special.erfc, (Z,), ERFC, 5e-15),
    ("ndtr", special.ndtr, (X,), NDTR, 5e-15),
    ("log_ndtr", special.log_ndtr, (X,), LOG_NDTR, 5e-15),
    ("logit", special.logit, (P,), LOGIT, 1e-15),
    ("expit", special.expit, (E,), EXPIT, 2e-15),
    ("xlogy", special.xlogy, (XY, YY), XLOGY, 1e-15),
    ("xlog1py", special.xlog1py, (XY, YY), XLOG1PY, 1e-15),
    ("softmax", special.softmax, (L23,), SOFTMAX_ALL, 1e-15),
    ("softmax_axis0", lambda x: special.softmax(x, axis=0), (L23,), SOFTMAX_0, 1e-15),
    ("log_softmax_axis1", lambda x: special.log_softmax(x, 1), (L23,), LOG_SOFTMAX_1, 1e-15),
    ("log_softmax", special.log_softmax, (L23,), LOG_SOFTMAX_ALL, 1e-15),
    ("norm.logpdf", lambda x: norm.logpdf(x, LOC, SCALE), (XN,), NORM_LOGPDF, 1e-15),
    ("norm.pdf", lambda x: norm.pdf(x, LOC, SCALE), (XN,), NORM_PDF, 1e-13),
    ("norm.cdf", lambda x: norm.cdf(x, LOC, SCALE), (XN,), NORM_CDF, 1e-13),
    ("norm.logcdf", lambda x: norm.logcdf(x, LOC, SCALE), (XN,), NORM_LOGCDF, 1e-14),
    ("norm.sf", lambda x: norm.sf(x, LOC, SCALE), (XN,), NORM_SF, 1e-13),
    ("norm.logsf", lambda x: norm.logsf(x, LOC, SCALE), (XN,), NORM_LOGSF, 1e-14),
    ("mvn.logpdf", mvn.logpdf, (XM, MU, C), MVN_MATRIX, 1e-14),
    ("mvn.logpdf_diagonal", mvn.logpdf, (XM, MU, DIAG), MVN_DIAG, 1e-14),
    ("mvn.logpdf_scalar", lambda x, m: mvn.logpdf(x, m, 0.7), (XM, MU), MVN_SCALAR, 1e-14),
    ("mvn.logpdf_1d", lambda x: mvn.logpdf(x, 0.5, 2.0), (np.array([-1.0, 0.3, 2]),), MVN_1D,
     1e-14),
    # (expm: scipy's and ours differ by rounding, amplified by the squarings; A3's
    # diagonal is squared 256 times, and ours is 2e-14 from e and e^2)
    ("expm", linalg.expm, (A1,), EXPM_A1, 1e-13),
    ("expm_squared", linalg.expm, (A2,), EXPM_A2, 1e-13),
    ("expm_nonnormal", linalg.expm, (A3,), EXPM_A3, 3e-14),
    ("solve_triangular", lambda a, b: linalg.solve_triangular(
        a, b, trans="T", lower=True, unit_diagonal=True), (T, B), SOLVE_T_UNIT, 1e-15),
]


@pytest.mark.parametrize("name,f,args,expected,rtol", VALUES, ids=[v[0] for v in VALUES])
def test_values_match_scipy(name: str, f: Callable[..., Any], args: tuple[NDArray, ...],
                            expected: Any, rtol: float) -> None:
    got = f(*args)
    assert got.dtype == np.float64
    # (atol: scipy gives 0 where the value is subnormal, e.g. erfc(27) = 5.2e-319)
    np.testing.assert_allclose(got, expected, rtol=rtol, atol=1e-300)
    np.testing.assert_allclose(jit(f)(*args), expected, rtol=rtol, atol=1e-300)


def test_the_error_function_family_at_infinities_and_nan() -> None:
    ends = np.array([-np.inf, np.inf, np.nan])
    np.testing.assert_array_equal(special.erf(ends), [-1, 1, np.nan])
    np.testing.assert_array_equal(special.erfc(ends), [2, 0, np.nan])
    np.testing.assert_array_equal(special.ndtr(ends), [0, 1, np.nan])
    np.testing.assert_array_equal(special.log_ndtr(ends), [-np.inf, 0, np.nan])
    assert np.signbit(special.erf(-0.0))


def test_logsumexp_is_funcgrad_numpys() -> None:
    assert special.logsumexp is fnp.logsumexp


# ---------------------------------------------------------------------------- derivatives

POINTS = np.array([-3.0, -1.3, -0.4, 0.2, 1.1, 2.5])  # both sides of every branch
SPD = C + 0.5 * np.eye(3)
BATCH = np.stack([C, 2 * C + np.eye(3)])

# (name, function, arguments): differentiated to second order in every argument
GRADIENTS: list[tuple[str, Callable[..., Any], tuple[NDArray, ...]]] = [
    ("erf", special.erf, (POINTS,)),
    ("erfc", special.erfc, (POINTS,)),
    ("ndtr", special.ndtr, (POINTS,)),
    ("log_ndtr", special.log_ndtr, (np.array([-30.0, -2.0, -0.5, 1.0, 4.0]),)),
    ("logit", special.logit, (np.array([0.05, 0.3, 0.5, 0.9]),)),
    ("expit", special.expit, (POINTS,)),
    ("xlogy", special.xlogy, (XY, np.array([0.2, 0.7, 5, 3]))),
    ("xlog1py", special.xlog1py, (XY, np.array([-0.6, 0.7, 5, 3]))),
    ("softmax", special.softmax, (L23,)),
    ("softmax_axis1", lambda x: special.softmax(x, axis=1), (L23,)),
    ("log_softmax_axes", lambda x: special.log_softmax(x, axis=(0, 1)), (L23,)),
    ("norm.logpdf", norm.logpdf, (POINTS, np.full(6, 0.3), np.full(6, 1.7))),
    ("norm.cdf", norm.cdf, (POINTS, np.full(6, 0.3), np.full(6, 1.7))),
    ("norm.logsf", lambda x, s: norm.logsf(x, 0.3, s), (POINTS, np.full(6, 1.7))),
    ("mvn.logpdf", mvn.logpdf, (XM, MU, SPD)),
    ("mvn.logpdf_diagonal", mvn.logpdf, (XM, MU, DIAG)),
    ("cholesky", linalg.cholesky, (SPD,)),
    ("cholesky_lower_batched", lambda a: linalg.cholesky(a, lower=True), (BATCH,)),
    ("cho_solve", lambda a, b: linalg.cho_solve(linalg.cho_factor(a), b), (SPD, B)),
    ("cho_solve_lower", lambda a, b: linalg.cho_solve(linalg.cho_factor(a, lower=True), b),
     (SPD, B[:, 0])),
    ("solve_triangular", lambda a, b: linalg.solve_triangular(a, b, trans=1), (T, B)),
    ("solve_triangular_lower_unit", lambda a, b: linalg.solve_triangular(
        a, b, lower=True, unit_diagonal=True), (T, B[:, 1])),
    ("expm", linalg.expm, (A1,)),
    ("expm_squared", linalg.expm, (A2 / 3,)),
]


@pytest.mark.parametrize("name,f,args", GRADIENTS, ids=[g[0] for g in GRADIENTS])
def test_gradients_match_finite_differences(name: str, f: Callable[..., Any],
                                            args: tuple[NDArray, ...]) -> None:
    check_grads(f, args, order=2)


# JAX 0.10.2's gradients at special points (see the module docstring).
@pytest.mark.filterwarnings("ignore:.*encountered in:RuntimeWarning")  # numpy's, at inf/nan
def test_xlogy_and_xlog1py_at_zero_as_jax() -> None:
    for f, zero in ((special.xlogy, 0.0), (special.xlog1py, -1.0)):
        assert f(0.0, zero) == 0 and f(0.0, 2.0) == 0 and np.isnan(f(0.0, np.nan))
        dx, dy = grad(f, (0, 1))(0.0, zero)
        assert dx == -np.inf and np.isnan(dy)
    np.testing.assert_allclose(grad(special.xlogy, (0, 1))(0.0, 2.0), [0.6931471805599453, 0])
    np.testing.assert_allclose(grad(special.xlog1py, (0, 1))(0.0, 2.0), [1.0986122886681098, 0])
    assert grad(special.xlogy, (0, 1))(0.0, np.inf) == (np.inf, 0)


@pytest.mark.filterwarnings("ignore:.*encountered in:RuntimeWarning")
def test_logit_at_0_and_1_as_jax() -> None:
    np.testing.assert_array_equal(special.logit(np.array([0.0, 1.0])), [-np.inf, np.inf])
    assert grad(special.logit)(0.0) == np.inf and grad(special.logit)(1.0) == np.inf


def test_normal_cdf_derivatives_in_the_tails() -> None:
    d = grad(special.log_ndtr)
    # JAX's rule, pdf / cdf; at -40 the exact value (50 digits, from the continued
    # fraction in decimal arithmetic): JAX's is 1.6e-11 off there, its log_ndtr being a
    # truncated asymptotic series
    np.testing.assert_allclose([d(-40.0), d(0.0), d(10.0)],
                               [40.024968847207264, 0.7978845608028654, 7.694598626706409e-23],
                               rtol=1e-13)
    # -x - 1/x asymptotically; both JAX and this rule lose digits to exp of a difference
    np.testing.assert_allclose(d(-1e4), 1e4 + 1e-4, rtol=1e-8)
    # -r (x + r) with r = pdf / cdf, exact at -40 (x + r cancels: 1e-9)
    np.testing.assert_allclose([grad(d)(-40.0), grad(d)(0.0)],
                               [-0.9993773316214086, -0.6366197723675814], rtol=1e-9)
    assert grad(special.ndtr)(-40.0) == 0
    np.testing.assert_allclose(grad(grad(special.erfc))(0.5), 0.8787825789354448, rtol=1e-15)


def test_solve_triangular_gradient_lies_in_the_triangle_read_as_jax() -> None:
    lower = grad(lambda a: fnp.sum(linalg.solve_triangular(a, B, lower=True) * B[:, :1]))(T)
    np.testing.assert_allclose(lower, [[0.0, 0.0, 0.0], [0.0, -0.611111111111111, 0.0],
                                       [0.0, 0.27777777777777773, -0.00925925925925925]],
                               rtol=1e-14, atol=1e-16)
    unit = grad(lambda a: fnp.sum(linalg.solve_triangular(a, B, trans=1, unit_diagonal=True)))(T)
    np.testing.assert_allclose(unit, [[0.0, 0.0, 0.0], [0.0, 0.0, -2.5], [0.0, 0.0, 0.0]],
                               atol=1e-15)


def test_expm_and_multivariate_normal_gradients_equal_jax() -> None:
    np.testing.assert_allclose(
        grad(lambda a: fnp.sum(linalg.expm(a) * W))(A1),
        [[1.8371121387204457, -0.6388172802409067, -0.8012551861119417],
         [-0.49391855358289155, 2.063410089315358, 0.3138004927514033],
         [2.7666185151055327, -0.14854513675549041, 0.2649989939259212]], rtol=1e-13)
    # symmetric, as JAX's (the covariance is symmetrized before its Cholesky factor)
    np.testing.assert_allclose(
        grad(lambda c: mvn.logpdf(XM[0], MU, c))(C),
        [[-0.24594058216920328, -0.0795757938544335, 0.10420296996300077],
         [-0.0795757938544335, 0.21561790247988002, -0.7735376903272851],
         [0.10420296996300077, -0.7735376903272851, 0.7557711021324824]], rtol=1e-13)


@pytest.mark.filterwarnings("ignore:.*encountered in:RuntimeWarning")
def test_softmax_with_minus_infinity_logits_as_jax() -> None:
    x = np.array([0.0, -np.inf, 1.0])
    np.testing.assert_allclose(special.softmax(x), [0.2689414213699951, 0, 0.7310585786300049])
    np.testing.assert_allclose(jacrev(special.log_softmax)(x),
                               [[0.7310585786300049, 0, -0.7310585786300049],
                                [-0.2689414213699951, 1, -0.7310585786300049],
                                [-0.2689414213699951, 0, 0.2689414213699951]], rtol=1e-15)
    rows = np.array([[-np.inf, -np.inf], [0.0, 1.0]])
    assert np.isnan(special.softmax(rows, axis=1)[0]).all()
    assert np.isnan(special.log_softmax(rows, axis=1)[0]).all()
    np.testing.assert_allclose(special.softmax(rows, axis=1)[1],
                               special.expit(np.array([-1.0, 1.0])))


def test_softmax_at_logits_of_1e4_in_float32_as_jax() -> None:
    x = np.array([[1e4, -1e4, 0.0], [-1e4, -1e4, -1e4 + 1]], np.float32)
    s, ls = special.softmax(x, axis=1), special.log_softmax(x, axis=1)
    assert s.dtype == ls.dtype == np.float32
    np.testing.assert_allclose(s, [[1.0, 0.0, 0.0], [0.21194156, 0.21194156, 0.57611686]],
                               rtol=1e-6)
    np.testing.assert_allclose(ls, [[0.0, -2e4, -1e4], [-1.5514448, -1.5514448, -0.55144471]],
                               rtol=1e-6)
    g = grad(lambda x: fnp.sum(special.log_softmax(x, axis=1)[:, 0]))(x)
    assert g.dtype == np.float32
    np.testing.assert_allclose(g, [[0.0, 0.0, 0.0], [0.78805846, -0.21194156, -0.57611686]],
                               rtol=1e-6, atol=1e-7)
    assert np.isfinite(special.logsumexp(x)) and np.isfinite(special.expit(x)).all()


# ---------------------------------------------------------------------------- float32, vmap, jit


@pytest.mark.parametrize("name,f,args", GRADIENTS, ids=[g[0] for g in GRADIENTS])
def test_float32_in_float32_out_values_and_gradients(name: str, f: Callable[..., Any],
                                                     args: tuple[NDArray, ...]) -> None:
    single = tuple(a.astype(np.float32) for a in args)
    out = f(*single)
    assert out.dtype == np.float32
    np.testing.assert_allclose(out, f(*args), rtol=2e-5, atol=1e-6)

    def total(*xs: Any) -> Any:
        return fnp.sum(f(*xs))

    gradients = grad(total, tuple(range(len(args))))(*single)
    assert all(g.dtype == np.float32 for g in gradients)
    expected = grad(total, tuple(range(len(args))))(*args)
    for g, e in zip(gradients, expected):
        np.testing.assert_allclose(g, e, rtol=1e-4, atol=1e-5)
    tangent = jvp(total, single, tuple(np.ones_like(a) for a in single))[1]
    assert tangent.dtype == np.float32
    np.testing.assert_allclose(tangent, sum(np.sum(g) for g in expected), rtol=1e-4, atol=1e-5)


def test_python_scalars_are_weak_and_integers_become_float64() -> None:
    x = np.array([0.5, 2.0], np.float32)
    assert special.xlogy(x, 3.0).dtype == np.float32
    assert norm.logpdf(x).dtype == norm.cdf(x, 1, 2).dtype == np.float32
    assert mvn.logpdf(x, 0.0, 2.0).dtype == np.float32
    assert special.erf(np.arange(3)).dtype == special.expit(0).dtype == np.float64
    assert linalg.expm(np.eye(2, dtype=np.int64)).dtype == np.float64


# A batch of inputs for each function: vmap over the leading axis against a loop.
BATCHED: list[tuple[str, Callable[..., Any], tuple[NDArray, ...]]] = [
    ("erf", special.erf, (Z.reshape(1, -1) * [[1], [0.5]],)),
    ("log_ndtr", special.log_ndtr, (X.reshape(2, 6),)),
    ("xlogy", special.xlogy, (XY.reshape(2, 2), YY.reshape(2, 2))),
    ("logit", special.logit, (P[1:].reshape(2, 2),)),
    ("log_softmax", special.log_softmax, (np.stack([L23, -L23]),)),
    ("norm.logcdf", norm.logcdf, (XN.reshape(2, 3), np.array([0.5, -1]))),
    ("mvn.logpdf", mvn.logpdf, (np.stack([XM, -XM]), np.stack([MU, 2 * MU]), BATCH)),
    ("cholesky", linalg.cholesky, (BATCH,)),
    ("solve_triangular", lambda a, b: linalg.solve_triangular(a, b, lower=True),
     (BATCH, np.stack([B, -B]))),
    ("expm", linalg.expm, (np.stack([A1, A2[:3, :3], 30 * A1]),)),
]


@pytest.mark.parametrize("name,f,args", BATCHED, ids=[b[0] for b in BATCHED])
def test_vmap_matches_a_loop_and_jit_the_eager_call(name: str, f: Callable[..., Any],
                                                    args: tuple[NDArray, ...]) -> None:
    loop = np.stack([f(*xs) for xs in zip(*args)])
    np.testing.assert_allclose(vmap(f)(*args), loop, rtol=1e-13, atol=1e-300)
    np.testing.assert_allclose(jit(vmap(f))(*args), loop, rtol=1e-13, atol=1e-300)
    gradient = grad(lambda *xs: fnp.sum(vmap(f)(*xs)))
    np.testing.assert_allclose(jit(gradient)(*args), gradient(*args), rtol=1e-13)


def test_mvn_logpdf_batches_points_and_covariances() -> None:
    np.testing.assert_allclose(mvn.logpdf(XM, MU, np.stack([C, C, C, C])), MVN_MATRIX,
                               rtol=1e-14)
    np.testing.assert_allclose(vmap(mvn.logpdf, (0, None, None))(XM, MU, C), MVN_MATRIX,
                               rtol=1e-14)
    np.testing.assert_allclose(mvn.pdf(XM, MU, C), np.exp(MVN_MATRIX), rtol=1e-14)
    assert np.shape(mvn.logpdf(XM[0], MU, C)) == () and mvn.logpdf(XM[:1], MU, C).shape == (1,)
    np.testing.assert_allclose(mvn.logpdf(XM - MU, None, C), MVN_MATRIX, rtol=1e-14)


# ---------------------------------------------------------------------------- linalg semantics


def test_cholesky_reads_the_triangle_it_is_asked_for() -> None:
    upper_only = np.triu(SPD) + np.tril(np.full((3, 3), 99.0), -1)
    lower_only = upper_only.T
    u = linalg.cholesky(upper_only)
    np.testing.assert_allclose(u, np.linalg.cholesky(SPD).T, rtol=1e-15)
    np.testing.assert_allclose(linalg.cholesky(lower_only, lower=True), u.T, rtol=1e-15)
    c, lower = linalg.cho_factor(upper_only)
    assert lower is False
    np.testing.assert_array_equal(c, u)
    np.testing.assert_allclose(SPD @ linalg.cho_solve((c, lower), B), B, rtol=1e-14)
    c, lower = linalg.cho_factor(lower_only, lower=True)
    np.testing.assert_allclose(SPD @ linalg.cho_solve((c, lower), B[:, 0]), B[:, 0], rtol=1e-14)


@pytest.mark.parametrize("trans,op", [(0, lambda t: t), ("N", lambda t: t),
                                      (1, lambda t: t.T), ("T", lambda t: t.T),
                                      (2, lambda t: t.conj().T), ("C", lambda t: t.conj().T)])
@pytest.mark.parametrize("lower", [False, True])
@pytest.mark.parametrize("unit_diagonal", [False, True])
def test_solve_triangular_options(trans: Any, op: Callable[[NDArray], NDArray], lower: bool,
                                  unit_diagonal: bool) -> None:
    a = T + 1j * W  # complex: trans 'C' conjugates
    t = np.tril(a) if lower else np.triu(a)
    if unit_diagonal:
        np.fill_diagonal(t, 1)
    x = linalg.solve_triangular(a, B, trans=trans, lower=lower, unit_diagonal=unit_diagonal)
    np.testing.assert_allclose(op(t) @ x, B, atol=1e-14)


def test_solve_triangular_broadcasts_stacks_and_takes_vectors() -> None:
    a = np.stack([T, 2 * T])
    x = linalg.solve_triangular(a, B)
    np.testing.assert_allclose(np.triu(a) @ x, np.broadcast_to(B, (2, 3, 2)), atol=1e-14)
    np.testing.assert_allclose(np.triu(T) @ linalg.solve_triangular(T, B[:, 0]), B[:, 0],
                               atol=1e-15)


def test_expm_of_special_matrices() -> None:
    d = np.diag([1.0, -2.0, 30.0])  # 30: five squarings
    np.testing.assert_allclose(linalg.expm(d), np.diag(np.exp([1.0, -2.0, 30.0])), rtol=1e-14)
    np.testing.assert_array_equal(linalg.expm(np.zeros((2, 3, 3))), np.broadcast_to(np.eye(3),
                                                                                    (2, 3, 3)))
    rotation = linalg.expm(np.array([[0.0, -1.0], [1.0, 0.0]]) * 100)
    np.testing.assert_allclose(rotation, [[np.cos(100), -np.sin(100)], [np.sin(100),
                                                                          np.cos(100)]],
                               atol=1e-13)
    # needing more than max_squarings gives nan, as JAX's, without overflowing on the way
    with np.errstate(all="raise"):
        assert np.isnan(linalg.expm(np.full((2, 2), 1e6))).all()
        assert np.isnan(linalg.expm(A1 * 40, max_squarings=4)).all()  # 1-norm 88: 5
        np.testing.assert_array_equal(linalg.expm(A1 * 40, max_squarings=5),
                                      linalg.expm(A1 * 40))


# ---------------------------------------------------------------------------- errors


def test_errors_name_the_function_and_the_shapes() -> None:
    with pytest.raises(ShapeError, match=r"expm: A must be a square matrix.*\(2, 3\)"):
        linalg.expm(np.ones((2, 3)))
    with pytest.raises(ShapeError, match=r"cholesky: a must be a stack of square.*\(3,\)"):
        linalg.cholesky(np.ones(3))
    with pytest.raises(ShapeError, match=r"solve_triangular: b must have shape \(3,\) or "
                                         r"\(\.\.\., 3, k\).*got \(2,\)"):
        linalg.solve_triangular(T, np.ones(2))
    with pytest.raises(ValueError, match="solve_triangular: trans must be"):
        linalg.solve_triangular(T, B, trans=3)
    with pytest.raises(ShapeError, match=r"multivariate_normal.logpdf: x of shape \(4, 2\)"):
        mvn.logpdf(XM[:, :2], MU, C)
    with pytest.raises(ShapeError, match=r"multivariate_normal.logpdf: cov must be a square"):
        mvn.logpdf(XM, MU, C[:2])
    with pytest.raises(NotImplementedError, match="allow_singular"):
        mvn.logpdf(XM, MU, C, allow_singular=True)
    with pytest.raises(np.linalg.LinAlgError):
        linalg.cholesky(-C)
    with pytest.raises(TypeError, match="erf: complex arguments are not supported"):
        special.erf(np.array([1j]))


def test_the_namespace() -> None:
    import funcgrad.scipy as fsp
    assert fsp.stats is stats and stats.norm is norm and stats.multivariate_normal is mvn
    for module in (special, linalg, norm, mvn):
        assert all(callable(getattr(module, name)) for name in module.__all__)
