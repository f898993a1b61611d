#include "daemon/offline_store.h"

#include <argon2.h>
#include <fcntl.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <openssl/sha.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <sstream>

namespace dj {
namespace {

constexpr const char* kHeader = "django-authd offline credentials 1";
constexpr size_t kMaxFileBytes = 64u * 1024 * 1024;
constexpr size_t kMaxGroups = 4096;

std::string hex(const uint8_t* p, size_t n) {
    static const char* digits = "0123456789abcdef";
    std::string out;
    out.reserve(2 * n);
    for (size_t i = 0; i < n; ++i) {
        out += digits[p[i] >> 4];
        out += digits[p[i] & 15];
    }
    return out;
}

std::string hex(std::string_view s) { return hex(reinterpret_cast<const uint8_t*>(s.data()), s.size()); }

int nibble(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1;
}

bool unhex(std::string_view h, std::string& out) {
    if (h.size() % 2) return false;
    out.clear();
    for (size_t i = 0; i < h.size(); i += 2) {
        int a = nibble(h[i]), b = nibble(h[i + 1]);
        if (a < 0 || b < 0) return false;
        out += char(a << 4 | b);
    }
    return true;
}

template <size_t N>
bool unhex(std::string_view h, std::array<uint8_t, N>& out) {
    std::string s;
    if (!unhex(h, s) || s.size() != N) return false;
    std::memcpy(out.data(), s.data(), N);
    return true;
}

bool to_i64(std::string_view s, int64_t& out) {
    if (s.empty() || s.size() > 18) return false;
    int64_t n = 0;
    for (char c : s) {
        if (c < '0' || c > '9') return false;
        n = n * 10 + (c - '0');
    }
    out = n;
    return true;
}

std::vector<std::string_view> split(std::string_view s, char sep) {
    std::vector<std::string_view> out;
    size_t start = 0;
    for (;;) {
        size_t p = s.find(sep, start);
        out.push_back(s.substr(start, p == std::string_view::npos ? std::string_view::npos : p - start));
        if (p == std::string_view::npos) return out;
        start = p + 1;
    }
}

// The file's directory: ours or root's, and nobody else may write in it.
bool safe_dir(const std::string& path, std::string& error) {
    const size_t slash = path.rfind('/');
    const std::string dir = slash == 0 ? "/" : path.substr(0, slash);
    struct stat st;
    if (stat(dir.c_str(), &st) != 0) return error = "directory " + dir + ": " + strerror(errno), false;
    if (!S_ISDIR(st.st_mode)) return error = dir + ": not a directory", false;
    if (st.st_uid != 0 && st.st_uid != geteuid())
        return error = "directory " + dir + ": owned by uid " + std::to_string(st.st_uid) +
                       ", neither root nor the daemon's user", false;
    if (st.st_mode & (S_IWGRP | S_IWOTH)) return error = "directory " + dir + ": writable by group or others", false;
    return true;
}

bool write_all(int fd, const std::string& s) {
    size_t off = 0;
    while (off < s.size()) {
        ssize_t n = write(fd, s.data() + off, s.size() - off);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return false;
        off += size_t(n);
    }
    return true;
}

void wipe_string(std::string& s) {
    if (!s.empty()) OPENSSL_cleanse(s.data(), s.size());
    s.clear();
}

}  // namespace

OfflineStore::OfflineStore(std::string path, int max_days, size_t max_records)
    : path_(std::move(path)), max_days_(max_days), max_records_(max_records), usable_(path_.empty()) {}

OfflineStore::~OfflineStore() {
    for (auto& [id, r] : records_) OPENSSL_cleanse(r.verifier.data(), r.verifier.size());
}

std::array<uint8_t, 32> OfflineStore::fingerprint(std::string_view django_hash) {
    std::array<uint8_t, 32> out{};
    SHA256(reinterpret_cast<const unsigned char*>(django_hash.data()), django_hash.size(), out.data());
    return out;
}

// id name-hex login-time fingerprint salt t m p verifier staff superuser groups
// groups: "-" or id:name-hex,id:name-hex
std::string OfflineStore::encode(const Record& r) {
    std::ostringstream o;
    o << r.who.user_id << ' ' << hex(r.who.username) << ' ' << r.who.login_time << ' '
      << hex(r.fingerprint.data(), r.fingerprint.size()) << ' ' << hex(r.salt.data(), r.salt.size()) << ' '
      << r.t_cost << ' ' << r.m_cost << ' ' << r.parallelism << ' ' << hex(r.verifier.data(), r.verifier.size())
      << ' ' << (r.who.is_staff ? 1 : 0) << ' ' << (r.who.is_superuser ? 1 : 0) << ' ';
    if (r.who.groups.empty()) o << '-';
    for (size_t i = 0; i < r.who.groups.size(); ++i)
        o << (i ? "," : "") << r.who.groups[i].id << ':' << hex(r.who.groups[i].name);
    o << '\n';
    return o.str();
}

std::optional<OfflineStore::Record> OfflineStore::decode(std::string_view line) {
    auto f = split(line, ' ');
    if (f.size() != 12) return std::nullopt;
    Record r;
    int64_t t = 0, m = 0, p = 0, staff = 0, super = 0;
    if (!to_i64(f[0], r.who.user_id) || !unhex(f[1], r.who.username) || r.who.username.empty() ||
        !to_i64(f[2], r.who.login_time) || !unhex(f[3], r.fingerprint) || !unhex(f[4], r.salt) ||
        !to_i64(f[5], t) || !to_i64(f[6], m) || !to_i64(f[7], p) || !unhex(f[8], r.verifier) ||
        !to_i64(f[9], staff) || !to_i64(f[10], super) || staff > 1 || super > 1)
        return std::nullopt;
    // Parameters a verifier of ours can have: nothing that would pin a core.
    if (t < 1 || t > 16 || m < 8 || m > 1048576 || p < 1 || p > 16) return std::nullopt;
    r.t_cost = uint32_t(t);
    r.m_cost = uint32_t(m);
    r.parallelism = uint32_t(p);
    r.who.is_staff = staff;
    r.who.is_superuser = super;
    if (f[11] != "-") {
        auto groups = split(f[11], ',');
        if (groups.size() > kMaxGroups) return std::nullopt;
        for (auto g : groups) {
            auto colon = g.find(':');
            db::GroupRow row;
            if (colon == std::string_view::npos || !to_i64(g.substr(0, colon), row.id) ||
                !unhex(g.substr(colon + 1), row.name))
                return std::nullopt;
            r.who.groups.push_back(std::move(row));
        }
    }
    return r;
}

bool OfflineStore::load(std::string& error) {
    std::lock_guard<std::mutex> w(write_mutex_);
    {
        std::lock_guard<std::mutex> lock(mutex_);
        records_.clear();
        usable_ = path_.empty();
    }
    if (path_.empty()) return true;
    if (!safe_dir(path_, error)) return false;
    int fd = open(path_.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0) {
        if (errno != ENOENT) return error = path_ + ": " + strerror(errno), false;
        std::lock_guard<std::mutex> lock(mutex_);
        usable_ = true;  // made at the first login
        return true;
    }
    struct stat st;
    bool ok = fstat(fd, &st) == 0;
    if (!ok) error = path_ + ": " + strerror(errno);
    else if (!S_ISREG(st.st_mode)) ok = false, error = path_ + ": not a regular file";
    else if (st.st_uid != geteuid())
        ok = false, error = path_ + ": owned by uid " + std::to_string(st.st_uid) + ", not the daemon's user";
    else if (st.st_mode & 077) ok = false, error = path_ + ": readable or writable by group or others";
    else if (size_t(st.st_size) > kMaxFileBytes) ok = false, error = path_ + ": larger than it can be";
    std::string text;
    if (ok) {
        char buf[65536];
        ssize_t n;
        while ((n = read(fd, buf, sizeof buf)) > 0 && text.size() <= kMaxFileBytes) text.append(buf, size_t(n));
        OPENSSL_cleanse(buf, sizeof buf);
        if (n < 0) ok = false, error = path_ + ": " + strerror(errno);
    }
    close(fd);
    if (!ok) {
        wipe_string(text);
        return false;
    }
    std::unordered_map<int64_t, Record> loaded;
    size_t bad = 0;
    auto lines = split(text, '\n');
    if (lines.empty() || lines[0] != kHeader) {
        error = path_ + ": not an offline credentials file (header); it will be replaced";
        bad = 1;
    } else {
        for (size_t i = 1; i < lines.size(); ++i) {
            if (lines[i].empty()) continue;
            auto r = decode(lines[i]);
            if (!r || loaded.size() >= max_records_) {
                ++bad;
                continue;
            }
            const int64_t id = r->who.user_id;
            loaded[id] = std::move(*r);
        }
        if (bad) error = path_ + ": " + std::to_string(bad) + " malformed records skipped";
    }
    wipe_string(text);
    std::lock_guard<std::mutex> lock(mutex_);
    records_ = std::move(loaded);
    usable_ = true;
    return bad == 0;
}

bool OfflineStore::usable() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return usable_;
}

