#!/bin/bash
# make demo: the main job, end to end, on Django's embedded default (SQLite).
# Makes a Django site with real Django, starts django-authd on a private
# socket, and logs its users in through the real PAM and NSS modules. Touches
# no system file: PAM runs through pam_wrapper with a private service
# directory, NSS in a private mount namespace with its own nsswitch.conf.
set -euo pipefail
build=$(cd "${1:-build}" && pwd)
top=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d /tmp/django-auth-demo.XXXXXX)
chmod 755 "$work"
daemon_pid=
cleanup() {
    [ -n "$daemon_pid" ] && kill "$daemon_pid" 2>/dev/null && wait "$daemon_pid" 2>/dev/null
    rm -rf "$work"
}
trap cleanup EXIT

say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
run() { printf '$ %s\n' "$*"; "$@"; }

say "1. A Django site on SQLite, made with real Django ($(/usr/bin/python3 -c 'import django; print(django.get_version())'))"
export DJANGO_SETTINGS_MODULE=settings PYTHONPATH="$top/tests/django" DJ_DB_NAME="$work/db.sqlite3"
/usr/bin/python3 "$top/tests/django/manage.py" migrate -v0
/usr/bin/python3 "$top/tests/django/seed_demo.py"

say "2. django-authd on a private socket"
cat > "$work/django-auth.conf" <<CONF
[database]
engine = sqlite3
name = $work/db.sqlite3
[daemon]
socket = $work/run/socket
[nss]
uid_base = 200000
gid_base = 200000
[access]
# Nobody may log in until named here, per PAM service: Django group names,
# or * for every active user.
default =
django-login = *
django-sftp = sftp
django-authctl = *
CONF
chmod 600 "$work/django-auth.conf"
"$build/django-authd" --config "$work/django-auth.conf" --foreground 2>"$work/daemon.log" &
daemon_pid=$!
for _ in $(seq 100); do [ -S "$work/run/socket" ] && break; sleep 0.05; done
printf '$ django-authctl --socket %s status\n' "$work/run/socket"
"$build/django-authctl" --socket "$work/run/socket" status | grep -E '^(version|database|protocol) '
printf '$ printf wonderland | django-authctl --socket ... auth alice; echo $?\n'
printf wonderland | "$build/django-authctl" --socket "$work/run/socket" auth alice && echo 0

say "3. PAM: pamtester with pam_django.so (auth + account)"
mkdir -p "$work/pam.d"
echo "auth required pam_deny.so" > "$work/pam.d/other"
cat > "$work/pam.d/django-login" <<PAM
auth    required $build/pam_django.so socket=$work/run/socket nodelay
account required $build/pam_django.so socket=$work/run/socket
PAM
cat > "$work/pam.d/django-sftp" <<PAM
auth    required $build/pam_django.so socket=$work/run/socket nodelay
account required $build/pam_django.so socket=$work/run/socket require_group=sftp
PAM
pam() {  # pam SERVICE USER PASSWORD
    printf '$ echo *** | pamtester %s %s authenticate acct_mgmt\n' "$1" "$2"
    printf '%s\n' "$3" | LD_PRELOAD=libpam_wrapper.so PAM_WRAPPER=1 \
        PAM_WRAPPER_SERVICE_DIR="$work/pam.d" stdbuf -oL -eL pamtester "$1" "$2" authenticate acct_mgmt 2>&1 \
        | sed 's/^Password: //' || true
}
echo "# alice, right password:"
pam django-login alice wonderland
echo "# alice, wrong password:"
pam django-login alice not-her-password
echo "# carol is inactive in Django:"
pam django-login carol singer
echo "# [access] django-sftp = sftp: alice is in the Django group sftp, bob is not"
pam django-sftp alice wonderland
pam django-sftp bob builder
echo "# a service with no [access] line: nobody (the default is empty)"
cp "$work/pam.d/django-login" "$work/pam.d/other-service"
pam other-service alice wonderland
echo "# root is a local account: a Django user named root is never it"
pam django-login root django-root-pass

say "4. NSS: glibc sees Django users and groups (private mount namespace)"
cat > "$work/nsswitch.conf" <<NSS
passwd: files django
group:  files django
shadow: files
NSS
unshare -m bash -c '
    mount --bind "$1/nsswitch.conf" /etc/nsswitch.conf
    export LD_LIBRARY_PATH="$2" DJANGO_AUTH_SOCKET="$1/run/socket"
    for c in "getent passwd alice" "getent group developers" "getent group sftp" "id alice" "id bob" \
             "getent passwd root" "getent group sudo"; do
        echo "\$ $c"; $c || true
    done
' demo "$work" "$build"

say "5. Stopping the daemon"
kill "$daemon_pid"; wait "$daemon_pid" 2>/dev/null || true; daemon_pid=
echo "done: every answer above came from Django's own tables and hashes."
