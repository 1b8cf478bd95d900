"""Every gtn test runs twice: on the compiled kernel (gtn._kernels) and on the numpy reference path.

The ``gtn_path`` fixture is autouse and parametrised, so a test id ends in ``[c]`` or ``[numpy]``; the
``c`` run skips with a reason where the extension is not built. Tests that compare the two paths
themselves (test_gtn_kernels.py, test_gtn_compose_kernel.py) swap the backend inside the test.
"""

import pytest

from gtn import _backend


@pytest.fixture(autouse=True, params=["c", "numpy"])
def gtn_path(request, monkeypatch):
    """The gtn implementation this test runs on: ``"c"`` or ``"numpy"``."""
    if request.param == "c":
        kernel = _backend.load_kernel() if _backend.KERNEL is None else _backend.KERNEL
        if kernel is None:
            pytest.skip("the C extension gtn._kernels is not built (or DOCREC_GTN_KERNEL=numpy)")
        monkeypatch.setattr(_backend, "KERNEL", kernel)
    else:
        monkeypatch.setattr(_backend, "KERNEL", None)
    return request.param