bool OfflineStore::save(std::string& error) {
    if (path_.empty()) return true;
    std::lock_guard<std::mutex> w(write_mutex_);
    std::string text = std::string(kHeader) + "\n";
    {
        std::lock_guard<std::mutex> lock(mutex_);
        if (!usable_) return true;
        for (const auto& [id, r] : records_) text += encode(r);
    }
    const std::string tmp = path_ + ".new";
    unlink(tmp.c_str());  // left by a crash; unlink never follows a link
    int fd = open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    bool ok = fd >= 0;
    if (!ok) error = tmp + ": " + strerror(errno);
    if (ok && !(fchmod(fd, 0600) == 0 && write_all(fd, text) && fsync(fd) == 0))
        ok = false, error = tmp + ": " + strerror(errno);
    if (fd >= 0) close(fd);
    wipe_string(text);
    if (ok && rename(tmp.c_str(), path_.c_str()) != 0) ok = false, error = path_ + ": " + strerror(errno);
    if (!ok) {
        unlink(tmp.c_str());
        return false;
    }
    // The rename itself survives a crash once the directory is synced.
    const size_t slash = path_.rfind('/');
    const std::string dir = slash == 0 ? "/" : path_.substr(0, slash);
    if (int dfd = open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC); dfd >= 0) {
        fsync(dfd);
        close(dfd);
    }
    return true;
}

