"""Private mount namespaces, the one way the tests (and bench/) get them.

    private_argv(argv, setup)       one command in a namespace of its own, after
                                    the shell commands `setup` (its mounts)
    private_launcher(path, program, setup)
                                    an executable script that runs program so
                                    (for Daemon(binary=...))
    MountNamespace                  a namespace that lasts for a whole test
                                    module, which commands join


Real services (sshd, Apache, vsftpd, glibc's NSS) read fixed paths: /etc/pam.d,
/etc/nsswitch.conf, /run/..., the system library directory. Inside this
namespace those paths are the test's own, and the host's files stay untouched:

  - /etc/nsswitch.conf and /etc/pam.d/<service> are bind-mounted from files
    the test writes;
  - /run is a fresh tmpfs (so /run/django-auth/socket and /run/sshd are ours);
  - the multiarch library directory gets an overlay whose upper layer holds
    build/libnss_django.so.2 and security/pam_django.so, for programs that
    scrub LD_LIBRARY_PATH and for PAM files that say plain `pam_django.so`;
  - /run/django-auth can be the running daemon's socket directory, so the
    modules' default socket path reaches it;
  - /home can be a fresh tmpfs with home directories for Django users, and
    /etc/passwd, /etc/shadow and /etc/group private copies with local users.

A `unshare -m` process holds the namespace open; commands join it with
`nsenter`."""
import os
import pathlib
import shlex
import shutil
import signal
import subprocess
import tempfile
import time

from sysarch import LIBDIR



def private_argv(argv, setup=""):
    """argv run in a mount namespace of its own (unshare -m, private
    propagation), after the shell commands `setup`, which see argv as "$@"
    (a failing setup fails the whole command)."""
    script = ('%s && exec "$@"' % setup) if setup else 'exec "$@"'
    return ["unshare", "-m", "--propagation", "private", "sh", "-c", script, "sh", *[str(a) for a in argv]]


def private_launcher(path, program, setup):
    """Writes an executable script at `path` that runs `program` with its own
    arguments as private_argv does: a daemon started through it has the
    mounts of `setup`, and nothing else does."""
    path = pathlib.Path(path)
    path.write_text("#!/bin/sh\nexec %s \"$@\"\n" % shlex.join(private_argv([program], setup)))
    path.chmod(0o755)
    return path


