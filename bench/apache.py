#!/usr/bin/python3
"""make bench, section 3: Apache Basic auth through mod_authnz_pam and
pam_django.so against mod_wsgi and Django's check_password, with wrk."""
import os
import shutil
import subprocess
import time

from benchlib import PASSWORD, django_iterations, fixtures_db, main, private_argv

APACHE_MODULES = ["mpm_event", "authn_core", "authz_core", "authz_user", "auth_basic", "mime"]


def apache_conf(b, tag, port, extra_modules, location):
    d = b.work / ("apache-" + tag)
    (d / "htdocs").mkdir(parents=True, exist_ok=True)
    (d / "htdocs" / "index.html").write_text("ok\n")
    os.chmod(d, 0o755)
    mods = "".join("LoadModule %s_module /usr/lib/apache2/modules/mod_%s.so\n" % (m, m)
                   for m in APACHE_MODULES + extra_modules)
    conf = d / "httpd.conf"
    conf.write_text(mods + """ServerRoot %(d)s
ServerName localhost
Listen 127.0.0.1:%(port)d
PidFile %(d)s/httpd.pid
ErrorLog %(d)s/error.log
LogLevel warn
User www-data
Group www-data
TypesConfig /etc/mime.types

StartServers 2
ServerLimit 4
ThreadsPerChild 32
MaxRequestWorkers 128
MaxConnectionsPerChild 0
KeepAlive On
MaxKeepAliveRequests 0
DocumentRoot %(d)s/htdocs
<Directory %(d)s/htdocs>
    Require all granted
</Directory>
%(location)s
""" % {"d": d, "port": port, "location": location})
    return d, conf


def run_apache(b, d, conf, mount, users_passwords):
    """Starts Apache in a namespace, runs wrk for each (label, user, password,
    seconds). Returns {label: (requests per second, requests completed)}."""
    port = int([l for l in conf.read_text().splitlines() if l.startswith("Listen")][0].rsplit(":", 1)[1])
    pidfile = d / "httpd.pid"
    if pidfile.exists():
        pidfile.unlink()
    e = dict(os.environ)
    proc = subprocess.Popen(private_argv(["/usr/sbin/apache2", "-f", conf, "-DFOREGROUND"], mount), env=e)
    import base64
    import urllib.error
    import urllib.request
    results = {}
    try:
        deadline = time.time() + 30
        while True:
            try:
                urllib.request.urlopen("http://127.0.0.1:%d/index.html" % port, timeout=60)
            except urllib.error.HTTPError as err:
                if err.code == 401:
                    break
            except OSError:
                pass
            if time.time() > deadline or proc.poll() is not None:
                raise RuntimeError("apache did not start: %s" % (d / "error.log").read_text()[-2000:])
            time.sleep(0.2)
        for label, user, password, seconds in users_passwords:
            auth = "Basic " + base64.b64encode(("%s:%s" % (user, password)).encode()).decode()
            req = urllib.request.Request("http://127.0.0.1:%d/index.html" % port, headers={"Authorization": auth})
            try:
                urllib.request.urlopen(req, timeout=60)
            except urllib.error.HTTPError as err:
                raise RuntimeError("%s: %s\n%s" % (label, err, (d / "error.log").read_text()[-3000:]))
            out = subprocess.run(["wrk", "-t2", "-c8", "-d%ds" % seconds, "--timeout", "30s", "-H",
                                  "Authorization: " + auth, "http://127.0.0.1:%d/index.html" % port],
                                 capture_output=True, text=True, check=True).stdout
            if "Non-2xx" in out:
                raise RuntimeError("wrk saw failures: " + out)
            rps = float([l for l in out.splitlines() if l.startswith("Requests/sec:")][0].split()[1])
            done = int([l for l in out.splitlines() if " requests in " in l][0].split()[0])
            results[label] = (rps, done)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    return results


# Section 3's hashes: (label, pbkdf2_sha256 iterations, wrk seconds for ours,
# for Django). wrk counts only the requests that complete before it stops
# (with 8 connections, up to 8 are cut off), so slow hashes run long enough
# for many to complete: at 1,200,000 Django completes about 2 a second.
APACHE_CURRENT_DJANGO = 1200000


def apache_rows(default_iter):
    rows = [("default", default_iter), ("i1200000", APACHE_CURRENT_DJANGO), ("i1000", 1000)]
    if default_iter == APACHE_CURRENT_DJANGO:
        del rows[1]
    return [(label, it) + ((8, 8) if it < 500000 else (10, 40)) for label, it in rows]


