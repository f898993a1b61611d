// django-authctl: the administrator's tool for pam_django / nss_django.
// main() dispatches to the command table below; see tools/commands.h.
#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "tools/commands.h"

namespace dj::ctl {

const Command kCommands[] = {
    {"check-hash", "check a password (standard input or a file) against a Django password hash",
     cmd_check_hash},
    {"make-hash", "make a Django password hash of a password (standard input)", cmd_make_hash},
    {"status", "show whether django-authd answers, and its counters", cmd_status},
    {"user", "show a user as django-authd answers it (passwd line)", cmd_user},
    {"group", "show a group as django-authd answers it (group line)", cmd_group},
    {"groups", "list a user's groups, one per line", cmd_groups},
    {"auth", "authenticate a user (password on standard input) through django-authd", cmd_auth},
    {"authorized-keys", "print a user's SSH public keys for sshd's AuthorizedKeysCommand", cmd_authorized_keys},
    {"flush", "empty django-authd's lookup cache (root only)", cmd_flush},
    {"throttle", "list failed-login counts and lockouts, of everyone or of USER (root only)", cmd_throttle},
    {"reset", "clear a user's failed logins and lockout (--client CLIENT: a client's) (root only)", cmd_reset},
    {"install-triggers", "print the SQL that makes PostgreSQL notify django-authd of changes (--print)",
     cmd_install_triggers},
    {"uninstall-triggers", "print the SQL that removes what install-triggers installs (--print)",
     cmd_uninstall_triggers},
};
const size_t kCommandCount = sizeof kCommands / sizeof kCommands[0];

namespace {

bool read_all_fd(int fd, std::string& out) {
    out.clear();
    char buf[4096];
    for (;;) {
        ssize_t n = read(fd, buf, sizeof buf);
        if (n > 0) {
            out.append(buf, static_cast<size_t>(n));
        } else if (n == 0) {
            break;
        } else if (errno != EINTR) {
            explicit_bzero(buf, sizeof buf);
            return false;
        }
    }
    explicit_bzero(buf, sizeof buf);
    return true;
}

}  // namespace

bool read_all_stdin(std::string& out) { return read_all_fd(STDIN_FILENO, out); }

bool read_all_file(const std::string& path, std::string& out) {
    if (path == "-") return read_all_stdin(out);
    int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY);
    if (fd < 0) return false;
    const bool ok = read_all_fd(fd, out);
    const int saved = errno;
    close(fd);
    errno = saved;
    return ok;
}

int usage_error(const char* cmd, const std::string& message) {
    std::fprintf(stderr, "django-authctl: %s: %s\n", cmd, message.c_str());
    return kExitUsage;
}

int fail(const char* cmd, const std::string& message) {
    std::fprintf(stderr, "django-authctl: %s: %s\n", cmd, message.c_str());
    return kExitFail;
}

}  // namespace dj::ctl

namespace {

void print_usage(FILE* f) {
    std::fprintf(f,
                 "usage: django-authctl [--config FILE | --socket PATH] COMMAND [OPTIONS] [ARGS]\n"
                 "       django-authctl COMMAND --help\n"
                 "\n"
                 "commands:\n");
    for (size_t i = 0; i < dj::ctl::kCommandCount; ++i)
        std::fprintf(f, "  %-12s %s\n", dj::ctl::kCommands[i].name, dj::ctl::kCommands[i].summary);
}

}  // namespace

int main(int argc, char** argv) {
    // Global options may come before the command name
    // (django-authctl --socket PATH status); they are handed to the command
    // as if written after it, where each command parses them.
    std::vector<char*> globals;
    int first = 1;
    while (first < argc) {
        const std::string a = argv[first];
        if ((a == "--config" || a == "--socket") && first + 1 < argc) {
            globals.push_back(argv[first]);
            globals.push_back(argv[first + 1]);
            first += 2;
        } else if (a.rfind("--config=", 0) == 0 || a.rfind("--socket=", 0) == 0) {
            globals.push_back(argv[first]);
            first += 1;
        } else {
            break;
        }
    }
    if (first >= argc) {
        print_usage(stderr);
        return dj::ctl::kExitUsage;
    }
    const char* name = argv[first];
    if (std::strcmp(name, "--help") == 0 || std::strcmp(name, "-h") == 0 ||
        std::strcmp(name, "help") == 0) {
        print_usage(stdout);
        return dj::ctl::kExitOk;
    }
    for (size_t i = 0; i < dj::ctl::kCommandCount; ++i)
        if (std::strcmp(name, dj::ctl::kCommands[i].name) == 0)
        {
            std::vector<char*> args{argv[first]};
            args.insert(args.end(), globals.begin(), globals.end());
            args.insert(args.end(), argv + first + 1, argv + argc);
            args.push_back(nullptr);
            return dj::ctl::kCommands[i].run(static_cast<int>(args.size() - 1), args.data());
        }
    std::fprintf(stderr, "django-authctl: unknown command '%s' (see django-authctl --help)\n", name);
    return dj::ctl::kExitUsage;
}
