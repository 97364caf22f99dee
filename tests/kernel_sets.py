"""The recurrent kernel sets a test can run on this backend: both NumPy's and numba's on the CPU when
numba is installed (CI installs it), the array loops alone on the CuPy stand-in. Tests parametrize
over ``KERNEL_SETS`` rather than skipping, so no pass of the suite reports a skip for them."""

import tinygrad_rnn as tg
from tinygrad_rnn import kernels

if tg.backend.name == "numpy":
    KERNEL_SETS = ["numpy", "numba"] if kernels._numba_installed() else ["numpy"]
else:
    KERNEL_SETS = [kernels.requested]
