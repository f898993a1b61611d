#include "daemon/entries.h"

namespace dj {

Entries::Entries(const NssConfig& cfg, uint32_t primary_gid, const HostNames* host)
    : cfg_(cfg), primary_gid_(primary_gid), host_(host) {}

std::optional<uint32_t> Entries::uid_of(int64_t user_id) const {
    if (user_id < 1) return std::nullopt;
    int64_t uid = int64_t(cfg_.uid_base) + user_id;
    if (uid > int64_t(cfg_.uid_max)) return std::nullopt;
    return uint32_t(uid);
}

std::optional<int64_t> Entries::user_id_of(uint32_t uid) const {
    if (uid <= cfg_.uid_base || uid > cfg_.uid_max) return std::nullopt;
    return int64_t(uid) - int64_t(cfg_.uid_base);
}

std::optional<uint32_t> Entries::gid_of(int64_t group_id) const {
    if (group_id < 1) return std::nullopt;
    int64_t gid = int64_t(cfg_.gid_base) + group_id;
    if (gid > int64_t(cfg_.gid_max)) return std::nullopt;
    return uint32_t(gid);
}

std::optional<int64_t> Entries::group_id_of(uint32_t gid) const {
    if (gid <= cfg_.gid_base || gid > cfg_.gid_max) return std::nullopt;
    return int64_t(gid) - int64_t(cfg_.gid_base);
}

namespace {

// Gecos may not hold ':' or line breaks (it is a passwd file field).
std::string clean_gecos(const std::string& s) {
    std::string out;
    for (unsigned char c : s)
        if (c >= 0x20 && c != 0x7f && c != ':') out += char(c);
    size_t b = out.find_first_not_of(' ');
    if (b == std::string::npos) return {};
    size_t e = out.find_last_not_of(' ');
    return out.substr(b, e - b + 1);
}

}  // namespace

std::string Entries::home_of(const db::UserRow& u, uint32_t uid) const {
    std::string out;
    const std::string& t = cfg_.home;
    for (size_t i = 0; i < t.size(); ++i) {
        if (t[i] != '%' || i + 1 == t.size()) {
            out += t[i];
            continue;
        }
        char k = t[++i];
        if (k == 'u') out += u.username;
        else if (k == 'U') out += std::to_string(uid);
        else if (k == 'i') out += std::to_string(u.id);
        else if (k == '%') out += '%';
        else {
            out += '%';
            out += k;
        }
    }
    return out;
}

bool Entries::hidden_by_host(int64_t id, const std::string& username) const {
    if (!host_) return false;
    const char* why = host_->user_conflict(username, uid_of(id));
    if (why) host_->note_hidden("user", username, why);
    return why != nullptr;
}

bool Entries::user_visible(int64_t id, const std::string& username) const {
    return uid_of(id) && names::nss_ok(username) && !hidden_by_host(id, username);
}

std::optional<proto::Passwd> Entries::passwd(const db::UserRow& u) const {
    auto uid = uid_of(u.id);
    if (!uid || !user_visible(u.id, u.username)) return std::nullopt;
    proto::Passwd p;
    p.name = u.username;
    p.uid = *uid;
    p.gid = primary_gid_;
    if (cfg_.gecos_from_name) {
        std::string full = u.first_name;
        if (!u.last_name.empty()) full += (full.empty() ? "" : " ") + u.last_name;
        p.gecos = clean_gecos(full);
    }
    p.dir = home_of(u, *uid);
    p.shell = cfg_.shell;
    if (p.gecos.size() > proto::kMaxString) p.gecos.resize(0);
    if (p.dir.size() > proto::kMaxString) return std::nullopt;
    return p;
}

bool Entries::group_hidden_by_host(const db::GroupRow& g) const {
    if (!host_) return false;
    std::string n = cfg_.group_prefix + g.name;
    const char* why = host_->group_conflict(n, gid_of(g.id));
    if (why) host_->note_hidden("group", n, why);
    return why != nullptr;
}

std::optional<std::string> Entries::group_name(const db::GroupRow& g) const {
    std::string n = cfg_.group_prefix + g.name;
    if (!gid_of(g.id) || !names::nss_ok(n) || group_hidden_by_host(g)) return std::nullopt;
    return n;
}

std::optional<std::string> Entries::django_group_name(std::string_view nss_name) const {
    if (!names::nss_ok(nss_name)) return std::nullopt;
    const std::string& pfx = cfg_.group_prefix;
    if (nss_name.substr(0, pfx.size()) != pfx) return std::nullopt;
    std::string rest(nss_name.substr(pfx.size()));
    if (rest.empty()) return std::nullopt;
    return rest;
}

}  // namespace dj
