"""threadpoolctl's controller for rayblas (threadpoolctl 3.2+ ``register()``s it on import).

threadpoolctl finds loaded shared libraries by file name; rayblas's is its extension module
``_rayblas.*.so``, which exports ``rayblas_get_num_threads``, ``rayblas_set_num_threads`` and
``rayblas_get_version``. ``threadpool_limits(n)`` then caps rayblas's own workers (and the
threads of its ``native`` strategy) at run time, beside the BLAS libraries it caps directly.
"""

import ctypes

from threadpoolctl import LibController


class RayblasController(LibController):
    user_api = "rayblas"
    internal_api = "rayblas"
    filename_prefixes = ("_rayblas",)
    check_symbols = ("rayblas_get_num_threads", "rayblas_set_num_threads")

    def get_num_threads(self):
        get = getattr(self.dynlib, "rayblas_get_num_threads", None)
        return None if get is None else get()

    def set_num_threads(self, num_threads):
        set_ = getattr(self.dynlib, "rayblas_set_num_threads", None)
        if set_ is not None:
            set_(ctypes.c_int(int(num_threads)))

    def get_version(self):
        get = getattr(self.dynlib, "rayblas_get_version", None)
        if get is None:
            return None
        get.restype = ctypes.c_char_p
        return get().decode("utf-8")

    def set_additional_attributes(self):
        from . import _rayblas

        d = _rayblas._info(False)
        # What the workers run on: the linked BLAS and how rayblas uses it by default.
        self.blas_backend = d["backend"]
        self.blas_version = d["version"]
        self.blas_corename = d["corename"]
        self.default_strategy = d["default_strategy"]
