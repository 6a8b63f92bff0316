"""Which names may be stored: file types, desktop clients' own files, reserved names."""

from __future__ import annotations

import fnmatch
import re
import unicodedata

from policy.model import ALLOWED, Decision

ANY_TYPE = "*"
# Our own in-flight uploads: never listed, never addressable.
RESERVED_PREFIX = ".davportal-"

# Files that Finder, Explorer and Office write on their own: accepted whatever the type list says,
# so that saving from a desktop never fails (MODEL.md, "Uploads").
DESKTOP_FILES = (".DS_Store", "._*", "Thumbs.db", "desktop.ini", "~$*", "~*.tmp")
# The patterns as one expression: a listing asks for every entry.
_DESKTOP_FILE = re.compile("|".join(fnmatch.translate(pattern.lower()) for pattern in DESKTOP_FILES))


def normalize(name: str) -> str:
    """Names are stored and matched in NFC, so a name typed on a Mac is found from Windows."""
    return unicodedata.normalize("NFC", name)


def is_reserved(name: str) -> bool:
    return name.startswith(RESERVED_PREFIX)


def is_desktop_file(name: str) -> bool:
    return _DESKTOP_FILE.match(name.lower()) is not None


def extension(name: str) -> str:
    stem, dot, ext = name.rpartition(".")
    return ext.lower() if dot and stem else ""


def check_file_type(name: str, allowed_extensions: tuple[str, ...]) -> Decision:
    """415 for a type that is not on the list, naming the type and what is allowed."""
    if ANY_TYPE in allowed_extensions or is_desktop_file(name):
        return ALLOWED
    ext = extension(name)
    if ext in allowed_extensions:
        return ALLOWED
    kind = f"'.{ext}' files are" if ext else "Files without an extension are"
    return Decision(
        False,
        415,
        f"{kind} not accepted here. Allowed types: {', '.join(allowed_extensions)}.",
    )


def check_size(declared: int | None, max_bytes: int) -> Decision:
    if declared is not None and declared > max_bytes:
        return Decision(False, 413, too_large_reason(max_bytes))
    return ALLOWED


def too_large_reason(max_bytes: int) -> str:
    return f"The file is larger than the limit of {human_size(max_bytes)} ({max_bytes:,} bytes)."


SIZE_UNITS = ("KiB", "MiB", "GiB", "TiB")


def human_size(n: int) -> str:
    """A size as people read it, in binary units: "512 bytes", "1.5 KiB", "100 MiB".

    The one wording of sizes: the pages, the upload limit (in the page, its script and the
    server's refusal) all say the same.
    """
    if n < 1024:
        return "1 byte" if n == 1 else f"{n} bytes"
    size = float(n)
    for unit in SIZE_UNITS:
        size /= 1024
        if round(size, 1) < 1024 or unit == SIZE_UNITS[-1]:
            break
    return f"{size:.1f}".removesuffix(".0") + f" {unit}"


# Characters Windows cannot store in a name: a file with one could never be opened from Explorer.
WINDOWS_FORBIDDEN = '<>:"\\|?*'
# Names Windows keeps for devices, whatever the case and whatever follows a dot ("nul.pdf" is NUL):
# such a file could be neither opened nor deleted from Explorer. Windows reads the superscript
# digits ¹ ² ³ as digits here too.
WINDOWS_DEVICES = frozenset(
    {"CON", "PRN", "AUX", "NUL"} | {f"{port}{digit}" for port in ("COM", "LPT") for digit in "123456789¹²³"}
)
# Invisible marks that change the direction text is shown in: "invoice\u202efdp.exe" shows as
# "invoiceexe.pdf", so a name could pass itself off as another type of file.
BIDI_CONTROLS = frozenset("\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
MAX_NAME_BYTES = 255


def check_new_name(name: str) -> Decision:
    """400 for a name that some client could not store or that the portal keeps for itself."""
    if is_reserved(name):
        return Decision(False, 400, f"Names starting with '{RESERVED_PREFIX}' are reserved.")
    bad = sorted({ch for ch in name if ch in WINDOWS_FORBIDDEN or ord(ch) < 32})
    if bad:
        shown = " ".join(repr(ch)[1:-1] for ch in bad)
        return Decision(False, 400, f"Names may not contain {shown}: Windows cannot store them.")
    if any(ch in BIDI_CONTROLS for ch in name):
        return Decision(False, 400, "Names may not contain invisible characters that reverse the reading "
                        "direction: they can disguise what kind of file it is.")  # fmt: skip
    if name.endswith((" ", ".")):
        return Decision(False, 400, "Names may not end with a space or a dot: Windows cannot store them.")
    device = name.split(".", 1)[0].rstrip(" ").upper()
    if device in WINDOWS_DEVICES:
        return Decision(False, 400, f"'{name}' cannot be used: Windows keeps the name {device} for a device, "
                        "so the file could not be opened there. Please choose another name.")  # fmt: skip
    if len(name.encode("utf-8")) > MAX_NAME_BYTES:
        return Decision(False, 400, f"The name is too long (at most {MAX_NAME_BYTES} bytes).")
    return ALLOWED
