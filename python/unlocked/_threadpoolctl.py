"""Makes threadpoolctl see libunlocked like OpenBLAS or OpenMP, when it is installed.

threadpoolctl finds loaded libraries by file-name prefix and drives them
through ``unlocked_get_num_threads`` / ``unlocked_set_num_threads``, so
``threadpool_limits(2)`` limits every runtime created with ``workers=None``.
"""

from __future__ import annotations

import ctypes


def register() -> None:
    try:
        import threadpoolctl
    except ImportError:
        return
    if not hasattr(threadpoolctl, "register"):  # before threadpoolctl 3.5
        return

    class UnlockedController(threadpoolctl.LibController):
        user_api = "unlocked"
        internal_api = "unlocked"
        # The installed name, and the name of a plain `swift build` (UNLOCKED_LIBRARY).
        filename_prefixes = ("libunlocked", "libUnlockedCAPI")
        check_symbols = ("unlocked_get_num_threads", "unlocked_set_num_threads", "unlocked_get_version")

        def get_num_threads(self) -> int:
            return self.dynlib.unlocked_get_num_threads()

        def set_num_threads(self, num_threads: int) -> int:
            return self.dynlib.unlocked_set_num_threads(num_threads)

        def get_version(self) -> str:
            get_version = self.dynlib.unlocked_get_version
            get_version.restype = ctypes.c_char_p
            return get_version().decode()

    threadpoolctl.register(UnlockedController)
