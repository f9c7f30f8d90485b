"""`funcgrad.scipy`: parts of scipy, as JAX has jax.scipy, written with funcgrad.numpy so they
trace and differentiate (scipy itself is never imported).

special: expit, logit, xlogy, xlog1py, logsumexp, softmax, log_softmax, erf, erfc, ndtr,
log_ndtr. linalg: cholesky, cho_factor, cho_solve, solve_triangular, expm. stats: norm
(logpdf, pdf, cdf, logcdf, sf, logsf) and multivariate_normal (logpdf, pdf).
"""

from funcgrad.scipy import linalg, special, stats

__all__ = ["linalg", "special", "stats"]
