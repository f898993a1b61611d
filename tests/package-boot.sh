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
    # README "From a Django site to logins": steps 2 and 3 as written there
    # (step 1, the database, is the default path above).
    cat >>/etc/django-auth/django-auth.conf <<'ACCESS'
sshd = developers
su = developers
sudo = developers
vsftpd = sftp
django-web = *
django-web-developers = *
ACCESS
    echo '%developers ALL=(ALL:ALL) ALL' >/etc/sudoers.d/django-developers
    chmod 0440 /etc/sudoers.d/django-developers
    ex=/usr/share/doc/django-authd/examples
    cp "$ex/pam.d/django-web" "$ex/pam.d/django-web-developers" /etc/pam.d/
    cp "$ex/apache-django.conf" /etc/apache2/conf-available/
    a2enmod -q authnz_pam authz_unixgroup authn_socache socache_shmcb >/dev/null
    a2enconf -q apache-django >/dev/null
    for d in private developers sftp-team; do
        mkdir -p "/var/www/html/$d" && echo "$d" >"/var/www/html/$d/index.html"
    done
    # sshd, su, sudo and vsftpd keep Debian's own /etc/pam.d files and
    # sshd_config: the pam-auth-update profile is all they need.
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

# README "From a Django site to logins", step 4: each service, as shipped by
# Debian, logs Django users in.
ssh_as() {  # user password command
    sshpass -p "$2" ssh -F /dev/null -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null \
        -o LogLevel=ERROR -o PubkeyAuthentication=no -o NumberOfPasswordPrompts=1 \
        -o ConnectTimeout=30 "$1@127.0.0.1" "$3"
}
check "ssh.service and apache2.service are active" bash -c \
    'systemctl is-active ssh.service && systemctl is-active apache2.service'
check "sshd: alice logs in, her session has her Django groups" bash -c \
    "$(declare -f ssh_as); ssh_as alice wonderland id | grep -q developers"
check "sshd: a wrong password is refused" bash -c \
    "$(declare -f ssh_as); ! ssh_as alice wrong true"
check "sshd: the inactive carol is refused" bash -c \
    "$(declare -f ssh_as); ! ssh_as carol singer true"
check "sshd: Django's root cannot log in as the host's root" bash -c \
    "$(declare -f ssh_as); ! ssh_as root django-root-pass true"
check "su: alice with her Django password" bash -c \
    "[ \"\$(printf 'wonderland\n' | runuser -u nobody -- su alice -c 'id -un')\" = alice ]"
check "su: a wrong password is refused" bash -c \
    "! printf 'wrong\n' | runuser -u nobody -- su alice -c true"
check "su: Django's root password does not open the host's root" bash -c \
    "! printf 'django-root-pass\n' | runuser -u nobody -- su root -c true"
check "sudo: alice (developers, in sudoers) with her Django password" bash -c \
    "[ \"\$(printf 'wonderland\n' | runuser -u alice -- sudo -S -k -p '' id -u)\" = 0 ]"
check "sudo: a wrong password is refused" bash -c \
    "! printf 'wrong\n' | runuser -u alice -- sudo -S -k -p '' true"
check "sudo: the Django group named sudo is not the host's sudo group" bash -c \
    '! id -nG bob | grep -qw sudo && [ "$(getent group sudo | cut -d: -f3)" = "$(grep ^sudo: /etc/group | cut -d: -f3)" ]'
check "vsftpd: alice (sftp) lists her home" bash -c \
    'mkhomedir_helper alice && curl -sS --max-time 30 --user alice:wonderland ftp://127.0.0.1/ >/dev/null'
check "vsftpd: bob (not in sftp) is refused by [access]" bash -c \
    'mkhomedir_helper bob && ! curl -sS --max-time 30 --user bob:builder ftp://127.0.0.1/'
http() {  # user:password path -> HTTP status
    curl -s -o /dev/null -w '%{http_code}' --max-time 30 ${1:+--user "$1"} "http://127.0.0.1$2"
}
check "Apache: alice gets /private/" bash -c "$(declare -f http); [ \$(http alice:wonderland /private/) = 200 ]"
check "Apache: no password, a wrong one, the inactive carol: 401" bash -c \
    "$(declare -f http); [ \$(http '' /private/) = 401 ] && [ \$(http alice:wrong /private/) = 401 ] && [ \$(http carol:singer /private/) = 401 ]"
check "Apache: Require pam-account (developers) and unix-group (sftp)" bash -c \
    "$(declare -f http); [ \$(http bob:builder /developers/) = 200 ] && [ \$(http alice:wonderland /sftp-team/) = 200 ] && [ \$(http bob:builder /sftp-team/) = 401 ]"

echo "     systemd-analyze security: $(systemd-analyze security django-authd.service --no-pager 2>/dev/null | tail -n 1)"
journalctl -b -u django-authd.socket -u django-authd.service --no-pager | tail -n 12 | sed 's/^/     /'
echo "boot: $passed passed, $failed failed"
