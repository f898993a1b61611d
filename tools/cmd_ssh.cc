// django-authctl authorized-keys USER: sshd's AuthorizedKeysCommand
//   AuthorizedKeysCommand /usr/bin/django-authctl authorized-keys %u
//   AuthorizedKeysCommandUser nobody
// Standard output carries the key lines and nothing else (sshd reads every
// line of it as authorized_keys); messages go to standard error.
//
// Exit status: 0 with the keys (none for a user who gets none: unknown,
// inactive, left out by [access] sshd, or not the host's user of that name);
// 1 when the daemon cannot be asked (unreachable, [ssh] authorized_keys off,
// the caller not allowed, a daemon too old for the request): sshd then
// ignores the output and goes on with its other methods; 2 usage.
#include <pwd.h>

#include <cstdio>
#include <stdexcept>
#include <string>
#include <vector>

#include "common/names.h"
#include "tools/commands.h"

namespace dj::ctl {
namespace {

using proto::Op;
using proto::Status;

// Whether the host's passwd entry for `user` is the one the daemon serves:
// a name that LDAP or another source gives another uid is not the Django
// user's, and must not take the Django user's keys (pam_django refuses it
// the same way). Sets `failed` when the daemon could not be asked.
bool host_user_is_djangos(const char* cmd, const Target& t, const std::string& user, bool& failed) {
    proto::Writer w(Op::PwByName);
    w.str(user);
    client::Response r;
    if (!ask(cmd, t, w, r)) return !(failed = true);
    proto::Reader rd(r.frame);
    const proto::Passwd p = rd.passwd();
    if (r.status != Status::Ok || !rd.ok()) {
        std::fprintf(stderr, "django-authctl: %s: %s: no keys: the daemon serves no passwd entry for this name\n", cmd,
                     names::printable(user, 64, names::Escape::Hex).c_str());
        return false;
    }
    const struct passwd* pw = getpwnam(user.c_str());
    if (!pw || pw->pw_uid != p.uid) {
        std::fprintf(stderr, "django-authctl: %s: %s: no keys: the host resolves this name to %s\n", cmd,
                     names::printable(user, 64, names::Escape::Hex).c_str(),
                     pw ? ("uid " + std::to_string(pw->pw_uid) + ", not the Django user's").c_str() : "nobody");
        return false;
    }
    return true;
}

}  // namespace

int cmd_authorized_keys(int argc, char** argv) {
    const char* cmd = "authorized-keys";
    Target t;
    if (int rc = parse_target(cmd, argc, argv, "USER", t); rc >= 0) return rc;
    if (t.args.size() != 1) return usage_error(cmd, "needs one user name");
    const std::string& user = t.args[0];
    const std::string shown = names::printable(user, 64, names::Escape::Hex);
    proto::Writer w(Op::AuthorizedKeys);
    try {
        w.str(user);
    } catch (const std::length_error&) {
        return usage_error(cmd, "user name too long");
    }
    client::Response r;
    if (!ask(cmd, t, w, r)) return kExitFail;
    switch (r.status) {
        case Status::Ok: break;
        case Status::NoUser:
            std::fprintf(stderr, "django-authctl: %s: %s: no keys (no such user, inactive, or not allowed by [access] sshd)\n",
                         cmd, shown.c_str());
            return kExitOk;
        case Status::Disabled:
            return fail(cmd, "[ssh] authorized_keys is off in the daemon's configuration");
        case Status::Denied:
            return fail(cmd, "caller not allowed: only root and [ssh] clients may ask for keys");
        case Status::BadRequest:
            return fail(cmd, "the daemon does not know this request (a django-authd older than this django-authctl?)");
        default: return fail(cmd, proto::status_name(r.status));
    }
    proto::Reader rd(r.frame);
    const std::vector<std::string> keys = rd.strs();
    if (!rd.at_end()) return fail(cmd, "malformed answer from the daemon");
    if (keys.empty()) return kExitOk;
    if (bool failed = false; !host_user_is_djangos(cmd, t, user, failed)) return failed ? kExitFail : kExitOk;
    for (const auto& k : keys) {
        // The daemon checked each line; a line break here would still make
        // two lines of one, so check that much again.
        if (k.empty() || k.find_first_of("\r\n") != std::string::npos) continue;
        std::fwrite(k.data(), 1, k.size(), stdout);
        std::fputc('\n', stdout);
    }
    if (std::fflush(stdout) != 0) return fail(cmd, "cannot write the keys");
    return kExitOk;
}

}  // namespace dj::ctl