class MountNamespace:
    def __init__(self, workdir=None):
        self.dir = pathlib.Path(workdir or tempfile.mkdtemp(prefix="djns-"))
        self.dir.mkdir(parents=True, exist_ok=True)
        self.holder = subprocess.Popen(
            ["unshare", "-m", "--propagation", "private", "sleep", "infinity"])
        # wait until the child has its own namespace
        deadline = time.time() + 5
        me = os.readlink("/proc/self/ns/mnt")
        while time.time() < deadline:
            try:
                if os.readlink(f"/proc/{self.holder.pid}/ns/mnt") != me:
                    break
            except FileNotFoundError:
                pass
            time.sleep(0.01)
        else:
            raise RuntimeError("unshare -m did not start")

    @property
    def pid(self):
        return self.holder.pid

    def prefix(self):
        return ["nsenter", "-t", str(self.pid), "-m", "--"]

    def run(self, cmd, check=True, **kw):
        kw.setdefault("capture_output", True)
        kw.setdefault("text", True)
        r = subprocess.run(self.prefix() + list(cmd), **kw)
        if check and r.returncode != 0:
            raise RuntimeError(f"{cmd} failed ({r.returncode}): {r.stdout}{r.stderr}")
        return r

    def popen(self, cmd, **kw):
        return subprocess.Popen(self.prefix() + list(cmd), **kw)

    def sh(self, script, check=True, **kw):
        return self.run(["sh", "-c", script], check=check, **kw)

    # --- what a test usually wants -------------------------------------------------
    def bind_file(self, source, target):
        self.run(["mount", "--bind", str(source), str(target)])

    def private_run(self):
        """A fresh /run with the directories services expect."""
        self.sh("mount -t tmpfs -o mode=0755 tmpfs /run && mkdir -p /run/sshd /run/django-auth"
                " /run/lock /run/apache2 && chmod 0755 /run/sshd")

    def nsswitch(self, passwd="files django", group="files django"):
        f = self.dir / "nsswitch.conf"
        f.write_text(f"passwd: {passwd}\ngroup: {group}\nshadow: files\n"
                     "hosts: files dns\nnetworks: files\nprotocols: files\nservices: files\n")
        self.bind_file(f, "/etc/nsswitch.conf")

    def pam_service(self, name, text):
        """Replaces /etc/pam.d/NAME inside the namespace (the file must exist
        on the host, or a private /etc/pam.d is mounted first)."""
        pamd = self.dir / "pam.d"
        if not pamd.exists():
            shutil.copytree("/etc/pam.d", pamd)
            self.run(["mount", "--bind", str(pamd), "/etc/pam.d"])
        (pamd / name).write_text(text)

    def nss_module(self, build, pam=False):
        """Makes build/libnss_django.so.2 visible in the system library
        directory (overlay), so programs that drop LD_LIBRARY_PATH load it;
        with pam=True, build/pam_django.so too, in security/ under it, where
        libpam finds modules named without a path."""
        upper, work = self.dir / "lib-upper", self.dir / "lib-work"
        upper.mkdir(exist_ok=True)
        work.mkdir(exist_ok=True)
        shutil.copy2(pathlib.Path(build) / "libnss_django.so.2", upper / "libnss_django.so.2")
        if pam:
            (upper / "security").mkdir(exist_ok=True)
            shutil.copy2(pathlib.Path(build) / "pam_django.so", upper / "security" / "pam_django.so")
        self.run(["mount", "-t", "overlay", "overlay", "-o",
                  f"lowerdir={LIBDIR},upperdir={upper},workdir={work}", LIBDIR])

    def modules(self, build):
        """Both modules where an installed system has them."""
        self.nss_module(build, pam=True)

    def daemon_socket_dir(self, directory):
        """Binds the daemon's socket directory onto /run/django-auth (after
        private_run), so /run/django-auth/socket, the modules' default, is
        the daemon's socket."""
        self.run(["mkdir", "-p", "/run/django-auth"])
        self.run(["mount", "--bind", str(directory), "/run/django-auth"])

    def homes(self, owners):
        """A fresh tmpfs on /home with /home/NAME (mode 0755) owned by
        (uid, gid), for each NAME: (uid, gid) of `owners`."""
        self.sh("mount -t tmpfs -o mode=0755 tmpfs /home")
        for name, (uid, gid) in owners.items():
            home = f"/home/{name}"
            self.run(["mkdir", "-p", home])
            self.run(["chown", f"+{uid}:+{gid}", home])  # "+": numeric, no NSS lookup
            self.run(["chmod", "0755", home])

    def local_user(self, name, uid, password_hash, shell="/bin/bash"):
        """Adds a local account (files) to private copies of /etc/passwd,
        /etc/shadow and /etc/group: a user only pam_unix and NSS "files"
        know. Its primary group is a new group of its own name."""
        etc = self.dir / "etc"
        if not etc.exists():
            etc.mkdir()
            for f in ("passwd", "shadow", "group"):
                shutil.copy2(f"/etc/{f}", etc / f)
                self.bind_file(etc / f, f"/etc/{f}")
        with open(etc / "passwd", "a") as f:
            f.write(f"{name}:x:{uid}:{uid}:local test user:/home/{name}:{shell}\n")
        with open(etc / "shadow", "a") as f:
            f.write(f"{name}:{password_hash}:19000:0:99999:7:::\n")
        with open(etc / "group", "a") as f:
            f.write(f"{name}:x:{uid}:\n")

    def close(self):
        if self.holder.poll() is None:
            self.holder.send_signal(signal.SIGKILL)
            self.holder.wait()
        shutil.rmtree(self.dir, ignore_errors=True)
