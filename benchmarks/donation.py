"""What donating arguments to jit saves: an Adam update of large parameters.

    python3 benchmarks/donation.py [--mib 256] [--rounds 7]

The jitted function is Adam's update of a parameter tree (params, mu, nu, gradients: four
arrays of --mib MiB each kind). With donate_argnums=(0, 1) the parameters and the
optimizer state are donated, so the new ones are written into their memory; without,
every result is new memory. Peak memory of one call is measured with tracemalloc (numpy
allocations included); time per call in interleaved rounds, with the foreign CPU load.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tracemalloc
from pathlib import Path
from typing import Any

import _blas  # noqa: F401  (first: it configures OpenBLAS, which numpy loads)
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import funcgrad as fg  # noqa: E402
from funcgrad import optim  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _timing import (LOAD_HEADERS, QuietRounds, compare_rates, format_table,  # noqa: E402
                     load_cells, wait_for_quiet, wait_report)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mib", type=int, default=256, help="MiB per tree of arrays")
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args()
    n = args.mib * 2**20 // 4 // 4  # four float32 arrays per tree
    opt = optim.adam(1e-3)

    def fresh() -> tuple[Any, Any, Any]:
        rng = np.random.default_rng(0)
        params = {f"w{i}": rng.standard_normal(n, dtype=np.float32) for i in range(4)}
        grads = {k: rng.standard_normal(n, dtype=np.float32) for k in params}
        return params, opt.init(params), grads

    def update(params: Any, state: Any, grads: Any) -> Any:
        return opt.update(grads, state, params)

    plain = fg.jit(update)
    donating = fg.jit(update, donate_argnums=(0, 1))
    rows = []
    for name, f in (("not donated", plain), ("donated", donating)):
        params, state, grads = fresh()
        f(params, state, grads)  # traced and compiled before measuring
        params, state, grads = fresh()
        tracemalloc.start()
        f(params, state, grads)
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        rows.append((name, f"{peak / 2**20:,.0f}"))
    print(f"Adam update of 4 arrays of {n:,} float32 ({args.mib} MiB per tree)")
    print(format_table(["jit", "peak MiB of one call (beyond its inputs)"], rows, right={1}))

    print("\n" + wait_report(wait_for_quiet()))
    p1, s1, g1 = fresh()
    p2, s2, g2 = fresh()
    carry = {"plain": (p1, s1), "donated": (p2, s2)}

    def step_plain() -> None:
        carry["plain"] = plain(*carry["plain"], g1)

    def step_donated() -> None:
        carry["donated"] = donating(*carry["donated"], g2)

    loads: dict[str, list[float]] = {}
    rates = compare_rates({"not donated": step_plain, "donated": step_donated}, min_time=0.5,
                          rounds=args.rounds, warmup=1, loads=loads)
    quiet = QuietRounds.of(loads)
    used = {name: quiet.pick(r) for name, r in rates.items()}
    table = [(name, f"{1e3 / statistics.median(used[name]):.1f}", *load_cells(loads[name]))
             for name in rates]
    print(format_table(["jit", "median ms", *LOAD_HEADERS], table, right={1, 2}))
    print(quiet.describe())
    ratio = statistics.median(used["donated"]) / statistics.median(used["not donated"])
    print(f"donated is {ratio:.2f}x the speed of not donated")


if __name__ == "__main__":
    main()
