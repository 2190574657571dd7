"""PEP 517 backend of the `unlocked` Python package, standard library only.

The wheel holds the pure-Python package plus the two native files it drives:
the C API library (installed as ``unlocked/_native/libunlocked.so``) and the
``unlocked`` executable next to it, which process engines start as their
workers. They come from, in order:

1. ``UNLOCKED_BUILD_DIR``: a directory holding ``libUnlockedCAPI.so`` (or
   ``libunlocked.so``) and ``unlocked``;
2. the repository's ``.build/release`` (what ``make run`` / ``make build``
   leave there);
3. ``swift build -c release`` run in the repository, when ``swift`` is on
   PATH (offline once the package's dependencies are checked out).

It also compiles ``unlocked/_fastcall.c``, the reductions' call path, with
the C compiler and headers of the Python running pip (``CC`` overrides the
compiler; Debian's python3-dev has the headers) against ``unlocked.h``.

Because this backend needs nothing from an index, ``pip install ./python``
works offline after ``make run``.
"""

from __future__ import annotations

import base64
import hashlib
import io
import os
import re
import shutil
import subprocess
import sys
import sysconfig
import tarfile
import tempfile
import zipfile
from pathlib import Path

_PYTHON_DIR = Path(__file__).resolve().parent.parent
_REPOSITORY = _PYTHON_DIR.parent
_LIBRARY_NAMES = ("libUnlockedCAPI.so", "libunlocked.so")
# unlocked.h: in the repository, or in the sdist's include/.
_HEADER_DIRS = (_REPOSITORY / "Sources" / "CUnlockedAPI" / "include", _PYTHON_DIR / "include")


def _project() -> tuple[str, str]:
    text = (_PYTHON_DIR / "pyproject.toml").read_text()
    name = re.search(r'^name = "([^"]+)"', text, re.M)
    version = re.search(r'^version = "([^"]+)"', text, re.M)
    if not name or not version:
        raise RuntimeError("pyproject.toml: no name or version in [project]")
    return name.group(1), version.group(1)


def _native_in(directory: Path) -> tuple[Path, Path] | None:
    executable = directory / "unlocked"
    for name in _LIBRARY_NAMES:
        library = directory / name
        if library.is_file() and executable.is_file():
            return library, executable
    return None


def _native_files() -> tuple[Path, Path]:
    explicit = os.environ.get("UNLOCKED_BUILD_DIR")
    if explicit:
        found = _native_in(Path(explicit))
        if not found:
            raise RuntimeError(
                f"UNLOCKED_BUILD_DIR={explicit}: no libUnlockedCAPI.so (or libunlocked.so) "
                "with an unlocked executable next to it"
            )
        return found
    release = _REPOSITORY / ".build" / "release"
    found = _native_in(release)
    if found:
        return found
    if (_REPOSITORY / "Package.swift").is_file() and shutil.which("swift"):
        print("unlocked: building the C API with swift build -c release", file=sys.stderr)
        subprocess.run(["swift", "build", "-c", "release"], cwd=_REPOSITORY, check=True,
                       stdout=sys.stderr)
        found = _native_in(release)
        if found:
            return found
    raise RuntimeError(
        f"no libUnlockedCAPI.so and unlocked executable in {release}: run `make build` in "
        f"{_REPOSITORY} first, or set UNLOCKED_BUILD_DIR to a directory holding them"
    )


def _header_dir() -> Path:
    for directory in _HEADER_DIRS:
        if (directory / "unlocked.h").is_file():
            return directory
    raise RuntimeError(f"unlocked.h is in none of {', '.join(map(str, _HEADER_DIRS))}")


def _compile_fastcall(directory: Path) -> tuple[str, Path]:
    """(path in the wheel, built file) of the _fastcall extension."""
    include = sysconfig.get_paths()["include"]
    if not (Path(include) / "Python.h").is_file():
        raise RuntimeError(f"no Python.h in {include}: install this Python's headers "
                           "(python3-dev on Debian; `make deps` does) to build unlocked._fastcall")
    name = "_fastcall" + sysconfig.get_config_var("EXT_SUFFIX")
    output = directory / name
    compiler = os.environ.get("CC") or "cc"
    # No -Werror: a newer Python.h's warnings must not fail a user's install (3.11 and 3.13 build clean).
    command = [compiler, "-O2", "-shared", "-fPIC", "-std=c11", "-Wall", "-Wextra",
               "-I", include, "-I", str(_header_dir()), str(_PYTHON_DIR / "unlocked" / "_fastcall.c"),
               "-o", str(output)]
    print("unlocked: " + " ".join(command), file=sys.stderr)
    subprocess.run(command, check=True, stdout=sys.stderr)
    return f"unlocked/{name}", output