bool OfflineStore::expired(const Record& r, int64_t now) const {
    return now - r.who.login_time > int64_t(max_days_) * 86400;
}

std::unordered_map<int64_t, OfflineStore::Record>::const_iterator OfflineStore::by_name(
    std::string_view username) const {
    return std::find_if(records_.begin(), records_.end(),
                        [&](const auto& kv) { return kv.second.who.username == username; });
}

bool OfflineStore::current(const db::UserRow& u, int64_t now) const {
    const auto fp = fingerprint(u.password);
    std::lock_guard<std::mutex> lock(mutex_);
    auto it = records_.find(u.id);
    return it != records_.end() && it->second.who.username == u.username && it->second.fingerprint == fp &&
           now - it->second.who.login_time < kTouchSeconds && now >= it->second.who.login_time;
}

bool OfflineStore::remember(const db::UserRow& u, std::string_view password,
                            const std::vector<db::GroupRow>& groups, int64_t now, std::string& error) {
    if (!usable()) return true;
    Record r;
    r.who.user_id = u.id;
    r.who.username = u.username;
    r.who.login_time = now;
    r.who.is_staff = u.is_staff;
    r.who.is_superuser = u.is_superuser;
    r.who.groups = groups;
    r.fingerprint = fingerprint(u.password);
    {
        // The same hash: the same password, and the verifier stands.
        std::lock_guard<std::mutex> lock(mutex_);
        auto it = records_.find(u.id);
        if (it != records_.end() && it->second.fingerprint == r.fingerprint && it->second.who.username == u.username) {
            r.salt = it->second.salt;
            r.verifier = it->second.verifier;
            r.t_cost = it->second.t_cost;
            r.m_cost = it->second.m_cost;
            r.parallelism = it->second.parallelism;
        }
    }
    if (r.t_cost == 0) {
        if (RAND_bytes(r.salt.data(), int(r.salt.size())) != 1) return error = "RAND_bytes failed", false;
        r.t_cost = kTimeCost;
        r.m_cost = kMemoryKiB;
        r.parallelism = kParallelism;
        if (argon2id_hash_raw(r.t_cost, r.m_cost, r.parallelism, password.data(), password.size(), r.salt.data(),
                              r.salt.size(), r.verifier.data(), r.verifier.size()) != ARGON2_OK)
            return error = "argon2id failed", false;
    }
    {
        std::lock_guard<std::mutex> lock(mutex_);
        records_[u.id] = r;
        while (records_.size() > max_records_) {
            auto oldest = std::min_element(records_.begin(), records_.end(), [](const auto& a, const auto& b) {
                return a.second.who.login_time < b.second.who.login_time;
            });
            records_.erase(oldest);
        }
    }
    OPENSSL_cleanse(r.verifier.data(), r.verifier.size());
    return save(error);
}

