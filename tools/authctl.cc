// django-authctl: the administrator's tool for pam_django / nss_django.
// main() dispatches to the command table below; see tools/commands.h.
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <string>

#include "tools/commands.h"

namespace dj::ctl {

const Command kCommands[] = {
    {"check-hash", "check a password (standard input) against a Django password hash",
     cmd_check_hash},
    {"make-hash", "make a Django password hash of a password (standard input)", cmd_make_hash},
    {"status", "show whether django-authd answers, and its counters", cmd_status},
    {"user", "show a user as django-authd answers it (passwd line)", cmd_user},
    {"group", "show a group as django-authd answers it (group line)", cmd_group},
    {"groups", "list a user's groups, one per line", cmd_groups},
    {"auth", "authenticate a user (password on standard input) through django-authd", cmd_auth},
    {"flush", "empty django-authd's lookup cache (root only)", cmd_flush},
};
const size_t kCommandCount = sizeof kCommands / sizeof kCommands[0];

bool read_all_stdin(std::string& out) {
    out.clear();
    char buf[4096];
    for (;;) {
        ssize_t n = read(STDIN_FILENO, buf, sizeof buf);
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
                 "usage: django-authctl COMMAND [OPTIONS] [ARGS]\n"
                 "       django-authctl COMMAND --help\n"
                 "\n"
                 "commands:\n");
    for (size_t i = 0; i < dj::ctl::kCommandCount; ++i)
        std::fprintf(f, "  %-12s %s\n", dj::ctl::kCommands[i].name, dj::ctl::kCommands[i].summary);
}

}  // namespace

int main(int argc, char** argv) {
    if (argc < 2) {
        print_usage(stderr);
        return dj::ctl::kExitUsage;
    }
    const char* name = argv[1];
    if (std::strcmp(name, "--help") == 0 || std::strcmp(name, "-h") == 0 ||
        std::strcmp(name, "help") == 0) {
        print_usage(stdout);
        return dj::ctl::kExitOk;
    }
    for (size_t i = 0; i < dj::ctl::kCommandCount; ++i)
        if (std::strcmp(name, dj::ctl::kCommands[i].name) == 0)
            return dj::ctl::kCommands[i].run(argc - 1, argv + 1);
    std::fprintf(stderr, "django-authctl: unknown command '%s' (see django-authctl --help)\n", name);
    return dj::ctl::kExitUsage;
}
