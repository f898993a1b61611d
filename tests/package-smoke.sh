#!/bin/bash
# Run by tests/package-test.sh as root inside a chroot whose / is a private
# overlay of the host's: installs the built .debs with dpkg, checks what the
# maintainer scripts did, logs Django users in through the installed
# pam-auth-update stack (pamtester) and resolves them through the installed
# NSS module (getent), with the installed daemon, units and default
# configuration, then purges the packages and checks that /etc/nsswitch.conf
# and /etc/pam.d/common-* are byte-identical to before.
#
# Usage (inside the chroot): package-smoke.sh PKGDIR SRCDIR
# Prints one closing line: "smoke: N passed, N failed".
set -uo pipefail
pkg=$1 src=$2
export DEBIAN_FRONTEND=noninteractive LC_ALL=C.UTF-8 PATH=/usr/sbin:/usr/bin:/sbin:/bin
passed=0 failed=0 daemon_pid=
ok()  { passed=$((passed + 1)); echo "ok   $*"; }
bad() { failed=$((failed + 1)); echo "FAIL $*"; }
check() {
    local desc=$1; shift
    if "$@" >/tmp/check.out 2>&1; then ok "$desc"
    else bad "$desc"; sed 's/^/     /' /tmp/check.out | tail -n 30; fi
}
# refute DESCRIPTION COMMAND...: COMMAND must fail.
refute() {
    local desc=$1; shift
    if "$@" >/tmp/check.out 2>&1; then bad "$desc"; sed 's/^/     /' /tmp/check.out | tail -n 30
    else ok "$desc"; fi
}
stop_daemon() {
    if [ -n "$daemon_pid" ]; then kill "$daemon_pid" 2>/dev/null; wait "$daemon_pid" 2>/dev/null; fi
    daemon_pid=
}
trap stop_daemon EXIT
# pam SERVICE USER PASSWORD: pamtester auth + account, the password on stdin.
pam() { printf '%s\n' "$3" | timeout 30 pamtester "$1" "$2" authenticate acct_mgmt; }

mkdir -p /tmp/before
cp -a /etc/nsswitch.conf /etc/pam.d/common-* /tmp/before/

# --- install -------------------------------------------------------------------
echo "== dpkg -i"
if dpkg -i "$pkg"/libpam-django_*.deb "$pkg"/libnss-django_*.deb "$pkg"/django-authd_*.deb \
        "$pkg"/django-authd-mysql_*.deb >/tmp/dpkg-install.log 2>&1; then
    ok "dpkg -i libpam-django libnss-django django-authd django-authd-mysql"
else
    bad "dpkg -i"; sed 's/^/     /' /tmp/dpkg-install.log | tail -n 40
fi
check "all four packages configured" bash -c \
    '[ "$(dpkg-query -W -f="\${db:Status-Abbrev}\n" libpam-django libnss-django django-authd django-authd-mysql | grep -c "^ii")" = 4 ]'

echo "== what the maintainer scripts did"
diff -u /tmp/before/nsswitch.conf /etc/nsswitch.conf | sed 's/^/     /'
for f in common-auth common-account common-password; do
    grep -vE '^(#|$)' "/etc/pam.d/$f" | sed "s|^|     $f: |"
done
check "nsswitch.conf: passwd has files first, then django" grep -qE '^passwd:\s+files(\s.*)?\sdjango(\s|$)' /etc/nsswitch.conf
check "nsswitch.conf: group has files first, then django" grep -qE '^group:\s+files(\s.*)?\sdjango(\s|$)' /etc/nsswitch.conf
check "nsswitch.conf: nothing else changed" bash -c \
    'diff <(sed -E "s/ django\$//" /etc/nsswitch.conf) /tmp/before/nsswitch.conf'
for f in common-auth common-account common-password; do
    check "$f calls pam_django after pam_unix" bash -c \
        "grep -n 'pam_unix.so' /etc/pam.d/$f | head -n1 | cut -d: -f1 > /tmp/u; grep -n 'pam_django.so' /etc/pam.d/$f | head -n1 | cut -d: -f1 > /tmp/d; [ -s /tmp/u ] && [ -s /tmp/d ] && [ \$(cat /tmp/u) -lt \$(cat /tmp/d) ]"
