"""The documentation matches the code.

- every key daemon/config.cc accepts is in config/django-auth.conf (in its
  section) and in django-auth.conf(5), and every key the page lists exists;
- every pam_django.so argument pam/args.cc parses is in pam_django(8), and
  every option the page lists exists;
- every django-authctl command in tools/authctl.cc is in django-authctl(1),
  and every command the page lists exists;
- every django-authd option daemon/main.cc parses is in django-authd(8);
- each page renders with `man --warnings` without a warning, and has the
  sections Linux-PAM's pages have (those that apply).
"""
import os
import pathlib
import re
import shutil
import subprocess

import pytest

TOP = pathlib.Path(os.environ.get("DJ_TOP", pathlib.Path(__file__).resolve().parents[2]))
MAN = TOP / "man"
PAGES = ["pam_django.8", "libnss_django.8", "django-authd.8", "django-authctl.1",
         "django-auth.conf.5"]


def read(rel):
    return (TOP / rel).read_text()


def roff_text(page):
    """The page's source with font escapes removed and \\- turned into -."""
    s = (MAN / page).read_text()
    s = re.sub(r"\\f[BIRP]", "", s)
    return s.replace("\\-", "-").replace("\\(em", "-")


def section(text, name):
    """The lines of the section .SH name (up to the next .SH)."""
    m = re.search(r'^\.SH "?' + re.escape(name) + r'"?\s*$(.*?)(?=^\.SH |\Z)', text, re.M | re.S)
    assert m, f"no section {name}"
    return m.group(1)


def config_keys():
    """section.key for every key the parser accepts."""
    src = read("daemon/config.cc")
    keys = set(re.findall(r'(?:str|ident|num|flag|list|abs_path)\("([a-z_]+\.[a-z_0-9]+)"', src))
    keys |= set(re.findall(r'setters\["([a-z_]+\.[a-z_0-9]+)"\]', src))
    assert len(keys) > 60, keys
    return keys


def assert_same_keys(found, where):
    """`found` ("section.key") is every key the code knows, and no other.
    [access] takes any PAM service name as a key: its "default" must be
    there, and is set apart."""
    assert "access.default" in found, f"{where} has no [access] default"
    found = {k for k in found if not k.startswith("access.")}
    missing = config_keys() - found
    assert not missing, f"keys not in {where}: {sorted(missing)}"
    unknown = found - config_keys()
    assert not unknown, f"{where} lists keys the code does not know: {sorted(unknown)}"


def test_every_config_key_is_in_the_default_file():
    text = read("config/django-auth.conf")
    current = None
    found = set()
    for line in text.splitlines():
        m = re.match(r"^\[(\w+)\]", line)
        if m:
            current = m.group(1)
            continue
        # "key = value", or "#key = value" for a key shown commented out
        m = re.match(r"^#?([a-z_0-9]+)\s*=", line)
        if m and current:
            found.add(f"{current}.{m.group(1)}")
    assert_same_keys(found, "config/django-auth.conf")


def test_access_is_the_last_section_of_the_default_file():
    """README and the package tests add a service's rule at the end of the
    file: it must land in [access]."""
    sections = re.findall(r"^\[([a-z]+)\]", read("config/django-auth.conf"), re.M)
    assert sections[-1] == "access", sections


def test_every_config_key_is_in_the_man_page():
    text = roff_text("django-auth.conf.5")
    opts = section(text, "OPTIONS")
    listed = {}
    current = None
    lines = opts.splitlines()
    for i, line in enumerate(lines):
        m = re.match(r'^\.SS "\[(\w+)\]"', line)
        if m:
            current = m.group(1)
            continue
        if line.startswith(".TP") and i + 1 < len(lines) and current:
            head = lines[i + 1]
            if head.startswith(".BR") or head.startswith(".B "):
                # .BR key " (default), " key2 " (default)" -> the bold words
                parts = re.findall(r'"[^"]*"|\S+', head)[1:]
                bold = parts[0::2] if head.startswith(".BR") else parts
                for word in bold:
                    word = word.strip('"').strip(", ")
                    if re.fullmatch(r"[a-z_0-9]+", word):
                        listed.setdefault(current, set()).add(word)
    found = {f"{s}.{k}" for s, ks in listed.items() for k in ks}
    assert_same_keys(found, "django-auth.conf(5)")


