"""Reading an ``.npz`` archive without trusting it: the layer under :func:`tinygrad_rnn.load`.

``np.load`` trusts the archive: it believes a member's ``.npy`` header and allocates whatever shape it
declares, and lets ``zlib``/``zipfile`` errors escape. Here every size a file declares is checked
against the sizes it really has before anything is allocated, and every failure becomes
:class:`BadArchive` (a ``ValueError``) naming the member and what is wrong. Which exceptions zipfile,
zlib and numpy's header parser raise on hostile bytes is neither documented nor stable, so reads are
wrapped in ``except Exception``. The limits are listed in :mod:`tinygrad_rnn.serialization`'s docstring.

Member names are only ever compared with the names the manifest references; nothing is extracted,
so names such as ``../x`` or ``/etc/x`` cannot write anywhere (they are refused anyway, as odd).
"""

from __future__ import annotations

import math
import re
import zipfile
from collections.abc import Callable
from typing import IO

import numpy as np
import numpy.lib.format as npy_format

# Deflate cannot expand input more than ~1032:1 (a 258-byte match per ~2 bits); a member declaring
# more than that is lying about its size, whatever its data says.
MAX_DEFLATE_RATIO = 1032
ALLOWED_DTYPE_KINDS = "biufcU"  # bool, ints, floats, complex, str: what save can write, nothing pickled
_MAX_NPY_HEADER = 10_000  # numpy's own default: a header is a short dict literal
_NAME = re.compile(r"[A-Za-z0-9_]{1,100}\.npy")
_LOCAL_HEADER_SIZE = 30  # fixed part of a zip local file header, before its name and extra field
_CHUNK = 1 << 24  # bytes per read: bounds the temporary copy beside the array being filled


class BadArchive(ValueError):
    """What is wrong with the archive; ``load`` prefixes it with ``load: <path>:``."""


def open_archive(fp: IO[bytes]) -> tuple[zipfile.ZipFile, list[zipfile.ZipInfo]]:
    """Open ``fp`` as a zip; its directory is not checked yet (see :func:`check_directory`)."""
    try:
        zf = zipfile.ZipFile(fp)
        return zf, zf.infolist()
    except Exception as e:  # BadZipFile, OSError, struct.error, ValueError, ...
        raise BadArchive(
            f"not an .npz archive written by tinygrad_rnn.save nor a torch.save checkpoint (no readable zip "
            f"directory: truncated, corrupt or not a zip; {type(e).__name__}: {e})"
        ) from None


def check_directory(
    infos: list[zipfile.ZipInfo],
    file_size: int,
    name_ok: Callable[[str], bool] | None = None,
    expected: str = "a '<name>.npy' array written by np.savez",
) -> dict[str, zipfile.ZipInfo]:
    """The members by name, once every entry's name, method and sizes are possible for ``file_size``.

    ``name_ok`` (default: ``<name>.npy``) says which member names the format has; ``expected`` describes
    them in the error for one that is not.
    """
    members: dict[str, zipfile.ZipInfo] = {}
    for info in infos:
        name = info.filename
        if name in members:
            raise BadArchive(f"member {name[:200]!r} appears twice in the zip directory")
        if not (_NAME.fullmatch(name) if name_ok is None else name_ok(name)):
            raise BadArchive(f"unexpected member {name[:200]!r}: not {expected}")
        if info.flag_bits & 0x1:
            raise BadArchive(f"member {name!r} is encrypted")
        if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
            raise BadArchive(f"member {name!r} uses compression method {info.compress_type}; only stored or deflated")
        if info.compress_type == zipfile.ZIP_STORED and info.compress_size != info.file_size:
            raise BadArchive(
                f"member {name!r} is stored uncompressed but declares {info.file_size} bytes in "
                f"{info.compress_size} bytes of data"
            )
        if info.file_size > info.compress_size * MAX_DEFLATE_RATIO:
            raise BadArchive(
                f"member {name!r} declares {info.file_size} bytes from {info.compress_size} compressed bytes, "
                f"more than deflate can produce (ratio {MAX_DEFLATE_RATIO}): a zip bomb or corrupt directory"
            )
        members[name] = info
    # Every member's data must lie inside the file and overlap no other member's: otherwise a small file
    # can present the same compressed bytes as many large members (the overlapping-entries zip bomb).
    end = 0
    for info in sorted(infos, key=lambda i: i.header_offset):
        if info.header_offset < end:
            raise BadArchive(f"member {info.filename!r} overlaps the member before it")
        end = info.header_offset + _LOCAL_HEADER_SIZE + len(info.filename.encode()) + info.compress_size
        if end > file_size:
            raise BadArchive(
                f"member {info.filename!r} declares {info.compress_size} bytes at offset {info.header_offset}, "
                f"past the end of the {file_size}-byte file (truncated?)"
            )
    return members