done
check "common-session does not load pam_django" bash -c '! grep -q pam_django /etc/pam.d/common-session'
check "system user _django-authd exists (files)" getent -s files passwd _django-authd
check "default config: root, 0600, user = _django-authd" bash -c \
    '[ "$(stat -c "%U %a" /etc/django-auth/django-auth.conf)" = "root 600" ] && grep -qx "user = _django-authd" /etc/django-auth/django-auth.conf'
refute "django-authd --check-config: no site at the default path yet" /usr/sbin/django-authd --check-config
# engine = mysql: the installed daemon loads the installed plugin (here it
# then fails to reach a server, and says so, not that the plugin is missing).
check "engine = mysql loads django-authd-mysql's plugin" bash -c \
    'printf "[database]\nengine = mysql\nname = site\nhost = /nonexistent/mysqld.sock\nconnect_timeout = 1\n" > /tmp/my.conf; chmod 600 /tmp/my.conf
     out=$(/usr/sbin/django-authd --check-config --config /tmp/my.conf 2>&1); echo "$out"
     echo "$out" | grep -q "cannot open or log in: mysql site@/nonexistent/mysqld.sock" && ! echo "$out" | grep -q "install the django-authd-mysql"'
check "README.Debian and the examples are installed" bash -c \
    'd=/usr/share/doc/django-authd; [ -f $d/README.Debian ] && for f in pam.d/sshd pam.d/vsftpd pam.d/django-web apache-django.conf nsswitch.conf postgresql-roles.sql mysql-roles.sql django-auth.conf; do [ -f $d/examples/$f ] || [ -f $d/examples/$f.gz ] || { echo "missing $f"; exit 1; }; done' 
check "socket unit enabled (sockets.target.wants)" test -L /etc/systemd/system/sockets.target.wants/django-authd.socket
if command -v systemd-analyze >/dev/null; then
    check "systemd-analyze verify the units" bash -c \
        'out=$(systemd-analyze verify --man=no /lib/systemd/system/django-authd.socket /lib/systemd/system/django-authd.service 2>&1); echo "$out"; [ -z "$out" ]'
fi
check "socket unit: /run/django-auth/socket, mode 0666, before nss-user-lookup.target" bash -c \
    'u=/lib/systemd/system/django-authd.socket; grep -qx "ListenStream=/run/django-auth/socket" $u && grep -qx "SocketMode=0666" $u && grep -qx "Before=nss-user-lookup.target" $u'
