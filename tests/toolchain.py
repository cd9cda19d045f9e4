"""What optional tests need from the machine."""

from __future__ import annotations


def cpp_toolchain_missing() -> str | None:
    """Why torch.compile cannot build CPU kernels here (no C++ compiler / no Python.h), or None."""
    import os
    import shutil
    import sysconfig

    if shutil.which(os.environ.get("CXX", "g++")) is None and shutil.which("c++") is None:
        return "torch.compile on the CPU needs a C++ compiler (apt-get install g++)"
    if not os.path.isfile(os.path.join(sysconfig.get_paths()["include"], "Python.h")):
        return "torch.compile on the CPU needs Python.h (apt-get install python3-dev)"
    return None