bool OfflineStore::update(const db::UserRow& u, const std::vector<db::GroupRow>& groups, std::string& error) {
    {
        std::lock_guard<std::mutex> lock(mutex_);
        auto it = records_.find(u.id);
        if (it == records_.end()) return true;
        Snapshot& w = it->second.who;
        auto same = [](const db::GroupRow& a, const db::GroupRow& b) { return a.id == b.id && a.name == b.name; };
        if (w.is_staff == u.is_staff && w.is_superuser == u.is_superuser && w.groups.size() == groups.size() &&
            std::equal(w.groups.begin(), w.groups.end(), groups.begin(), same))
            return true;
        w.is_staff = u.is_staff;
        w.is_superuser = u.is_superuser;
        w.groups = groups;
    }
    return save(error);
}

bool OfflineStore::seen(std::string_view asked, const std::optional<db::UserRow>& u, std::string& error,
                        const std::array<uint8_t, 32>* fp) {
    {
        std::lock_guard<std::mutex> lock(mutex_);
        if (records_.empty()) return false;
        if (!u) {
            auto it = by_name(asked);
            if (it == records_.end()) return false;
            records_.erase(it);
        } else {
            auto it = records_.find(u->id);
            if (it == records_.end()) return false;
            // A row read without its hash (by id) cannot tell a changed one.
            if (u->is_active && it->second.who.username == u->username &&
                (fp ? it->second.fingerprint == *fp
                    : u->password.empty() || it->second.fingerprint == fingerprint(u->password)))
                return false;
            records_.erase(it);
        }
    }
    save(error);
    return true;
}

bool OfflineStore::forget(int64_t user_id, std::string& error) {
    {
        std::lock_guard<std::mutex> lock(mutex_);
        if (records_.erase(user_id) == 0) return false;
    }
    save(error);
    return true;
}

std::optional<OfflineStore::Snapshot> OfflineStore::find(std::string_view username, int64_t now) const {
    std::lock_guard<std::mutex> lock(mutex_);
    auto it = by_name(username);
    if (it == records_.end() || expired(it->second, now)) return std::nullopt;
    return it->second.who;
}

OfflineStore::Check OfflineStore::verify(std::string_view username, std::string_view password, int64_t now) const {
    Record r;
    {
        std::lock_guard<std::mutex> lock(mutex_);
        auto it = by_name(username);
        if (it == records_.end()) return Check::NoRecord;
        if (expired(it->second, now)) return Check::Expired;
        r = it->second;
    }
    std::array<uint8_t, 32> got{};
    const bool computed = argon2id_hash_raw(r.t_cost, r.m_cost, r.parallelism, password.data(), password.size(),
                                            r.salt.data(), r.salt.size(), got.data(), got.size()) == ARGON2_OK;
    const bool match = computed && CRYPTO_memcmp(got.data(), r.verifier.data(), got.size()) == 0;
    OPENSSL_cleanse(got.data(), got.size());
    OPENSSL_cleanse(r.verifier.data(), r.verifier.size());
    return match ? Check::Match : Check::Mismatch;
}

bool OfflineStore::expire(int64_t now, std::string& error) {
    bool dropped = false;
    {
        std::lock_guard<std::mutex> lock(mutex_);
        for (auto it = records_.begin(); it != records_.end();) {
            if (expired(it->second, now)) {
                it = records_.erase(it);
                dropped = true;
            } else {
                ++it;
            }
        }
    }
    if (dropped) save(error);
    return dropped;
}

bool OfflineStore::has(int64_t user_id) const {
    std::lock_guard<std::mutex> lock(mutex_);
    return records_.count(user_id) != 0;
}

std::vector<int64_t> OfflineStore::ids() const {
    std::lock_guard<std::mutex> lock(mutex_);
    std::vector<int64_t> out;
    for (const auto& [id, r] : records_) out.push_back(id);
    return out;
}

size_t OfflineStore::size() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return records_.size();
}

}  // namespace dj