def pam_args():
    src = read("pam/args.cc")
    flags = set(re.findall(r'arg == "([a-z_]+)"', src))
    valued = set(re.findall(r'value_of\(arg, "([a-z_]+)"', src))
    assert "use_first_pass" in flags and "require_group" in valued
    return flags, valued


def test_every_pam_argument_is_in_pam_django_8():
    text = roff_text("pam_django.8")
    opts = section(text, "OPTIONS")
    flags, valued = pam_args()
    listed = set()
    lines = opts.splitlines()
    for i, line in enumerate(lines):
        if line.startswith(".TP") and i + 1 < len(lines):
            m = re.match(r"^\.BI?\s+([a-z_]+)(=?)", lines[i + 1])
            if m:
                listed.add((m.group(1), m.group(2) == "="))
    listed_flags = {n for n, v in listed if not v}
    listed_valued = {n for n, v in listed if v}
    assert flags <= listed_flags, f"missing from pam_django(8): {sorted(flags - listed_flags)}"
    assert valued <= listed_valued, f"missing from pam_django(8): {sorted(valued - listed_valued)}"
    assert listed_flags <= flags, f"pam_django(8) lists unknown options: {sorted(listed_flags - flags)}"
    assert listed_valued <= valued, f"pam_django(8) lists unknown options: {sorted(listed_valued - valued)}"
    synopsis = section(text, "SYNOPSIS")
    for name in flags | valued:
        assert re.search(r"\b" + name + r"\b", synopsis), f"{name} not in the SYNOPSIS"


def test_every_authctl_command_is_in_django_authctl_1():
    src = read("tools/authctl.cc")
    table = src[src.index("kCommands[] = {"):src.index("};", src.index("kCommands[] = {"))]
    commands = set(re.findall(r'\{"([a-z-]+)",', table))
    assert {"check-hash", "status", "flush"} <= commands
    text = roff_text("django-authctl.1")
    listed = set()
    lines = section(text, "COMMANDS").splitlines()
    for i, line in enumerate(lines):
        if line.startswith(".TP") and i + 1 < len(lines):
            m = re.match(r"^(?:\.B\s+)?([a-z][a-z-]*)", lines[i + 1])
            if m:
                listed.add(m.group(1))
    assert commands == listed, (f"missing: {sorted(commands - listed)}, "
                                f"unknown: {sorted(listed - commands)}")


def test_every_daemon_option_is_in_django_authd_8():
    src = read("daemon/main.cc")
    options = set(re.findall(r'a == "(-[-a-z]+)"', src))
    assert "--foreground" in options and "--check-config" in options
    opts = section(roff_text("django-authd.8"), "OPTIONS")
    for o in options:
        assert re.search(re.escape(o) + r"\b", opts), f"{o} not in django-authd(8) OPTIONS"
    listed = set(re.findall(r"^(--?[a-z][-a-z]*)", opts, re.M))
    listed |= set(re.findall(r", (--?[a-z][-a-z]*)", opts))
    unknown = {o for o in listed if o not in options}
    assert not unknown, f"django-authd(8) lists unknown options: {sorted(unknown)}"


