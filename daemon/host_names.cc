#include "daemon/host_names.h"

#include <grp.h>
#include <pwd.h>
#include <sys/stat.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

#include "daemon/log.h"

namespace dj {
namespace {

// At most this many hidden names are remembered for log-once.
constexpr size_t kMaxLogged = 10000;

bool stamp_of(const std::string& path, dev_t& dev, ino_t& ino, off_t& size, int64_t& mtime_ns) {
    struct stat st;
    if (stat(path.c_str(), &st) != 0) return false;
    dev = st.st_dev;
    ino = st.st_ino;
    size = st.st_size;
    mtime_ns = int64_t(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec;
    return true;
}

// A compat-mode entry ("+name", "-name", "+@netgroup") still names a local
// account: keep the name without its marker.
std::string local_name(const char* raw) {
    std::string_view n(raw);
    while (!n.empty() && (n.front() == '+' || n.front() == '-' || n.front() == '@')) n.remove_prefix(1);
    return names::fold(n);
}

// Reads the passwd (or group) file entries with fgetpwent_r / fgetgrent_r:
// the files themselves, never NSS (the daemon must not ask its own module).
template <typename Entry, typename Next, typename Add>
bool read_entries(const std::string& path, Next next, Add add) {
    FILE* f = fopen(path.c_str(), "re");
    if (!f) return false;
    std::vector<char> buf(16384);
    Entry e;
    Entry* out = nullptr;
    for (;;) {
        int rc = next(f, &e, buf.data(), buf.size(), &out);
        if (rc == ERANGE && buf.size() < (1u << 24)) {
            buf.resize(buf.size() * 2);
            continue;
        }
        if (rc != 0 || !out) break;
        add(*out);
    }
    fclose(f);
    return true;
}

}  // namespace

HostNames::HostNames(const NssConfig& cfg)
    : passwd_file_(cfg.passwd_file), group_file_(cfg.group_file), local_(std::make_shared<Local>()) {
    for (auto n : names::kReservedUsers) reserved_users_.insert(names::fold(n));
    for (auto n : names::kReservedGroups) reserved_groups_.insert(names::fold(n));
    for (const auto& n : cfg.reserved_users) reserved_users_.insert(names::fold(n));
    for (const auto& n : cfg.reserved_groups) reserved_groups_.insert(names::fold(n));
    refresh();
}

std::shared_ptr<const HostNames::Local> HostNames::snapshot() const {
    std::lock_guard<std::mutex> lock(mu_);
    return local_;
}

bool HostNames::refresh() {
    std::unique_lock<std::mutex> reading(refresh_mu_, std::try_to_lock);
    if (!reading.owns_lock()) return false;  // another thread is reading them now
    Stamp p, g;
    bool have_p = stamp_of(passwd_file_, p.dev, p.ino, p.size, p.mtime_ns);
    bool have_g = stamp_of(group_file_, g.dev, g.ino, g.size, g.mtime_ns);
    auto old = snapshot();
    if (old->passwd == p && old->group == g) return false;

    auto fresh = std::make_shared<Local>();
    // A file that cannot be read keeps what was known of it: a failing stat
    // or open must never make every local name claimable.
    if (!have_p || !read_entries<passwd>(passwd_file_, fgetpwent_r, [&](const passwd& pw) {
            fresh->users.insert(local_name(pw.pw_name));
            fresh->uids.insert(pw.pw_uid);
        })) {
        log::say(LOG_ERR, "cannot read %s: %s; keeping the local user names read before", passwd_file_.c_str(),
                 strerror(errno));
        fresh->users = old->users;
        fresh->uids = old->uids;
        p = Stamp{};
    }
    if (!have_g || !read_entries<group>(group_file_, fgetgrent_r, [&](const group& gr) {
            fresh->groups.insert(local_name(gr.gr_name));
            fresh->gids.insert(gr.gr_gid);
        })) {
        log::say(LOG_ERR, "cannot read %s: %s; keeping the local group names read before", group_file_.c_str(),
                 strerror(errno));
        fresh->groups = old->groups;
        fresh->gids = old->gids;
        g = Stamp{};
    }
    fresh->passwd = p;
    fresh->group = g;
    {
        std::lock_guard<std::mutex> lock(mu_);
        local_ = std::move(fresh);
    }
    return true;
}

const char* HostNames::conflict(bool user, std::string_view name, std::optional<uint32_t> id) const {
    const std::string folded = names::fold(name);
    if ((user ? reserved_users_ : reserved_groups_).count(folded))
        return user ? "a reserved user name" : "a reserved group name";
    auto local = snapshot();
    if ((user ? local->users : local->groups).count(folded))
        return user ? "the name of a local user" : "the name of a local group";
    if (id && (user ? local->uids : local->gids).count(*id))
        return user ? "its uid is a local user's" : "its gid is a local group's";
    return nullptr;
}

const char* HostNames::user_conflict(std::string_view name, std::optional<uint32_t> uid) const {
    return conflict(true, name, uid);
}

const char* HostNames::group_conflict(std::string_view nss_name, std::optional<uint32_t> gid) const {
    return conflict(false, nss_name, gid);
}

void HostNames::note_hidden(const char* kind, std::string_view name, const char* why) const {
    {
        std::lock_guard<std::mutex> lock(logged_mu_);
        if (logged_.size() >= kMaxLogged) return;
        if (!logged_.insert(std::string(kind) + ":" + std::string(name)).second) return;
    }
    const bool group = std::strcmp(kind, "group") == 0;
    log::say(LOG_WARNING, "Django %s '%s' is not served: %s (%s)", kind, log::printable(name).c_str(), why,
             group ? "rename it in Django, or set [nss] group_prefix to serve Django groups under other names"
                   : "rename it in Django; a Django user never stands for a local account");
}

std::vector<uint32_t> HostNames::local_uids() const {
    auto local = snapshot();
    return {local->uids.begin(), local->uids.end()};
}

std::vector<uint32_t> HostNames::local_gids() const {
    auto local = snapshot();
    return {local->gids.begin(), local->gids.end()};
}

std::vector<std::string> id_range_problems(const char* what, uint32_t first, uint32_t last,
                                           const std::vector<uint32_t>& local_ids) {
    std::vector<std::string> out;
    auto range = std::string(what) + "s " + std::to_string(first) + "-" + std::to_string(last);
    auto overlaps = [&](uint32_t lo, uint32_t hi) { return first <= hi && lo <= last; };
    if (overlaps(65534, 65534)) out.push_back(range + " include 65534 (nobody)");
    if (overlaps(61184, 65519)) out.push_back(range + " overlap systemd's dynamic users (61184-65519)");
    uint32_t count = 0, example = 0;
    for (uint32_t id : local_ids)
        if (id >= first && id <= last && id != 65534) {
            if (count++ == 0 || id < example) example = id;
        }
    if (count)
        out.push_back(range + " include " + std::to_string(count) + " local " + what + (count > 1 ? "s" : "") +
                      " (" + std::to_string(example) + (count > 1 ? ", ..." : "") + ")");
    return out;
}

}  // namespace dj
