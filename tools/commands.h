// django-authctl's commands. authctl.cc holds main() and the command table;
// each command lives in a cmd_*.cc file and is declared here.
//
// A command gets argc/argv with argv[0] = its own name, handles --help
// itself, and returns the process exit status:
//   0  success (for check-hash: the password matches)
//   1  a negative answer or a failure, with a one-line reason on stderr
//   2  a usage error, naming what is wrong
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include "common/client.h"
#include "common/protocol.h"

namespace dj::ctl {

constexpr int kExitOk = 0;
constexpr int kExitFail = 1;
constexpr int kExitUsage = 2;

struct Command {
    const char* name;
    const char* summary;  // one line, shown by `django-authctl --help`
    int (*run)(int argc, char** argv);
};

// The command table (authctl.cc).
extern const Command kCommands[];
extern const size_t kCommandCount;

// Helpers shared by commands (authctl.cc).
// All of standard input, byte for byte (no newline is stripped).
bool read_all_stdin(std::string& out);
// All of FILE ("-": standard input), byte for byte. False (errno set) when
// it cannot be opened or read.
bool read_all_file(const std::string& path, std::string& out);
// Prints "django-authctl: CMD: MESSAGE" to stderr and returns kExitUsage.
int usage_error(const char* cmd, const std::string& message);
// Prints "django-authctl: CMD: MESSAGE" to stderr and returns kExitFail.
int fail(const char* cmd, const std::string& message);

// The daemon a command talks to (cmd_daemon.cc).
struct Target {
    client::Options opt;
    std::vector<std::string> args;  // what is left after the options
};
// Parses [--config FILE | --socket PATH] and the remaining arguments.
// Returns -1 when fine, else an exit status.
int parse_target(const char* cmd, int argc, char** argv, const char* usage, Target& t);
// One request; on a transport failure prints why and returns false.
bool ask(const char* cmd, const Target& t, proto::Writer& w, client::Response& r);

// Password hash commands (cmd_hash.cc).
int cmd_check_hash(int argc, char** argv);
int cmd_make_hash(int argc, char** argv);

// Daemon commands (cmd_daemon.cc): [--config FILE | --socket PATH] first.
int cmd_status(int argc, char** argv);
int cmd_user(int argc, char** argv);
int cmd_group(int argc, char** argv);
int cmd_groups(int argc, char** argv);
int cmd_auth(int argc, char** argv);
int cmd_flush(int argc, char** argv);
int cmd_throttle(int argc, char** argv);
int cmd_reset(int argc, char** argv);

// sshd's AuthorizedKeysCommand (cmd_ssh.cc).
int cmd_authorized_keys(int argc, char** argv);

// PostgreSQL change notification SQL (cmd_triggers.cc).
int cmd_install_triggers(int argc, char** argv);
int cmd_uninstall_triggers(int argc, char** argv);

}  // namespace dj::ctl