REQUIRED = {
    "pam_django.8": ["NAME", "SYNOPSIS", "DESCRIPTION", "OPTIONS", "MODULE TYPES PROVIDED",
                     "RETURN VALUES", "FILES", "EXAMPLES", "SEE ALSO"],
    "libnss_django.8": ["NAME", "SYNOPSIS", "DESCRIPTION", "OPTIONS", "RETURN VALUES", "FILES",
                        "EXAMPLES", "SEE ALSO"],
    "django-authd.8": ["NAME", "SYNOPSIS", "DESCRIPTION", "OPTIONS", "EXIT STATUS", "FILES",
                       "EXAMPLES", "SEE ALSO"],
    "django-authctl.1": ["NAME", "SYNOPSIS", "DESCRIPTION", "OPTIONS", "EXIT STATUS", "FILES",
                         "EXAMPLES", "SEE ALSO"],
    "django-auth.conf.5": ["NAME", "SYNOPSIS", "DESCRIPTION", "OPTIONS", "FILES", "EXAMPLES",
                           "SEE ALSO"],
}


@pytest.mark.parametrize("page", PAGES)
def test_page_has_the_sections(page):
    text = (MAN / page).read_text()
    have = [s.strip('"') for s in re.findall(r"^\.SH (.+)$", text, re.M)]
    for name in REQUIRED[page]:
        assert name in have, f"{page}: no section {name}"
    order = [have.index(n) for n in REQUIRED[page]]
    assert order == sorted(order), f"{page}: sections out of order: {have}"
    assert text.startswith(".TH ")
    title = text.split()[1]
    assert title.lower() == page.rsplit(".", 1)[0].lower()
    assert text.split()[2] == page.rsplit(".", 1)[1]


@pytest.mark.skipif(shutil.which("man") is None, reason="man-db is not installed")
@pytest.mark.parametrize("page", PAGES)
def test_page_renders_without_warnings(page):
    env = dict(os.environ, MANWIDTH="80", LC_ALL="C.UTF-8")
    r = subprocess.run(["man", "--warnings", "-l", str(MAN / page)], env=env,
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert r.stderr == "", r.stderr
    assert "NAME" in r.stdout


def test_units_and_install_agree_with_the_code():
    """The socket unit, the code's defaults, the sysusers entry and the
    installed configuration's user name say the same thing."""
    sock = re.search(r"^ListenStream=(\S+)$", read("dist/django-authd.socket"), re.M).group(1)
    assert f'kDefaultSocket = "{sock}"' in read("common/protocol.h")
    assert f'std::string socket = "{sock}"' in read("daemon/config.h")
    assert re.search(r"^SocketMode=0666$", read("dist/django-authd.socket"), re.M)
    service = read("dist/django-authd.service")
    assert re.search(r"^ExecStart=/usr/sbin/django-authd --foreground$", service, re.M)
    assert not re.search(r"^User=", service, re.M), "systemd must not resolve a user for the daemon"
    user = re.search(r"^DAEMON_USER\s*\?=\s*(\S+)$", read("Makefile"), re.M).group(1)
    assert re.search(r"^u " + re.escape(user) + r" ", read("dist/django-authd.sysusers"), re.M)
    # The offline credentials' directory: the default file's, the daemon user's, 0700, writable in the unit.
    state = re.search(r'std::string file = "(/\S+)/[^/"]+"', read("daemon/config.h")).group(1)
    assert re.search(r"^d " + re.escape(state) + r" 0700 " + re.escape(user) + " " + re.escape(user) + " ",
                     read("dist/django-authd.tmpfiles"), re.M)
    assert re.search(r"^ReadWritePaths=-" + re.escape(state) + r"$", service, re.M)
    for page in ("django-authd.8", "django-auth.conf.5"):
        assert user in roff_text(page), f"{page} does not name {user}"
    profile = read("dist/pam-configs/django")
    for phase in ("Auth", "Account", "Password"):
        block = re.search(r"^" + phase + r":\n((?:\t.*\n)+)", profile, re.M).group(1)
        lines = block.strip("\n").split("\n")
        assert "pam_localuser.so" in lines[0], f"{phase}: local names must skip pam_django"
        assert "pam_django.so" in lines[1]
        assert "user_unknown=ignore" in lines[1] and "authinfo_unavail=ignore" in lines[1]
