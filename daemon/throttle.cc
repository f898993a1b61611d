#include "daemon/throttle.h"

#include <algorithm>
#include <climits>
#include <tuple>

namespace dj {

namespace {

// Names are cut so that a hostile megabyte name costs no more than a real one.
constexpr size_t kMaxKey = 512;

std::string ukey(std::string_view user) { return "u:" + std::string(user.substr(0, kMaxKey)); }

}  // namespace

Throttle::Throttle(const ThrottleConfig& cfg) : cfg_(cfg) {
    if (cfg_.max_entries == 0) cfg_.max_entries = 1;
}

std::string Throttle::client_key(uid_t uid, std::string_view rhost) {
    if (!rhost.empty()) return "uid=" + std::to_string(uid) + " rhost=" + std::string(rhost.substr(0, kMaxKey));
    if (uid == 0) return {};
    return "uid=" + std::to_string(uid);
}

Throttle::Rec* Throttle::find(const std::string& key) {
    auto it = map_.find(key);
    return it == map_.end() ? nullptr : &*it->second;
}

Throttle::Rec& Throttle::touch(const std::string& key) {
    auto it = map_.find(key);
    if (it != map_.end()) {
        lru_.splice(lru_.begin(), lru_, it->second);
        return lru_.front();
    }
    while (map_.size() >= cfg_.max_entries && !lru_.empty()) {
        map_.erase(lru_.back().key);
        lru_.pop_back();
    }
    lru_.push_front(Rec{key, {}, false, {}});
    map_.emplace(key, lru_.begin());
    return lru_.front();
}

void Throttle::prune(Rec& r, Clock::time_point now) {
    const auto window = std::chrono::seconds(cfg_.fail_interval);
    while (!r.fails.empty() && (cfg_.fail_interval <= 0 || now - r.fails.front() >= window)) r.fails.pop_front();
    if (r.locked && cfg_.unlock_time > 0 && now >= r.until) {
        r.locked = false;
        r.fails.clear();
    }
}

uint32_t Throttle::lock_left(Rec& r, Clock::time_point now) {
    prune(r, now);
    if (!r.locked) return 0;
    if (cfg_.unlock_time <= 0) return UINT32_MAX;
    auto left = std::chrono::duration_cast<std::chrono::seconds>(r.until - now).count() + 1;
    return uint32_t(std::clamp<int64_t>(left, 1, UINT32_MAX - 1));
}

uint32_t Throttle::locked(std::string_view user, const std::string& client, const char*& what,
                          Clock::time_point now) {
    std::lock_guard<std::mutex> lock(mu_);
    if (cfg_.deny > 0)
        if (Rec* r = find(ukey(user)))
            if (uint32_t left = lock_left(*r, now)) {
                what = "user";
                return left;
            }
    if (cfg_.client_deny > 0 && !client.empty())
        if (Rec* r = find("c:" + client))
            if (uint32_t left = lock_left(*r, now)) {
                what = "client";
                return left;
            }
    return 0;
}

bool Throttle::count(const std::string& key, int deny, Clock::time_point now) {
    Rec& r = touch(key);
    prune(r, now);
    if (r.locked) return false;
    r.fails.push_back(now);
    while (r.fails.size() > size_t(deny)) r.fails.pop_front();
    if (r.fails.size() < size_t(deny)) return false;
    r.locked = true;
    r.until = now + std::chrono::seconds(cfg_.unlock_time);
    return true;
}

bool Throttle::failure(std::string_view user, const std::string& client, Clock::time_point now) {
    std::lock_guard<std::mutex> lock(mu_);
    bool locked_now = false;
    if (cfg_.deny > 0) locked_now |= count(ukey(user), cfg_.deny, now);
    if (cfg_.client_deny > 0 && !client.empty()) locked_now |= count("c:" + client, cfg_.client_deny, now);
    return locked_now;
}

void Throttle::success(std::string_view user, Clock::time_point) {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = map_.find(ukey(user));
    if (it == map_.end()) return;
    lru_.erase(it->second);
    map_.erase(it);
}

std::vector<Throttle::Entry> Throttle::list(std::string_view user, Clock::time_point now) {
    std::lock_guard<std::mutex> lock(mu_);
    std::vector<Entry> out;
    for (auto& r : lru_) {
        const bool is_user = r.key.compare(0, 2, "u:") == 0;
        std::string_view name = std::string_view(r.key).substr(2);
        if (!user.empty() && (!is_user || name != user)) continue;
        uint32_t left = lock_left(r, now);
        if (r.fails.empty() && left == 0) continue;
        out.push_back(Entry{is_user ? "user" : "client", std::string(name), uint32_t(r.fails.size()), left});
    }
    std::sort(out.begin(), out.end(),
              [](const Entry& a, const Entry& b) { return std::tie(a.kind, a.name) < std::tie(b.kind, b.name); });
    return out;
}

bool Throttle::reset(std::string_view kind, std::string_view name) {
    std::lock_guard<std::mutex> lock(mu_);
    const std::string key = kind == "client" ? "c:" + std::string(name) : ukey(name);
    auto it = map_.find(key);
    if (it == map_.end()) return false;
    lru_.erase(it->second);
    map_.erase(it);
    return true;
}

size_t Throttle::size() const {
    std::lock_guard<std::mutex> lock(mu_);
    return map_.size();
}

}  // namespace dj
