"""Apache 2.4 end to end: HTTP Basic authentication against Django accounts
through mod_authnz_pam (PAM -> pam_django.so) and mod_authz_unixgroup (NSS ->
libnss_django.so.2), with and without mod_authn_socache in front.

Apache runs in the e2e mount namespace (fixtures_e2e), workers as www-data,
on 127.0.0.1 and a free port. Its site is config/apache-django.conf and its
PAM services are config/pam.d/django-web and django-web-developers, included
as they are. Under the sanitizers Apache runs with the ASan and UBSan runtimes
preloaded (fixtures_e2e.service_env), so the sanitized modules load in it."""
import base64
import http.client
import os
import pathlib
import shutil

import pytest

from conftest import TOP
from fixtures_e2e import PASSWORDS, Server, free_port, public_tempdir, service_env


MODULES = ["mpm_event", "authn_core", "authz_core", "authz_user", "auth_basic", "mime",
           "authnz_pam", "authz_unixgroup", "authn_socache", "socache_shmcb"]
LOCATIONS = ["public", "private", "developers", "sftp-team", "cached", "dev-cached", "sftp-cached"]


def apache_conf(base, port):
    mods = "\n".join("LoadModule %s_module /usr/lib/apache2/modules/mod_%s.so" % (m, m)
                     for m in MODULES)
    return f"""ServerRoot {base}
ServerName localhost
Listen 127.0.0.1:{port}
PidFile {base}/httpd.pid
Mutex file:{base}
DefaultRuntimeDir {base}
User www-data
Group www-data
{mods}
TypesConfig /etc/mime.types
ErrorLog {base}/error.log
LogLevel warn authnz_pam:debug
LogFormat "%h %u %>s %r" short
CustomLog {base}/access.log short
StartServers 1
ServerLimit 2
ThreadsPerChild 16
MaxRequestWorkers 32
DocumentRoot {base}/htdocs
<Directory {base}/htdocs>
    Require all granted
</Directory>
Include {TOP}/config/apache-django.conf
"""


class Apache(Server):
    def __init__(self, e2e):
        self.e2e = e2e
        self.base = public_tempdir("djapache-")
        self.port = free_port()
        for loc in LOCATIONS:
            (self.base / "htdocs" / loc).mkdir(parents=True)
            (self.base / "htdocs" / loc / "ok.txt").write_text("ok %s\n" % loc)
        os.system("chmod -R a+rX %s" % self.base)
        (self.base / "httpd.conf").write_text(apache_conf(self.base, self.port))

    def start(self):
        ns = self.e2e.ns
        for svc in ("django-web", "django-web-developers"):
            ns.pam_service(svc, self.e2e.config_text("pam.d/" + svc))
        r = ns.run(["apache2", "-t", "-f", str(self.base / "httpd.conf")], check=False, env=service_env())
        assert r.returncode == 0, r.stdout + r.stderr
        return self.launch(["apache2", "-f", str(self.base / "httpd.conf"), "-DFOREGROUND"], "stderr.log")

    def error_log(self):
        p = self.base / "error.log"
        return p.read_text(errors="replace") if p.exists() else ""

    def get(self, path, user=None, password=None):
        c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
        headers = {}
        if user is not None:
            token = base64.b64encode(("%s:%s" % (user, password)).encode()).decode()
            headers["Authorization"] = "Basic " + token
        c.request("GET", path, headers=headers)
        r = c.getresponse()
        r.read()
        c.close()
        return r.status


@pytest.fixture(scope="module")
def apache(e2e):
    a = Apache(e2e)
    try:
        yield a.start()
    finally:
        a.stop()
        shutil.rmtree(a.base, ignore_errors=True)


def check(apache, path, user, password, want):
    got = apache.get(path, user, password)
    assert got == want, "%s as %s: %s, want %s\n%s" % (path, user, got, want, apache.error_log()[-3000:])


