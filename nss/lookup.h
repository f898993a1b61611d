// Typed lookups against django-authd for the NSS entry points. Each function
// builds one request, calls the client and decodes the reply; none throws.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>
#include <vector>

#include "common/protocol.h"

// The daemon dlopens this module and sets the flag to 0 so that it never
// resolves names through itself (it also sets DJANGO_AUTH_NSS_LOOPS=NO).
extern "C" __attribute__((visibility("default"))) int _nss_django_enablelookups;

namespace dj::nss {

enum class Result {
    Ok,
    NotFound,      // the daemon answered: no such entry (or end of a list)
    Unavailable,   // disabled, no daemon, timed out, bad reply, database down
};

// False inside the daemon (flag or environment) and when this thread is
// already inside the module.
bool lookups_enabled() noexcept;

// Marks this thread as inside the module for the lifetime of the guard, so a
// lookup made while answering a lookup returns Unavailable, never recursing.
class Reentry {
public:
    Reentry() noexcept;
    ~Reentry();
    Reentry(const Reentry&) = delete;
    Reentry& operator=(const Reentry&) = delete;
    bool entered() const noexcept { return entered_; }

private:
    bool entered_;
};

// By-key lookups. The record is read in place: `out` points into this
// thread's last reply, valid until the entry point returns (the Reentry
// guard ends) or the thread's next lookup, whichever comes first.
Result pw_by_name(const char* name, proto::PasswdView& out);
Result pw_by_uid(uid_t uid, proto::PasswdView& out);
Result gr_by_name(const char* name, proto::GroupView& out);
Result gr_by_gid(gid_t gid, proto::GroupView& out);
Result groups_of_user(const char* user, std::vector<uint32_t>& gids);
// One page of an enumeration: entries with ids greater than `after`.
Result pw_page(uint32_t after, uint32_t max_items, std::vector<proto::Passwd>& out, bool& more);
Result gr_page(uint32_t after, uint32_t max_items, std::vector<proto::Group>& out, bool& more);

// After a by-name or by-id lookup whose record did not fit the caller's
// buffer: keep that reply so the immediately following identical lookup on
// this thread (glibc's retry with a bigger buffer, within a second) is
// answered from it instead of asking the daemon again.
void keep_last_reply() noexcept;

}  // namespace dj::nss
