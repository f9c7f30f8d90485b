"""`funcgrad.scipy.stats`: the normal distributions of scipy.stats, as jax.scipy.stats has
them: a module per distribution with its functions (norm.logpdf(x, loc, scale), ...)."""

from funcgrad.scipy.stats import multivariate_normal, norm

__all__ = ["multivariate_normal", "norm"]
