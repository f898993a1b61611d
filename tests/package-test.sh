#!/bin/bash
# The Debian packages, end to end, without touching the host:
#
#   1. copy the tree (tracked and untracked files, no build directories) to a
#      temporary directory and build it there: dpkg-buildpackage -us -uc -b
#      (one build, reused by every step below);
#   2. lintian on the result: no error;
#   3. "make install DESTDIR" installs the same files as the packages;
#   4. in a private mount namespace, an overlay of / (the host's / read-only
#      below, a tmpfs above) is the root of a chroot: there the .debs are
#      installed with dpkg, tests/package-smoke.sh logs a Django user in with
#      pamtester through the installed pam-auth-update stack, resolves her
#      with getent, and purges the packages, checking that /etc/nsswitch.conf
#      and /etc/pam.d/common-* are byte-identical to before;
#   4b. in a container booted with systemd-nspawn on another overlay of /,
#      tests/package-boot.sh checks the units under a real systemd: socket
#      activation, the sandboxed service, its user, NSS and PAM through it;
#   5. the host's /etc/nsswitch.conf and /etc/pam.d/common-* are unchanged.
#
# Usage: tests/package-test.sh [--keep] [--reuse DIR]
#   --keep        leave the work directory (its path is printed)
#   --reuse DIR   skip the build: use DIR/src and DIR/*.deb of a kept run
# Prints one closing line: "package-test: N passed, N failed".
set -uo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
keep=0 reuse=
while [ $# -gt 0 ]; do
    case "$1" in
        --keep) keep=1; shift ;;
        --reuse) reuse=$(cd "$2" && pwd); keep=1; shift 2 ;;
        *) echo "usage: $0 [--keep] [--reuse DIR]" >&2; exit 2 ;;
    esac
done
if [ -n "$reuse" ]; then
    work=$reuse
    rm -rf "$work/ov" "$work/root" "$work/pkg" "$work/stage" "$work/host-before"
else
    work=$(mktemp -d /tmp/django-auth-pkg.XXXXXX)
fi
chmod 755 "$work"
passed=0 failed=0

cleanup() {
    if [ "$keep" = 1 ]; then echo "work directory kept: $work"; else rm -rf "$work"; fi
}
trap cleanup EXIT

ok()   { passed=$((passed + 1)); echo "ok   $*"; }
bad()  { failed=$((failed + 1)); echo "FAIL $*"; }
# check DESCRIPTION COMMAND...: runs COMMAND, shows its output on failure.
check() {
    local desc=$1; shift
    if "$@" >"$work/check.out" 2>&1; then ok "$desc"
    else bad "$desc"; sed 's/^/     /' "$work/check.out" | tail -n 30; fi
}
finish() {
    echo
    echo "package-test: $passed passed, $failed failed"
    [ "$failed" -eq 0 ] && [ "$passed" -gt 0 ]
    exit
}

export DEBIAN_FRONTEND=noninteractive LC_ALL=C.UTF-8

# --- packages this needs (the Makefile's lists; nothing is built here) ----------
pkgs=$(make -s -C "$top" --no-print-directory B="$work/mk" \
        --eval 'print-pkgs: ; @echo $(PKGS_BUILD) $(PKGS_TEST)' print-pkgs)
check "build and test packages are installed" "$top/tools/ensure-packages" $pkgs
rm -rf "$work/mk"

# The host's files, to compare at the end.
mkdir -p "$work/host-before"
cp -a /etc/nsswitch.conf /etc/pam.d/common-* "$work/host-before/"

# --- 1. copy and build -----------------------------------------------------------
src="$work/src"
if [ -n "$reuse" ]; then
    echo "== reusing the build in $src"