def _wheel_tag() -> str:
    """The tag of an extension for this interpreter (cp311-cp311-linux_x86_64)."""
    interpreter = f"cp{sys.version_info.major}{sys.version_info.minor}"
    abi = interpreter + ("t" if sysconfig.get_config_var("Py_GIL_DISABLED") else "") + \
        ("d" if hasattr(sys, "gettotalrefcount") else "")
    platform = sysconfig.get_platform().replace("-", "_").replace(".", "_")
    return f"{interpreter}-{abi}-{platform}"


def _record_line(path: str, data: bytes) -> str:
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return f"{path},sha256={digest},{len(data)}"


def _metadata(name: str, version: str) -> str:
    return (
        "Metadata-Version: 2.1\n"
        f"Name: {name}\n"
        f"Version: {version}\n"
        "Summary: abs(x - c) over numpy arrays on every core, with the GIL released, "
        "through Unlocked's C API\n"
        "Requires-Python: >=3.9\n"
        "Requires-Dist: numpy\n"
        "Provides-Extra: test\n"
        'Requires-Dist: pytest; extra == "test"\n'
        'Requires-Dist: threadpoolctl; extra == "test"\n'
    )


def _package_sources() -> list[Path]:
    package = _PYTHON_DIR / "unlocked"
    return sorted(p for p in package.rglob("*") if p.is_file() and p.suffix in (".py", ".typed")
                  and "__pycache__" not in p.parts)


def get_requires_for_build_wheel(config_settings=None):
    return []


def get_requires_for_build_sdist(config_settings=None):
    return []


def build_wheel(wheel_directory, config_settings=None, metadata_directory=None):
    name, version = _project()
    library, executable = _native_files()
    tag = _wheel_tag()
    wheel_name = f"{name}-{version}-{tag}.whl"
    dist_info = f"{name}-{version}.dist-info"
    # (path in the wheel, bytes, executable)
    entries: list[tuple[str, bytes, bool]] = []
    for source in _package_sources():
        entries.append((source.relative_to(_PYTHON_DIR).as_posix(), source.read_bytes(), False))
    entries.append(("unlocked/_native/libunlocked.so", library.read_bytes(), True))
    entries.append(("unlocked/_native/unlocked", executable.read_bytes(), True))
    with tempfile.TemporaryDirectory() as scratch:
        path, extension = _compile_fastcall(Path(scratch))
        entries.append((path, extension.read_bytes(), True))
    entries.append((f"{dist_info}/METADATA", _metadata(name, version).encode(), False))
    wheel = f"Wheel-Version: 1.0\nGenerator: unlocked_build\nRoot-Is-Purelib: false\nTag: {tag}\n"
    entries.append((f"{dist_info}/WHEEL", wheel.encode(), False))
    record = [_record_line(path, data) for path, data, _ in entries] + [f"{dist_info}/RECORD,,"]
    entries.append((f"{dist_info}/RECORD", ("\n".join(record) + "\n").encode(), False))

    Path(wheel_directory).mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(Path(wheel_directory) / wheel_name, "w", zipfile.ZIP_DEFLATED) as archive:
        for path, data, is_executable in entries:
            info = zipfile.ZipInfo(path, date_time=(2024, 5, 17, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = (0o100755 if is_executable else 0o100644) << 16
            archive.writestr(info, data)
    return wheel_name


def build_sdist(sdist_directory, config_settings=None):
    """The Python sources only: building a wheel from it needs the Swift build."""
    name, version = _project()
    base = f"{name}-{version}"
    Path(sdist_directory).mkdir(parents=True, exist_ok=True)
    with tarfile.open(Path(sdist_directory) / f"{base}.tar.gz", "w:gz") as archive:
        files = [_PYTHON_DIR / "pyproject.toml", Path(__file__), _PYTHON_DIR / "unlocked" / "_fastcall.c"]
        files += _package_sources()
        files += sorted((_PYTHON_DIR / "tests").glob("*.py"))
        for path in files:
            archive.add(path, arcname=f"{base}/{path.relative_to(_PYTHON_DIR).as_posix()}")
        archive.add(_header_dir() / "unlocked.h", arcname=f"{base}/include/unlocked.h")
        pkg_info = _metadata(name, version).encode()
        info = tarfile.TarInfo(f"{base}/PKG-INFO")
        info.size = len(pkg_info)
        archive.addfile(info, io.BytesIO(pkg_info))
    return f"{base}.tar.gz"
