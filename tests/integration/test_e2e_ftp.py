"""FTP end to end: vsftpd with PAM (config/pam.d/vsftpd, as it is) and NSS
in the e2e mount namespace (fixtures_e2e), on 127.0.0.1 and a free port. A
Django user logs in and lists her home directory; a wrong password, an
inactive user and a user outside the stack's require_group are refused. The
client is Python's ftplib."""
import ftplib
import shutil

import pytest

from conftest import SANITIZE
from fixtures_e2e import Server, free_port, public_tempdir

pytestmark = pytest.mark.skipif(
    SANITIZE, reason="sanitized modules cannot run inside vsftpd: it caps its own address space "
                     "(RLIMIT_AS), where AddressSanitizer cannot map its shadow memory (\"Failed to mmap\")")


class Vsftpd(Server):
    def __init__(self, e2e):
        self.e2e = e2e
        self.base = public_tempdir("djftp-")
        self.port = free_port()
        pasv = free_port(19000, 19900)
        (self.base / "vsftpd.conf").write_text(f"""listen=YES
listen_ipv6=NO
listen_address=127.0.0.1
listen_port={self.port}
background=NO
anonymous_enable=NO
local_enable=YES
write_enable=NO
pam_service_name=vsftpd
text_userdb_names=YES
secure_chroot_dir=/run/vsftpd/empty
pasv_enable=YES
pasv_address=127.0.0.1
pasv_min_port={pasv}
pasv_max_port={pasv + 9}
connect_from_port_20=NO
xferlog_enable=YES
vsftpd_log_file={self.base}/vsftpd.log
dual_log_enable=YES
xferlog_file={self.base}/xfer.log
""")

    def start(self):
        ns = self.e2e.ns
        ns.pam_service("vsftpd", self.e2e.config_text("pam.d/vsftpd"))
        ns.sh("mkdir -p /run/vsftpd/empty && chmod 0755 /run/vsftpd/empty")
        uid = self.e2e.uid("alice")
        ns.sh(f"echo hello > /home/alice/hello.txt && chown +{uid}:+100 /home/alice/hello.txt")
        return self.launch(["/usr/sbin/vsftpd", str(self.base / "vsftpd.conf")], "stderr.log")

    def log(self):
        out = ""
        for f in ("vsftpd.log", "stderr.log"):
            p = self.base / f
            if p.exists():
                out += p.read_text(errors="replace")
        return out

    def client(self):
        return ftplib.FTP(timeout=60, source_address=None)


@pytest.fixture(scope="module")
def vsftpd(e2e):
    v = Vsftpd(e2e)
    try:
        yield v.start()
    finally:
        v.stop()
        shutil.rmtree(v.base, ignore_errors=True)


def test_django_user_lists_her_home(vsftpd, e2e):
    ftp = ftplib.FTP(timeout=60)
    ftp.connect("127.0.0.1", vsftpd.port)
    try:
        reply = ftp.login("alice", "wonderland")
        assert reply.startswith("230"), reply
        assert ftp.pwd() == "/home/alice"
        lines = []
        ftp.retrlines("LIST", lines.append)
        listing = "\n".join(lines)
        assert "hello.txt" in listing, listing
        # text_userdb_names=YES: vsftpd names the owner through NSS (getpwuid)
        assert "alice" in listing.split(), listing
        data = []
        ftp.retrbinary("RETR hello.txt", data.append)
        assert b"".join(data) == b"hello\n"
    finally:
        ftp.close()


@pytest.mark.parametrize("user,password,why", [
    ("alice", "not-her-password", "wrong password"),
    ("carol", "singer", "inactive in Django"),
    ("bob", "builder", "not in the Django group ftp-users"),
    ("nosuchuser", "wonderland", "unknown"),
])
def test_refused(vsftpd, user, password, why):
    ftp = ftplib.FTP(timeout=60)
    ftp.connect("127.0.0.1", vsftpd.port)
    try:
        with pytest.raises(ftplib.error_perm) as exc:
            ftp.login(user, password)
        assert str(exc.value).startswith("530"), (why, str(exc.value))
    finally:
        ftp.close()
