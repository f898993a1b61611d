"""The ABI of the modules as built: what a host program can see of them, and
what they load into it.

libnss_django.so.2 exports exactly glibc's NSS entry points for passwd, group
and initgroups plus the `_nss_django_enablelookups` flag, and needs nothing
beyond libc and libstdc++ (no database, crypto or hashing library).
pam_django.so, when built, exports exactly the six pam_sm_* functions and
needs libpam on top of that."""
import ctypes
import os
import re
import subprocess

import pytest

from conftest import BUILD, SANITIZE

NSS_SYMBOLS = {
    "_nss_django_getpwnam_r", "_nss_django_getpwuid_r", "_nss_django_setpwent",
    "_nss_django_getpwent_r", "_nss_django_endpwent", "_nss_django_getgrnam_r",
    "_nss_django_getgrgid_r", "_nss_django_setgrent", "_nss_django_getgrent_r",
    "_nss_django_endgrent", "_nss_django_initgroups_dyn", "_nss_django_enablelookups",
}
PAM_SYMBOLS = {
    "pam_sm_authenticate", "pam_sm_setcred", "pam_sm_acct_mgmt", "pam_sm_chauthtok",
    "pam_sm_open_session", "pam_sm_close_session",
}
# The C and C++ runtimes (libstdc++ brings libgcc_s and libm; the dynamic
# loader appears for thread-local storage).
RUNTIME = {"libc.so.6", "libstdc++.so.6", "libgcc_s.so.1", "libm.so.6", "ld-linux-x86-64.so.2"}
SANITIZER = {"libasan.so.8", "libubsan.so.1"}
FORBIDDEN = re.compile(r"libpq|sqlite|libssl|libcrypto|libargon2|libcrypt\.|libinih|libpython|libgnutls|libsodium")

NSS = BUILD / "libnss_django.so.2"
PAM = BUILD / "pam_django.so"


def defined_dynamic(path):
    """(name, version) of every defined dynamic symbol, as `nm -D` shows them."""
    out = subprocess.run(["nm", "-D", "--defined-only", str(path)], check=True,
                         capture_output=True, text=True).stdout
    syms = set()
    for line in out.splitlines():
        parts = line.split()
        if len(parts) < 3:
            continue
        kind, name = parts[1], parts[2]
        if kind == "A":   # the version node itself
            continue
        syms.add(name.split("@")[0])
    return syms


def needed(path):
    out = subprocess.run(["readelf", "-d", str(path)], check=True, capture_output=True, text=True).stdout
    return set(re.findall(r"\(NEEDED\)\s+Shared library: \[([^\]]+)\]", out))


def ldd(path):
    env = dict(os.environ)
    env.pop("LD_PRELOAD", None)
    out = subprocess.run(["ldd", str(path)], capture_output=True, text=True, env=env).stdout
    return {line.split()[0] for line in out.splitlines() if line.strip()}


def dlopen(path):
    if SANITIZE:
        pytest.skip("a sanitized module cannot be dlopened into this interpreter")
    return ctypes.CDLL(str(path), mode=os.RTLD_NOW | os.RTLD_LOCAL)


# --- libnss_django.so.2 ----------------------------------------------------------

def test_nss_exports_exactly_the_entry_points():
    assert defined_dynamic(NSS) == NSS_SYMBOLS


def test_nss_symbols_are_versioned():
    out = subprocess.run(["nm", "-D", "--defined-only", str(NSS)], check=True,
                         capture_output=True, text=True).stdout
    for name in NSS_SYMBOLS:
        assert re.search(r"\b%s@@NSS_DJANGO_1\b" % re.escape(name), out), name


def test_nss_soname():
    out = subprocess.run(["readelf", "-d", str(NSS)], check=True, capture_output=True, text=True).stdout
    assert "Library soname: [libnss_django.so.2]" in out


def test_nss_needs_only_the_runtime():
    libs = needed(NSS)
    allowed = RUNTIME | (SANITIZER if SANITIZE else set())
    assert libs <= allowed, libs - allowed
    assert "libc.so.6" in libs


def test_nss_loads_no_database_or_crypto_library():
    for lib in ldd(NSS):
        assert not FORBIDDEN.search(lib), lib


def test_nss_dlopen_and_symbols():
    lib = dlopen(NSS)
    for name in NSS_SYMBOLS:
        assert hasattr(lib, name), name
    flag = ctypes.c_int.in_dll(lib, "_nss_django_enablelookups")
    assert flag.value == 1
    # Internal names stay hidden.
    for hidden in ("_ZN2dj6client4callERKNS0_7OptionsERKSt6vectorIhSaIhEE", "pack_group"):
        assert not hasattr(lib, hidden)


def test_nss_no_text_relocations_and_full_relro():
    out = subprocess.run(["readelf", "-d", str(NSS)], check=True, capture_output=True, text=True).stdout
    assert "TEXTREL" not in out
    assert "BIND_NOW" in out or "NOW" in out
    ph = subprocess.run(["readelf", "-lW", str(NSS)], check=True, capture_output=True, text=True).stdout
    assert "GNU_RELRO" in ph
    # No executable stack.
    stack = [l for l in ph.splitlines() if "GNU_STACK" in l]
    assert stack and "RWE" not in stack[0]


# --- pam_django.so (when this build has it) ----------------------------------------

pam_built = pytest.mark.skipif(not PAM.exists(), reason="pam_django.so is not built in %s" % BUILD)


@pam_built
def test_pam_exports_exactly_the_service_functions():
    assert defined_dynamic(PAM) == PAM_SYMBOLS


@pam_built
def test_pam_needs_only_the_runtime_and_libpam():
    libs = needed(PAM)
    allowed = RUNTIME | {"libpam.so.0"} | (SANITIZER if SANITIZE else set())
    assert libs <= allowed, libs - allowed


@pam_built
def test_pam_loads_no_database_or_crypto_library():
    for lib in ldd(PAM):
        assert not FORBIDDEN.search(lib), lib


@pam_built
def test_pam_dlopen_and_symbols():
    ctypes.CDLL("libpam.so.0", mode=os.RTLD_NOW | os.RTLD_GLOBAL)
    lib = dlopen(PAM)
    for name in PAM_SYMBOLS:
        assert hasattr(lib, name), name
