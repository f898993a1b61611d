// Who is on the other end of a client connection (SO_PEERCRED), and who may
// authenticate: uid 0 and the configured auth_clients (user names or @group),
// resolved once at startup from /etc/passwd and /etc/group directly. The
// daemon never resolves names through NSS: that could re-enter its own module.
#pragma once

#include <sys/types.h>

#include <set>
#include <string>
#include <vector>

namespace dj {

struct Peer {
    pid_t pid = 0;
    uid_t uid = static_cast<uid_t>(-1);
    gid_t gid = static_cast<gid_t>(-1);
};

// False when the kernel does not tell (then the peer is nobody in particular).
bool peer_of(int fd, Peer& out);

class AuthClients {
public:
    AuthClients() = default;
    // Entries: "name" or "@group". Unknown names are returned in `unknown`
    // (logged by the caller) and ignored. Files default to the system ones.
    static AuthClients resolve(const std::vector<std::string>& entries, std::vector<std::string>& unknown,
                               const std::string& passwd_file = "/etc/passwd",
                               const std::string& group_file = "/etc/group");

    // uid 0 always; else a listed user, or a member of a listed group (by the
    // peer's primary gid, or by the group's member list).
    bool allows(const Peer& p) const;
    void allow_uid(uid_t uid) { uids_.insert(uid); }

private:
    std::set<uid_t> uids_;
    std::set<gid_t> gids_;
};

// A user from /etc/passwd (files only): uid, gid. False if absent.
bool files_user(const std::string& name, uid_t& uid, gid_t& gid, const std::string& passwd_file = "/etc/passwd");
// A group from /etc/group (files only). False if absent.
bool files_group(const std::string& name, gid_t& gid, const std::string& group_file = "/etc/group");

}  // namespace dj
