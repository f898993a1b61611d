#include "daemon/privs.h"

#include <grp.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "daemon/peer.h"

namespace dj {

bool drop_privileges(const std::string& user, std::string& error) {
    uid_t uid;
    gid_t gid;
    if (!files_user(user, uid, gid)) return error = "user '" + user + "' is not in /etc/passwd", false;
    // setgroups with the primary group only: initgroups() would go through NSS.
    if (setgroups(1, &gid) != 0 || setgid(gid) != 0 || setuid(uid) != 0)
        return error = "cannot switch to user '" + user + "': " + strerror(errno), false;
    if (uid != 0 && setuid(0) == 0) return error = "privileges could be regained", false;
    return forbid_dumps(error);
}

bool make_private_dir(const std::string& file, const std::string& user, std::string& error) {
    const size_t slash = file.rfind('/');
    if (slash == std::string::npos || slash == 0) return true;
    const std::string dir = file.substr(0, slash);
    struct stat st;
    if (stat(dir.c_str(), &st) == 0) return true;
    if (errno != ENOENT) return error = dir + ": " + strerror(errno), false;
    if (mkdir(dir.c_str(), 0700) != 0) return error = "cannot make " + dir + ": " + strerror(errno), false;
    uid_t uid;
    gid_t gid;
    if (!user.empty() && files_user(user, uid, gid) && chown(dir.c_str(), uid, gid) != 0)
        return error = "cannot give " + dir + " to '" + user + "': " + strerror(errno), false;
    return true;
}

bool forbid_dumps(std::string& error) {
    const rlimit none{0, 0};
    if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0 || setrlimit(RLIMIT_CORE, &none) != 0)
        return error = std::string("cannot forbid core dumps: ") + strerror(errno), false;
    return true;
}

}  // namespace dj
