// How Django users and groups become passwd and group entries: id mapping
// (uid = uid_base + auth_user.id, gid = gid_base + auth_group.id, never past
// uid_max/gid_max), names NSS can carry (common/names.h), gecos, home and shell.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "common/names.h"
#include "daemon/config.h"
#include "common/protocol.h"
#include "daemon/db.h"
#include "daemon/host_names.h"

namespace dj {

class Entries {
public:
    // `host` (may be null in tests) hides the Django names and ids the host
    // uses or reserves (host_names.h); it must outlive the Entries.
    Entries(const NssConfig& cfg, uint32_t primary_gid, const HostNames* host = nullptr);

    std::optional<uint32_t> uid_of(int64_t user_id) const;
    std::optional<int64_t> user_id_of(uint32_t uid) const;
    std::optional<uint32_t> gid_of(int64_t group_id) const;
    std::optional<int64_t> group_id_of(uint32_t gid) const;

    // Whether the host uses or reserves this Django user's name or uid
    // (logged once when it does). Such a user is nobody to NSS and PAM.
    bool hidden_by_host(int64_t id, const std::string& username) const;
    // Whether a Django user may be served at all: a name NSS can carry, a uid
    // in range, and nothing the host uses or reserves (logged once when not).
    bool user_visible(int64_t id, const std::string& username) const;
    // The passwd entry, or nothing when the user is not visible.
    std::optional<proto::Passwd> passwd(const db::UserRow& u) const;
    // Whether the host uses or reserves this Django group's NSS name or gid
    // (logged once when it does). Such a group counts for nothing.
    bool group_hidden_by_host(const db::GroupRow& g) const;
    // The NSS name of a Django group (prefix added), or nothing when the
    // group cannot be served (name, gid, or the host's names).
    std::optional<std::string> group_name(const db::GroupRow& g) const;
    // The Django name for an NSS group name (prefix removed), or nothing.
    std::optional<std::string> django_group_name(std::string_view nss_name) const;

    const std::string& prefix() const { return cfg_.group_prefix; }

private:
    std::string home_of(const db::UserRow& u, uint32_t uid) const;
    NssConfig cfg_;
    uint32_t primary_gid_;
    const HostNames* host_;
};

}  // namespace dj