def read_member(zf: zipfile.ZipFile, info: zipfile.ZipInfo, max_bytes: int | None = None) -> np.ndarray:
    """The raw bytes of member ``info`` as a uint8 array (its declared size checked against ``max_bytes``)."""
    name = info.filename
    nbytes = info.file_size
    if max_bytes is not None and nbytes > max_bytes:
        raise BadArchive(f"member {name[:200]!r} holds {nbytes} bytes; the limit is {max_bytes}")
    try:
        with zf.open(info) as f:
            buf = np.empty(nbytes, dtype=np.uint8)
            _fill(f, buf, name)
    except BadArchive:
        raise
    except Exception as e:  # zlib.error, BadZipFile (CRC), EOFError, OSError, MemoryError, ...
        raise BadArchive(f"member {name[:200]!r} is corrupt ({type(e).__name__}: {e})") from None
    return buf


def _fill(f: IO[bytes], buf: np.ndarray, name: str) -> None:
    """Read exactly ``buf.size`` bytes of member ``name`` into ``buf``, then check that nothing follows."""
    nbytes, pos = buf.size, 0
    while pos < nbytes:
        chunk = f.read(min(_CHUNK, nbytes - pos))
        if not chunk:
            raise BadArchive(f"member {name[:200]!r} ends after {pos} of its {nbytes} data bytes")
        buf[pos : pos + len(chunk)] = np.frombuffer(chunk, dtype=np.uint8)
        pos += len(chunk)
    # Reading past the end makes zipfile compare the CRC (if the last read has not already).
    if f.read(1):
        raise BadArchive(f"member {name[:200]!r} holds more data than its directory entry declares")


def read_array(zf: zipfile.ZipFile, info: zipfile.ZipInfo, max_bytes: int | None = None) -> np.ndarray:
    """The ``.npy`` member ``info`` as an array, its header checked against the member's real size first."""
    name = info.filename
    try:
        with zf.open(info) as f:
            shape, fortran_order, dtype = _read_header(f, name)
            data_size = info.file_size - f.tell()
            count = math.prod(shape)
            nbytes = count * dtype.itemsize
            if nbytes != data_size:
                raise BadArchive(
                    f"member {name!r} declares shape {shape} of {dtype} ({nbytes} bytes) but holds "
                    f"{data_size} bytes of data"
                )
            if max_bytes is not None and nbytes > max_bytes:
                raise BadArchive(f"member {name!r} holds {nbytes} bytes; the limit is {max_bytes}")
            flat = np.empty(count, dtype=dtype)
            _fill(f, flat.view(np.uint8), name)
    except BadArchive:
        raise
    except Exception as e:  # zlib.error, BadZipFile (CRC), EOFError, OSError, MemoryError, ...
        raise BadArchive(f"member {name!r} is corrupt ({type(e).__name__}: {e})") from None
    if fortran_order:
        return flat.reshape(shape[::-1]).transpose()  # as numpy's own reader does
    return flat.reshape(shape)


def _read_header(f: IO[bytes], name: str) -> tuple[tuple[int, ...], bool, np.dtype]:
    try:
        version = npy_format.read_magic(f)
        if version == (1, 0):
            shape, fortran_order, dtype = npy_format.read_array_header_1_0(f, max_header_size=_MAX_NPY_HEADER)
        elif version == (2, 0):
            shape, fortran_order, dtype = npy_format.read_array_header_2_0(f, max_header_size=_MAX_NPY_HEADER)
        else:
            raise BadArchive(f"member {name!r} is .npy version {version}; only 1.0 and 2.0 are read")
    except BadArchive:
        raise
    except Exception as e:  # ValueError from numpy's parser, SyntaxError, RecursionError, ...
        raise BadArchive(f"member {name!r} has a malformed .npy header ({type(e).__name__}: {e})") from None
    if dtype.hasobject:
        raise BadArchive(f"member {name!r} holds an object (pickled) array, which is refused for safety")
    if dtype.kind not in ALLOWED_DTYPE_KINDS or dtype.fields is not None or dtype.subdtype is not None:
        raise BadArchive(f"member {name!r} has dtype {dtype}; only bool, numeric and str arrays are read")
    if dtype.itemsize == 0:
        raise BadArchive(f"member {name!r} has dtype {dtype} with zero-size items")
    # type() is int, not isinstance: numpy's parser lets True through as a dimension.
    if not all(type(d) is int and d >= 0 for d in shape):
        raise BadArchive(f"member {name!r} declares an invalid shape {shape!r}")
    return tuple(shape), fortran_order, dtype
