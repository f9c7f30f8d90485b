"""Imported by every benchmark script before numpy: OpenBLAS's idle threads sleep at once.

After a multithreaded matrix product OpenBLAS's worker threads spin, by default for
2**28 cycles (about a tenth of a second), waiting for the next one. On a 2-core machine
they take the second core from whatever runs meanwhile: funcgrad's second kernel thread,
and PyTorch's threads in the rounds interleaved with funcgrad's. Measured on the MNIST
step benchmark: funcgrad 43.0 -> 37.3 ms and PyTorch 20.7 -> 18.3 ms per step. The
examples run the same way (dev.py); see README, Threads. A value set by the user wins.
"""

import os

os.environ.setdefault("OPENBLAS_THREAD_TIMEOUT", "4")  # 2**4 cycles: the minimum
