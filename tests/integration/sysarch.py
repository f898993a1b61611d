"""Where this machine's libraries live, asked from the toolchain once:
Debian's multiarch directory (/usr/lib/<triplet>), where glibc looks for NSS
modules and libpam for PAM modules, and the sanitizer runtimes a sanitized
module needs preloaded into an unsanitized program."""
import subprocess


def _multiarch():
    for cmd in (["gcc", "-print-multiarch"], ["dpkg-architecture", "-qDEB_HOST_MULTIARCH"]):
        try:
            out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout.strip()
        except (OSError, subprocess.CalledProcessError):
            continue
        if out:
            return out
    raise RuntimeError("neither gcc -print-multiarch nor dpkg-architecture names the multiarch triplet")


MULTIARCH = _multiarch()
LIBDIR = "/usr/lib/" + MULTIARCH
ASAN_LIBS = [LIBDIR + "/libasan.so.8", LIBDIR + "/libubsan.so.1"]
