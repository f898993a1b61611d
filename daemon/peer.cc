#include "daemon/peer.h"

#include <grp.h>
#include <pwd.h>
#include <sys/socket.h>

#include <cstdio>
#include <map>

namespace dj {

bool peer_of(int fd, Peer& out) {
    struct ucred cred;
    socklen_t len = sizeof cred;
    if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0 || len != sizeof cred) return false;
    out.pid = cred.pid;
    out.uid = cred.uid;
    out.gid = cred.gid;
    return true;
}

bool files_user(const std::string& name, uid_t& uid, gid_t& gid, const std::string& passwd_file) {
    FILE* f = fopen(passwd_file.c_str(), "re");
    if (!f) return false;
    bool found = false;
    while (struct passwd* pw = fgetpwent(f)) {
        if (name == pw->pw_name) {
            uid = pw->pw_uid;
            gid = pw->pw_gid;
            found = true;
            break;
        }
    }
    fclose(f);
    return found;
}

bool files_group(const std::string& name, gid_t& gid, const std::string& group_file) {
    FILE* f = fopen(group_file.c_str(), "re");
    if (!f) return false;
    bool found = false;
    while (struct group* gr = fgetgrent(f)) {
        if (name == gr->gr_name) {
            gid = gr->gr_gid;
            found = true;
            break;
        }
    }
    fclose(f);
    return found;
}

AuthClients AuthClients::resolve(const std::vector<std::string>& entries, std::vector<std::string>& unknown,
                                 const std::string& passwd_file, const std::string& group_file) {
    AuthClients ac;
    // Member names of the listed groups, resolved to uids below.
    std::vector<std::string> member_names;
    for (const auto& e : entries) {
        if (!e.empty() && e[0] == '@') {
            std::string gname = e.substr(1);
            bool found = false;
            if (FILE* f = fopen(group_file.c_str(), "re")) {
                while (struct group* gr = fgetgrent(f)) {
                    if (gname != gr->gr_name) continue;
                    found = true;
                    ac.gids_.insert(gr->gr_gid);
                    for (char** m = gr->gr_mem; m && *m; ++m) member_names.emplace_back(*m);
                    break;
                }
                fclose(f);
            }
            if (!found) unknown.push_back(e);
        } else {
            uid_t uid;
            gid_t gid;
            if (files_user(e, uid, gid, passwd_file)) ac.uids_.insert(uid);
            else unknown.push_back(e);
        }
    }
    for (const auto& m : member_names) {
        uid_t uid;
        gid_t gid;
        if (files_user(m, uid, gid, passwd_file)) ac.uids_.insert(uid);
    }
    return ac;
}

bool AuthClients::allows(const Peer& p) const {
    if (p.uid == 0) return true;
    if (p.uid == static_cast<uid_t>(-1)) return false;
    return uids_.count(p.uid) > 0 || gids_.count(p.gid) > 0;
}

}  // namespace dj