@pytest.mark.parametrize("loc", ["private", "cached"])
def test_valid_user(apache, e2e, loc):
    path = "/%s/ok.txt" % loc
    check(apache, path, None, None, 401)
    check(apache, path, "alice", "wonderland", 200)
    check(apache, path, "bob", "builder", 200)
    check(apache, path, "alice", "not-her-password", 401)
    check(apache, path, "nosuchuser", "wonderland", 401)
    check(apache, path, "carol", "singer", 401)          # inactive in Django


@pytest.mark.parametrize("loc", ["developers", "sftp-team", "dev-cached", "sftp-cached"])
def test_group_requirements(apache, loc):
    # developers: Require pam-account django-web-developers (require_group=developers,ops)
    # sftp-team:  Require unix-group sftp (NSS: getpwnam + the group's member list)
    # *-cached:   the same behind mod_authn_socache (which caches the password check only)
    path = "/%s/ok.txt" % loc
    check(apache, path, "alice", "wonderland", 200)
    check(apache, path, "alice", "wonderland", 200)
    outsider = "admin" if loc.startswith("dev") else "bob"
    check(apache, path, outsider, PASSWORDS[outsider], 401)
    check(apache, path, outsider, PASSWORDS[outsider], 401)     # (*-cached: password from the cache)
    check(apache, path, "carol", "singer", 401)
    if not loc.endswith("cached"):
        # (few wrong passwords per user: the daemon locks a user out after 10)
        check(apache, path, "alice", "wrong", 401)


def test_socache_serves_repeated_logins_without_the_daemon(apache, e2e):
    """With `AuthBasicProvider socache PAM` a good login is cached by Apache:
    once seen, it is answered while the daemon is stopped; /private, without
    the cache, then fails."""
    check(apache, "/cached/ok.txt", "bob", "builder", 200)
    e2e.daemon.stop()
    try:
        check(apache, "/cached/ok.txt", "bob", "builder", 200)
        check(apache, "/cached/ok.txt", "bob", "wrong", 401)
        check(apache, "/private/ok.txt", "bob", "builder", 401)
    finally:
        e2e.daemon.start()
    check(apache, "/private/ok.txt", "bob", "builder", 200)


def test_workers_run_as_www_data(apache, e2e):
    """The PAM module ran in workers whose uid is www-data, an auth client
    of the daemon (config: auth_clients = www-data): none was refused."""
    check(apache, "/private/ok.txt", "alice", "wonderland", 200)
    assert "is not an auth client" not in e2e.daemon.log_text()
    assert "uid=33" in e2e.daemon.log_text()
    r = e2e.ns.run(["ps", "-o", "user=", "--ppid", str(_apache_main_pid(apache))], check=False)
    users = set(r.stdout.split())
    assert users == {"www-data"}, r.stdout


def _apache_main_pid(apache):
    return int((apache.base / "httpd.pid").read_text().strip())


@pytest.mark.skipif(os.environ.get("DJ_E2E_WRK") != "1" or not shutil.which("wrk"),
                    reason="a measurement, not a test: set DJ_E2E_WRK=1 (needs wrk)")
@pytest.mark.parametrize("loc", ["public", "private", "cached"])
def test_wrk_requests_per_second(apache, loc):
    """Requests per second of one Basic-auth location (pbkdf2_sha256, 1,000
    iterations), with wrk: DJ_E2E_WRK=1 pytest -s -k wrk ...; /public (no
    authentication) is the baseline."""
    import re
    import subprocess
    token = base64.b64encode(b"alice:wonderland").decode()
    seconds = os.environ.get("DJ_E2E_WRK_SECONDS", "10")
    r = subprocess.run(["wrk", "-t2", "-c8", "-d%ss" % seconds, "-H", "Authorization: Basic " + token,
                        "http://127.0.0.1:%d/%s/ok.txt" % (apache.port, loc)],
                       capture_output=True, text=True, timeout=int(seconds) + 60)
    assert r.returncode == 0, r.stderr
    print("\n%s:\n%s" % (loc, r.stdout))
    assert "Non-2xx" not in r.stdout, r.stdout
    assert float(re.search(r"Requests/sec:\s+([\d.]+)", r.stdout).group(1)) > 0
