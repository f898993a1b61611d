#include "daemon/check_config.h"

#include "common/hashers.h"
#include "daemon/entries.h"
#include "daemon/log.h"

namespace dj {

std::vector<std::string> boundary_errors(const Config& cfg, const HostNames& host) {
    const auto& n = cfg.nss;
    // Django ids start at 1: the ranges are base+1 .. max.
    auto out = id_range_problems("uid", n.uid_base + 1, n.uid_max, host.local_uids());
    for (auto& e : out) e = "[nss] uid_base/uid_max: " + e;
    for (auto& e : id_range_problems("gid", n.gid_base + 1, n.gid_max, host.local_gids()))
        out.push_back("[nss] gid_base/gid_max: " + e);
    return out;
}

std::vector<std::string> boundary_warnings(const Config& cfg) {
    std::vector<std::string> out;
    if (!cfg.access.anyone_can_log_in())
        out.push_back("[access] lets nobody log in through PAM: add a line per service, e.g. "
                      "'sshd = ssh-users' (Django groups) or 'django-web = *' (every active user)");
    return out;
}

size_t print_hidden_names(FILE* out, const Config& cfg, db::Database& db, const HostNames& host) {
    // Entries without the host's names: only the name and range rules, so
    // that what is printed here is what the host's names add.
    Entries plain(cfg.nss, 0);
    size_t hidden = 0;
    constexpr int kPage = 1000;
    for (int64_t after = 0;;) {
        auto rows = db.users_after(after, kPage);
        for (auto& u : rows) {
            after = u.id;
            wipe(u.password);
            if (!plain.user_visible(u.id, u.username)) continue;
            if (const char* why = host.user_conflict(u.username, plain.uid_of(u.id))) {
                fprintf(out, "hidden user '%s' (id %lld): %s\n", log::printable(u.username).c_str(),
                        static_cast<long long>(u.id), why);
                ++hidden;
            }
        }
        if (rows.size() < size_t(kPage)) break;
    }
    for (int64_t after = 0;;) {
        auto rows = db.groups_after(after, kPage);
        for (const auto& g : rows) {
            after = g.id;
            auto name = plain.group_name(g);
            if (!name) continue;
            if (const char* why = host.group_conflict(*name, plain.gid_of(g.id))) {
                fprintf(out, "hidden group '%s' (id %lld): %s\n", log::printable(*name).c_str(),
                        static_cast<long long>(g.id), why);
                ++hidden;
            }
        }
        if (rows.size() < size_t(kPage)) break;
    }
    if (hidden)
        fprintf(out,
                "%zu Django name(s) are not served: rename them in Django; for groups, [nss] group_prefix "
                "serves every Django group under a name of its own\n",
                hidden);
    return hidden;
}

}  // namespace dj
