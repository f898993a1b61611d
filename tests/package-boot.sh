#!/bin/bash
# The installed units under a real systemd: tests/package-test.sh boots a
# container (systemd-nspawn) on a private overlay of / where this script
#
#   setup PKGDIR SRCDIR   (in a chroot, before the boot) installs the .debs,
#                         makes the Django site at the default database path
#                         and a unit that runs "check" once the system is up;
#   check PKGDIR          (under systemd, as that unit) checks that
#                         django-authd.socket listens, that the first request
#                         starts the sandboxed django-authd.service, that it
#                         runs as _django-authd, and that NSS and PAM answer
#                         through it; writes PKGDIR/boot-result.txt and
#                         powers the container off.
set -uo pipefail
export DEBIAN_FRONTEND=noninteractive LC_ALL=C.UTF-8 PATH=/usr/sbin:/usr/bin:/sbin:/bin
mode=$1 pkg=$2

if [ "$mode" = setup ]; then
    src=$3
    set -e
    dpkg -i "$pkg"/libpam-django_*.deb "$pkg"/libnss-django_*.deb "$pkg"/django-authd_*.deb >/dev/null
    mkdir -p /srv/site && chmod 755 /srv/site
    (
        export DJANGO_SETTINGS_MODULE=settings PYTHONPATH="$src/tests/django" DJ_DB_NAME=/srv/site/db.sqlite3
        /usr/bin/python3 "$src/tests/django/manage.py" migrate -v0
        /usr/bin/python3 "$src/tests/django/seed_demo.py" >/dev/null
    )
    chmod 644 /srv/site/db.sqlite3
    printf '@include common-auth\n@include common-account\n' >/etc/pam.d/djsmoke
    # Who may log in through it: the installed default lets nobody in.
    echo "djsmoke = developers" >>/etc/django-auth/django-auth.conf
    cp "$0" /usr/local/sbin/package-boot-check
    cat >/etc/systemd/system/package-boot-check.service <<UNIT
[Unit]
Description=package test of django-authd under systemd
After=multi-user.target
[Service]
Type=oneshot
ExecStart=/bin/bash /usr/local/sbin/package-boot-check check $pkg
ExecStopPost=/bin/systemctl --no-block poweroff
[Install]
WantedBy=multi-user.target
UNIT
    systemctl enable package-boot-check.service >/dev/null 2>&1
    # A headless container: no login prompts to wait for.
    systemctl mask console-getty.service getty@.service serial-getty@.service >/dev/null 2>&1 || true
    # The container gets its own machine id.
    rm -f /etc/machine-id && : >/etc/machine-id
    exit 0
fi

# --- check: under systemd ----------------------------------------------------------
out="$pkg/boot-result.txt"
exec >"$out" 2>&1
passed=0 failed=0
ok()  { passed=$((passed + 1)); echo "ok   boot: $*"; }
bad() { failed=$((failed + 1)); echo "FAIL boot: $*"; }
check() {
    local desc=$1; shift
    if "$@" >/tmp/check.out 2>&1; then ok "$desc"
    else bad "$desc"; sed 's/^/     /' /tmp/check.out | tail -n 30; fi
}
check "django-authd.socket is active" systemctl is-active django-authd.socket
check "getent passwd alice (the first request starts the service)" bash -c \
    'getent passwd alice | grep -q "^alice:x:200001:"'
check "django-authd.service is active" systemctl is-active django-authd.service
check "started by the socket, not restarted" bash -c \
    '[ "$(systemctl show -P NRestarts django-authd.service)" = 0 ]'
pid=$(systemctl show -P MainPID django-authd.service)
check "the daemon runs as _django-authd" bash -c "[ \"\$(ps -o user= -p $pid)\" = _django-authd ]"
check "it serves the socket systemd passed" bash -c \
    'journalctl -b -u django-authd.service --no-pager | grep -q "listening on socket from systemd"'
check "id alice lists her Django groups" bash -c 'id alice | grep -q developers'
check "alice logs in through common-auth and common-account" bash -c \
    "printf 'wonderland\n' | pamtester djsmoke alice authenticate acct_mgmt"
check "a wrong password is refused" bash -c \
    "! printf 'wrong\n' | pamtester djsmoke alice authenticate acct_mgmt"
check "django-authctl status" django-authctl status
check "the shared cache file is beside the socket" test -f /run/django-auth/cache
check "the sandbox: ProtectSystem=strict, no capability left" bash -c \
    "grep -q '^CapEff:.0000000000000000' /proc/$pid/status && [ \"\$(systemctl show -P ProtectSystem django-authd.service)\" = strict ]"
check "stopping the service keeps the socket unit's socket" bash -c \
    'systemctl stop django-authd.service && test -S /run/django-auth/socket && getent passwd alice >/dev/null && systemctl is-active django-authd.service'
echo "     systemd-analyze security: $(systemd-analyze security django-authd.service --no-pager 2>/dev/null | tail -n 1)"
journalctl -b -u django-authd.socket -u django-authd.service --no-pager | tail -n 12 | sed 's/^/     /'
echo "boot: $passed passed, $failed failed"