for p in pam_django.8 libnss_django.8 django-authd.8 django-authctl.1 django-auth.conf.5; do
    sec=${p##*.}
    check "man page $p installed and renders without warnings" bash -c \
        "f=/usr/share/man/man$sec/$p.gz; [ -f \$f ] && out=\$(MANWIDTH=80 man --warnings -l \$f 2>&1 >/dev/null) && [ -z \"\$out\" ]"
done

# --- a Django site where the default configuration expects it --------------------
echo "== a Django site in /srv/site (the default [database] name)"
mkdir -p /srv/site && chmod 755 /srv/site
(
    export DJANGO_SETTINGS_MODULE=settings PYTHONPATH="$src/tests/django" DJ_DB_NAME=/srv/site/db.sqlite3
    /usr/bin/python3 "$src/tests/django/manage.py" migrate -v0 &&
    /usr/bin/python3 "$src/tests/django/seed_demo.py" &&
    /usr/bin/python3 -c '
import django; django.setup()
from django.contrib.auth.models import User
# A Django account named like a local account, with its own password
# (seed_demo.py made a Django "root" too).
User.objects.create_user("pkglocal", "", "django-password")
'
) >/tmp/django.log 2>&1 || { bad "make the Django site"; cat /tmp/django.log; }
chmod 644 /srv/site/db.sqlite3
useradd -m -s /bin/bash pkglocal && echo 'pkglocal:local-password' | chpasswd

# The installed daemon with the installed default configuration, as the
# service runs it (no systemd here to start it from the socket unit).
start_daemon() {
    /usr/sbin/django-authd --foreground 2>>/tmp/daemon.log &
    daemon_pid=$!
    for _ in $(seq 200); do [ -S /run/django-auth/socket ] && break; sleep 0.05; done
}
start_daemon
check "the daemon listens on /run/django-auth/socket" test -S /run/django-auth/socket
check "the daemon runs as _django-authd" bash -c "[ \"\$(ps -o user= -p $daemon_pid)\" = _django-authd ]"
check "django-authctl status (socket from the installed config)" django-authctl status
check "the shared cache file is beside the socket" test -f /run/django-auth/cache

# The services read /etc/pam.d: one that uses the pam-auth-update stack.
cat > /etc/pam.d/djsmoke <<'PAM'
@include common-auth
@include common-account
@include common-password
PAM

echo "== NSS"
check "getent passwd alice (through libnss_django)" bash -c \
    'getent passwd alice | tee /dev/stderr | grep -qE "^alice:x:2[0-9]{5}:100:Alice Liddell:/home/alice:/bin/bash$"'
check "id alice lists her Django groups" bash -c 'id alice | tee /dev/stderr | grep -q developers'
check "getent group developers" bash -c 'getent group developers | tee /dev/stderr | grep -q alice'
check "getent passwd root is the local root" bash -c '[ "$(getent passwd root | cut -d: -f3)" = 0 ]'
check "getent passwd pkglocal is the local account" bash -c \
    '[ "$(getent passwd pkglocal | cut -d: -f3)" -lt 200000 ]'

echo "== PAM through /etc/pam.d/common-* (pamtester)"
refute "the installed default lets nobody in ([access] default is empty)" pam djsmoke alice wonderland
check "the daemon says which rule refused" grep -qF "not allowed by [access] default = (nobody) (service 'djsmoke' has no line)" /tmp/daemon.log
# What the admin does next: name who may use the service (the [access]
# section is the last of the installed file), then restart the daemon.
echo "djsmoke = developers" >> /etc/django-auth/django-auth.conf
stop_daemon
start_daemon
check "django-authd --check-config accepts it and lists the Django root as hidden" bash -c \
    "/usr/sbin/django-authd --check-config > /tmp/cc.out; rc=\$?; cat /tmp/cc.out; [ \$rc = 0 ] && grep -q \"hidden user 'root'\" /tmp/cc.out"
check "alice (developers) logs in with her Django password" pam djsmoke alice wonderland
refute "alice with a wrong password is refused" pam djsmoke alice not-her-password
refute "carol (inactive in Django) is refused" pam djsmoke carol singer
refute "nobody-here (no such user anywhere) is refused" pam djsmoke nobody-here whatever
check "pkglocal logs in with the local password" pam djsmoke pkglocal local-password
refute "pkglocal is refused with the password of the Django pkglocal" pam djsmoke pkglocal django-password
refute "root is refused with the password of the Django root" pam djsmoke root django-root-pass

echo "== the daemon stopped"
stop_daemon
start=$(date +%s%N)
check "pkglocal still logs in" pam djsmoke pkglocal local-password
ms=$(( ($(date +%s%N) - start) / 1000000 ))
check "... within 3 seconds (${ms} ms)" test "$ms" -lt 3000
refute "alice is refused" pam djsmoke alice wonderland
check "getent passwd root still resolves" getent passwd root
refute "getent passwd alice finds nothing" getent passwd alice
rm -f /etc/pam.d/djsmoke

# --- purge -----------------------------------------------------------------------
echo "== dpkg --purge"
if dpkg --purge libpam-django libnss-django django-authd-mysql django-authd >/tmp/dpkg-purge.log 2>&1; then
    ok "dpkg --purge libpam-django libnss-django django-authd-mysql django-authd"
else
    bad "dpkg --purge"; sed 's/^/     /' /tmp/dpkg-purge.log | tail -n 40
fi
for f in /tmp/before/*; do
    n=$(basename "$f")
    if [ "$n" = nsswitch.conf ]; then t=/etc/nsswitch.conf; else t=/etc/pam.d/$n; fi
    check "$t byte-identical after purge" cmp "$f" "$t"
done
check "no package file left" bash -c \
    '! ls -d /etc/django-auth /usr/share/pam-configs/django /lib/systemd/system/django-authd.* /usr/sbin/django-authd /etc/systemd/system/sockets.target.wants/django-authd.socket 2>/dev/null | grep .'

echo
echo "smoke: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