else
mkdir -p "$src"
if git -C "$top" rev-parse --is-inside-work-tree >/dev/null 2>&1; then
    (cd "$top" && git ls-files -z --cached --others --exclude-standard |
        while IFS= read -r -d '' f; do
            case "$f" in build*/*|debian/.debhelper/*|debian/tmp/*) continue ;; esac
            [ -e "$f" ] || [ -L "$f" ] || continue
            printf '%s\0' "$f"
        done | xargs -0 -r cp -a --parents -t "$src")
else
    (cd "$top" && tar --exclude='./build*' --exclude='./.git' -cf - .) | (cd "$src" && tar -xf -)
fi
echo "== dpkg-buildpackage -us -uc -b in $src"
start=$(date +%s)
if (cd "$src" && dpkg-buildpackage -us -uc -b -j"$(nproc)") >"$work/build.log" 2>&1; then
    ok "dpkg-buildpackage -us -uc -b ($(( $(date +%s) - start ))s)"
else
    bad "dpkg-buildpackage -us -uc -b"
    tail -n 60 "$work/build.log" | sed 's/^/     /'
    finish
fi
grep -E '^== build/tests/test_|PASSED|FAILED' "$work/build.log" | sed 's/^/     /' | tail -n 20
fi
# The four packages (not their -dbgsym companions).
debs=()
for d in "$work"/*.deb; do case "$d" in *-dbgsym_*) ;; *) debs+=("$d") ;; esac; done
names=$(for d in "${debs[@]}"; do dpkg-deb -f "$d" Package; done | sort | tr '\n' ' ')
check "four binary packages: $names" test "$names" = "django-authd django-authd-mysql libnss-django libpam-django "
# The MySQL client library comes only with the engine's own package.
check "django-authd does not depend on libmariadb" bash -c \
    "! dpkg-deb -f '$work'/django-authd_*.deb Depends | grep -q mariadb"
check "django-authd-mysql depends on libmariadb3 and this django-authd" bash -c \
    "d=\$(dpkg-deb -f '$work'/django-authd-mysql_*.deb Depends); echo \"\$d\" | grep -q libmariadb3 && echo \"\$d\" | grep -q 'django-authd (= '"

# --- 2. lintian ------------------------------------------------------------------
echo "== lintian"
lintian --info --display-level '>=pedantic' --pedantic "$work"/*.changes >"$work/lintian.log" 2>&1
sed 's/^/     /' "$work/lintian.log" | grep -v '^     N:' | head -n 60
e=$(grep -c '^E: ' "$work/lintian.log"); w=$(grep -c '^W: ' "$work/lintian.log")
i=$(grep -c '^I: ' "$work/lintian.log"); p=$(grep -c '^P: ' "$work/lintian.log")
echo "     lintian: $e errors, $w warnings, $i info, $p pedantic"
check "lintian reports no error" test "$e" -eq 0

# --- 3. make install DESTDIR = the packages' files ---------------------------------
# The package build's own objects, with its flags: "-o all" installs them
# without remaking anything.
stage="$work/stage"
if (cd "$src" && eval "$(DEB_BUILD_MAINT_OPTIONS=hardening=+all dpkg-buildflags --export=sh)" &&
        make -o all install DESTDIR="$stage") >"$work/install.log" 2>&1; then
    (cd "$stage" && find . ! -type d | sed 's|^\.||; s|\.gz$||' | sort) >"$work/files.install"
    for d in "${debs[@]}"; do dpkg-deb -c "$d"; done | awk '$1 !~ /^d/ { print $6 }' |
        sed 's|^\.||; s|\.gz$||' | grep -v -e '^/usr/share/doc/' -e '^/usr/share/lintian/' |
        sort >"$work/files.deb"
    check "make install DESTDIR installs the files of the packages" \
        diff -u "$work/files.deb" "$work/files.install"
    mode=$(stat -c %a "$stage/etc/django-auth/django-auth.conf")
    dmode=$(dpkg-deb -c "$work"/django-authd_*.deb | awk '$6 == "./etc/django-auth/django-auth.conf" { print $1 }')
    check "the default config is 0600 in both ($mode, $dmode)" \
        test "$mode" = 600 -a "$dmode" = "-rw-------"
    # The admin's configuration survives a second install; uninstall leaves
    # only it.
    echo "sshd = ssh-users" >>"$stage/etc/django-auth/django-auth.conf"
    check "make install again keeps an existing configuration" bash -c \
        "cd '$src' && make -o all install DESTDIR='$stage' >/dev/null && tail -n 1 '$stage/etc/django-auth/django-auth.conf' | grep -qx 'sshd = ssh-users'"
    check "make uninstall removes everything but the configuration" bash -c \
        "cd '$src' && make -o all uninstall DESTDIR='$stage' >/dev/null && [ \"\$(cd '$stage' && find . ! -type d)\" = ./etc/django-auth/django-auth.conf ]"
else
    bad "make install DESTDIR"; tail -n 30 "$work/install.log" | sed 's/^/     /'
fi

# --- 4. install, smoke test, purge: in an overlay of / -----------------------------
echo "== install, smoke test and purge in a private overlay of /"
mkdir -p "$work/ov" "$work/root" "$work/pkg"
cp "${debs[@]}" "$work/pkg/"
cp "$top/tests/package-smoke.sh" "$work/pkg/"
unshare -m --propagation private bash -c '
    set -e
    work=$1 src=$2
    mount -t tmpfs -o mode=0755 tmpfs "$work/ov"
    mkdir -p "$work/ov/upper" "$work/ov/work"
    mount -t overlay overlay -o "lowerdir=/,upperdir=$work/ov/upper,workdir=$work/ov/work" "$work/root"
    for d in proc sys dev; do mount --rbind "/$d" "$work/root/$d"; done
    mount -t tmpfs -o mode=0755 tmpfs "$work/root/run"
    mkdir -p "$work/root/run/lock"
    # The work directory (packages, the source copy) at the same path inside.
    mount --bind "$work/pkg" "$work/root$work/pkg"
    mount --bind "$src" "$work/root$src"
    exec chroot "$work/root" /bin/bash "$work/pkg/package-smoke.sh" "$work/pkg" "$src"
' package-test "$work" "$src" >"$work/smoke.log" 2>&1
rc=$?
cat "$work/smoke.log"
sp=$(sed -n 's/^smoke: \([0-9]*\) passed, \([0-9]*\) failed$/\1/p' "$work/smoke.log")
sf=$(sed -n 's/^smoke: \([0-9]*\) passed, \([0-9]*\) failed$/\2/p' "$work/smoke.log")
passed=$((passed + ${sp:-0})); failed=$((failed + ${sf:-0}))
if [ $rc -ne 0 ] && [ "${sf:-0}" = 0 ]; then bad "smoke test (exit $rc)"; fi

# --- 4b. the units under a real systemd (a container booted on another overlay) ---
if command -v systemd-nspawn >/dev/null; then
    echo "== boot: systemd-nspawn on a private overlay of /, the packages installed"
    cp "$top/tests/package-boot.sh" "$work/pkg/"
    rm -f "$work/pkg/boot-result.txt"
    mkdir -p "$work/ov2" "$work/root2"
    timeout 600 unshare -m --propagation private bash -c '
        set -e
        work=$1 src=$2 root=$1/root2
        mount -t tmpfs -o mode=0755 tmpfs "$work/ov2"
        mkdir -p "$work/ov2/upper" "$work/ov2/work"
        mount -t overlay overlay -o "lowerdir=/,upperdir=$work/ov2/upper,workdir=$work/ov2/work" "$root"
        for d in proc sys dev; do mount --rbind "/$d" "$root/$d"; done
        mount -t tmpfs -o mode=0755 tmpfs "$root/run"
        mount --bind "$work/pkg" "$root$work/pkg"
        mount --bind "$src" "$root$src"
        chroot "$root" /bin/bash "$work/pkg/package-boot.sh" setup "$work/pkg" "$src"
        umount -R "$root/proc" "$root/sys" "$root/dev" "$root/run" "$root$work/pkg" "$root$src"
        mkdir -p /run/systemd/nspawn
        systemd-nspawn --quiet --directory="$root" --boot --register=no --keep-unit \
            --link-journal=no --private-network --bind="$work/pkg" --console=pipe </dev/null
    ' package-test "$work" "$src" >"$work/boot.log" 2>&1
    rc=$?
    if [ -f "$work/pkg/boot-result.txt" ]; then
        cat "$work/pkg/boot-result.txt"
        bp=$(sed -n 's/^boot: \([0-9]*\) passed, \([0-9]*\) failed$/\1/p' "$work/pkg/boot-result.txt")
        bf=$(sed -n 's/^boot: \([0-9]*\) passed, \([0-9]*\) failed$/\2/p' "$work/pkg/boot-result.txt")
        passed=$((passed + ${bp:-0})); failed=$((failed + ${bf:-0}))
        [ -z "$bp" ] && bad "boot: the check did not finish"
    else
        bad "boot: no result (exit $rc)"; tail -n 30 "$work/boot.log" | sed 's/^/     /'
    fi
else
    echo "== boot: skipped (systemd-nspawn is not installed: package systemd-container)"
fi

# --- 5. the host is untouched --------------------------------------------------------
for f in "$work"/host-before/*; do
    n=$(basename "$f")
    if [ "$n" = nsswitch.conf ]; then h=/etc/nsswitch.conf; else h=/etc/pam.d/$n; fi
    check "host's $h unchanged" cmp "$f" "$h"
done
check "no django package installed on the host" \
    bash -c '! dpkg-query -W -f="\${Status}\n" libpam-django libnss-django django-authd 2>/dev/null | grep -q " installed"'

finish
