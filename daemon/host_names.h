// The trust boundary: the names and ids a Django user or group may never
// stand for. The Django site is less trusted than root on the host (anyone
// may register a user name on many sites; web staff are not host admins), so
// the daemon never serves a Django user or group that
//   - has the name of a user (group) in the host's passwd_file (group_file),
//   - has a reserved name (kReservedUsers / kReservedGroups in common/names.h, and
//     [nss] reserved_users / reserved_groups), or
//   - would get a uid (gid) that a local entry already has.
// Names compare without regard to ASCII case. The files are re-read when they
// change (refresh()), so a useradd after the daemon started counts.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <unordered_set>
#include <vector>

#include "common/names.h"
#include "daemon/config.h"

namespace dj {

class HostNames {
public:
    explicit HostNames(const NssConfig& cfg);

    // Re-reads passwd_file and group_file if either changed since the last
    // read (device, inode, size, modification time). Returns true when the
    // local names were read anew. Thread-safe; no lock is held while reading.
    bool refresh();

    // Why a Django user with this name and uid may not be served, or nullptr.
    const char* user_conflict(std::string_view name, std::optional<uint32_t> uid) const;
    // The same for a group by its NSS name (prefix included) and gid.
    const char* group_conflict(std::string_view nss_name, std::optional<uint32_t> gid) const;

    // Logs a warning the first time a name is hidden, with the way to fix it.
    // `kind` is "user" or "group".
    void note_hidden(const char* kind, std::string_view name, const char* why) const;

    // The local ids, for the range checks of --check-config.
    std::vector<uint32_t> local_uids() const;
    std::vector<uint32_t> local_gids() const;
    const std::string& passwd_file() const { return passwd_file_; }
    const std::string& group_file() const { return group_file_; }

private:
    struct Stamp {
        dev_t dev = 0;
        ino_t ino = 0;
        off_t size = -1;
        int64_t mtime_ns = -1;
        bool operator==(const Stamp&) const = default;
    };
    struct Local {
        Stamp passwd, group;
        std::unordered_set<std::string> users, groups;  // lower-cased
        std::unordered_set<uint32_t> uids, gids;
    };
    std::shared_ptr<const Local> snapshot() const;
    const char* conflict(bool user, std::string_view name, std::optional<uint32_t> id) const;

    const std::string passwd_file_, group_file_;
    std::set<std::string, std::less<>> reserved_users_, reserved_groups_;  // lower-cased
    mutable std::mutex mu_;          // guards local_
    std::shared_ptr<const Local> local_;
    std::mutex refresh_mu_;          // one reader of the files at a time
    mutable std::mutex logged_mu_;   // guards logged_
    mutable std::unordered_set<std::string> logged_;
};


// The problems of an id range (first..last) against the host: local ids in
// it, nobody (65534), systemd's dynamic users (61184-65519). One line each;
// empty when the range is clear. `what` is "uid" or "gid".
std::vector<std::string> id_range_problems(const char* what, uint32_t first, uint32_t last,
                                           const std::vector<uint32_t>& local_ids);

}  // namespace dj
