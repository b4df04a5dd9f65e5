"""One BLAS thread for work on small matrices (the head, the transfer-rank search).

Their matrices (at most a few thousand rows by a few hundred columns) are too small for
a second BLAS thread to pay for its synchronisation, and there are thousands of them.
On a busy machine every synchronisation also waits for a descheduled thread: at a load
average of 3 on 2 cores, the transfer-rank search of 4,096 pairs of 256 + 256 features
took 30–50 s with OpenBLAS's two threads and 5–7 s with one. The pass over the pairs
(one large ``syrk`` per chunk) keeps every thread.
"""

from __future__ import annotations

import contextlib
from contextlib import AbstractContextManager

__all__ = ["one_blas_thread"]


def one_blas_thread() -> AbstractContextManager[object]:
    """Within the context, BLAS and LAPACK calls of this process run on one thread.

    Through ``threadpoolctl`` (a dependency of scikit-learn); without it, a no-op:
    the thread count is a matter of speed only, never of results.
    """
    try:
        # Untyped; the harbridge[calibration] extra should list it (it ships with sklearn).
        from threadpoolctl import threadpool_limits  # type: ignore[import-untyped]
    except ImportError:
        return contextlib.nullcontext()
    limits: AbstractContextManager[object] = threadpool_limits(limits=1, user_api="blas")
    return limits
