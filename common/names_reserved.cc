// The built-in reserved names (declared in names.h). A Django user or group
// with one of these names is never served, present on this host or not: a
// group that grants power here or on the next distribution the admin copies
// a sudoers line from must not be claimable by whoever may add a group in the
// Django admin. Compared without regard to ASCII case (sudo's
// case_insensitive_group, MySQL collations). group_prefix is the way to serve
// such a Django group anyway, under another name.
#include "common/names.h"

namespace dj::names {

const std::vector<std::string_view> kReservedUsers = {
    // The superuser and its BSD alias. ("admin", Django's usual first
    // superuser, stays a Django name: no distribution gives the user power.)
    "root", "toor",
    // Debian base-passwd, Fedora/RHEL setup, Arch filesystem system accounts.
    "daemon", "bin", "sys", "sync", "games", "man", "lp", "mail", "news", "uucp", "proxy",
    "www-data", "backup", "list", "irc", "gnats", "nobody", "operator", "halt", "shutdown", "adm",
    "ftp", "http", "apache", "nginx", "sshd", "messagebus", "dbus", "polkitd", "avahi", "postfix",
    "postgres", "mysql", "systemd-network", "systemd-resolve", "systemd-timesync",
    "systemd-coredump", "systemd-oom", "_apt", "_django-authd",
};

const std::vector<std::string_view> kReservedGroups = {
    // Named in sudoers or polkit rules as administrators.
    "root", "wheel", "sudo", "admin", "sudoers",
    // Read logs, the journal, /etc/shadow, private keys, raw disks or memory.
    "adm", "systemd-journal", "shadow", "ssl-cert", "disk", "kmem", "mem",
    // Root through a daemon's socket: container and VM runtimes.
    "docker", "lxd", "incus-admin", "incus", "libvirt", "libvirt-qemu", "kvm", "podman",
    "microk8s",
    // Debian's staff (writes /usr/local), and device and terminal groups.
    "staff", "tty", "utmp", "dialout", "input", "video", "render", "audio", "plugdev", "netdev",
    "lpadmin", "tss", "sgx", "sys",
    // Base system groups of Debian, Fedora/RHEL and Arch.
    "daemon", "bin", "lp", "mail", "news", "uucp", "man", "proxy", "fax", "voice", "cdrom",
    "floppy", "tape", "dip", "www-data", "backup", "operator", "list", "irc", "src", "gnats",
    "sasl", "games", "users", "nogroup", "nobody", "crontab", "messagebus", "ssh", "_ssh",
    "systemd-network", "systemd-resolve", "systemd-timesync", "systemd-coredump", "ftp", "http",
    "log", "_django-authd",
};

}  // namespace dj::names
