// How Django users and groups become passwd and group entries: id mapping
// (uid = uid_base + auth_user.id, gid = gid_base + auth_group.id, never past
// uid_max/gid_max), names NSS can carry, gecos, home and shell.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "common/config.h"
#include "common/protocol.h"
#include "daemon/db.h"

namespace dj {

// A name NSS and the passwd/group file formats can carry: not empty, at most
// 255 bytes, no ':' ',' whitespace or control characters, not starting with
// '+' or '-' (compat-mode markers), not "." or "..".
bool nss_name_ok(std::string_view name);

class Entries {
public:
    Entries(const NssConfig& cfg, uint32_t primary_gid);

    std::optional<uint32_t> uid_of(int64_t user_id) const;
    std::optional<int64_t> user_id_of(uint32_t uid) const;
    std::optional<uint32_t> gid_of(int64_t group_id) const;
    std::optional<int64_t> group_id_of(uint32_t gid) const;

    // The passwd entry, or nothing when the name or the id cannot be shown.
    std::optional<proto::Passwd> passwd(const db::UserRow& u) const;
    // The NSS name of a Django group (prefix added), or nothing.
    std::optional<std::string> group_name(const std::string& django_name) const;
    // The Django name for an NSS group name (prefix removed), or nothing.
    std::optional<std::string> django_group_name(std::string_view nss_name) const;

    const std::string& prefix() const { return cfg_.group_prefix; }

private:
    std::string home_of(const db::UserRow& u, uint32_t uid) const;
    NssConfig cfg_;
    uint32_t primary_gid_;
};

}  // namespace dj