def mode_apache(b):
    """Section 3: Apache Basic auth, mod_authnz_pam + pam_django against
    mod_wsgi + Django's modwsgi.check_password, the same user, the same stored
    hash, the same PostgreSQL database. Three hashes: pbkdf2_sha256 at the
    installed Django's default count, at current Django's 1,200,000, and at
    1,000 iterations (Django configured for the same count each time, or its
    check_password would re-hash the password at its default count on the
    first login)."""
    ctl = str(b.build / "django-authctl")
    default_iter = django_iterations()
    rows = apache_rows(default_iter)
    hashes = {}
    for label, it, _, _ in rows:
        hashes[label] = subprocess.run([ctl, "make-hash", "--iterations", str(it)], input=PASSWORD, text=True,
                                       capture_output=True, check=True).stdout.strip()
    db = b.database(users=100, groups=10, per_user=1, hash_=hashes["default"])
    b.put("apache_iterations_default", default_iter)

    def set_hash(label):
        b.cluster.psql("UPDATE auth_user SET password = '%s' WHERE username = 'u1'" % hashes[label], db=db)

    ours, peer = {}, {}
    with b.daemon(db, "apache") as dm:
        pamd_mount = b.etc_overlay("apache-ours", "passwd: files\ngroup: files\nshadow: files\n")
        upper = b.work / "etc-apache-ours" / "upper"
        (upper / "pam.d").mkdir(exist_ok=True)
        # Apache's workers (www-data) load the module: a copy they can read.
        pam_so = b.work / "pam_django.so"
        shutil.copy2(b.build / "pam_django.so", pam_so)
        os.chmod(pam_so, 0o644)
        (upper / "pam.d" / "djbench").write_text(
            "auth required %s socket=%s\naccount required %s socket=%s\n" % (pam_so, dm.socket, pam_so, dm.socket))
        d, conf = apache_conf(b, "ours", fixtures_db.free_port(), ["authnz_pam"], """<Location /index.html>
    AuthType Basic
    AuthName bench
    AuthBasicProvider PAM
    AuthPAMService djbench
    Require valid-user
</Location>""")
        for label, _, seconds, _ in rows:
            set_hash(label)
            ours.update(run_apache(b, d, conf, pamd_mount, [(label, "u1", PASSWORD, seconds)]))
    env = b.cluster.env(db)
    for label, it, _, seconds in rows:
        set_hash(label)
        script = b.work / ("auth-%s.wsgi" % label)
        script.write_text("import os, sys\n" + "".join(
            "os.environ[%r] = %r\n" % (k, v) for k, v in env.items()
            if k.startswith("DJ_") or k in ("DJANGO_SETTINGS_MODULE", "PYTHONPATH")) +
            "sys.path[:0] = os.environ['PYTHONPATH'].split(':')\n"
            "import django\ndjango.setup()\n"
            "from django.contrib.auth.hashers import PBKDF2PasswordHasher\n"
            "PBKDF2PasswordHasher.iterations = %d\n"
            "from django.contrib.auth.handlers.modwsgi import check_password, groups_for_user\n" % it)
        os.chmod(script, 0o644)
        d, conf = apache_conf(b, "django-" + label, fixtures_db.free_port(), ["wsgi"], """WSGIDestroyInterpreter Off
<Location /index.html>
    WSGIAuthUserScript %s application-group=%%{GLOBAL}
    AuthType Basic
    AuthName bench
    AuthBasicProvider wsgi
    Require valid-user
</Location>""" % script)
        peer.update(run_apache(b, d, conf, "true", [(label, "u1", PASSWORD, seconds)]))
        out = b.cluster.psql("SELECT password FROM auth_user WHERE username = 'u1'", db=db)
        assert hashes[label] in out, "Django re-hashed the password: %s" % out
    if default_iter == APACHE_CURRENT_DJANGO:   # a Django whose default is 1,200,000 already
        rows.insert(1, ("i1200000",) + rows[0][1:])
        ours["i1200000"], peer["i1200000"] = ours["default"], peer["default"]
    for label, _, ours_s, peer_s in rows:
        b.put("apache_ours_%s_rps" % label, "%.1f" % ours[label][0])
        b.put("apache_django_%s_rps" % label, "%.1f" % peer[label][0])
        b.put("apache_ours_%s_requests" % label, ours[label][1])
        b.put("apache_django_%s_requests" % label, peer[label][1])
        b.put("apache_ours_%s_seconds" % label, ours_s)
        b.put("apache_django_%s_seconds" % label, peer_s)


if __name__ == "__main__":
    main(mode_apache)
