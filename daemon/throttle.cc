#include "daemon/throttle.h"

#include <algorithm>
#include <climits>
#include <functional>
#include <tuple>

namespace dj {

namespace {

// Names are cut so that a hostile megabyte name costs no more than a real one.
constexpr size_t kMaxKey = 512;

std::string cut(std::string_view s) { return std::string(s.substr(0, kMaxKey)); }
std::string ukey(std::string_view user) { return "u:" + cut(user); }
std::string ckey(std::string_view client) { return "c:" + cut(client); }
uint64_t client_hash(const std::string& client) {
    return client.empty() ? 0 : uint64_t(std::hash<std::string>{}(client)) | 1;
}

}  // namespace

Throttle::Throttle(const ThrottleConfig& cfg) : cfg_(cfg) {
    if (cfg_.max_entries == 0) cfg_.max_entries = 1;
}

std::string Throttle::client_key(uid_t uid, std::string_view rhost) {
    if (!rhost.empty()) return "uid=" + std::to_string(uid) + " rhost=" + cut(rhost);
    if (uid == 0) return {};
    return "uid=" + std::to_string(uid);
}

std::string Throttle::user_key(std::optional<int64_t> id, std::string_view typed) {
    if (id) return "id:" + std::to_string(*id);
    return "name:" + cut(typed);
}

// "u:name:..." (Throttle::user_key without an id): a name nobody has.
Throttle::Table& Throttle::table_of(const std::string& key) {
    if (key.compare(0, 2, "c:") == 0) return clients_;
    return key.compare(0, 7, "u:name:") == 0 ? unknown_ : known_;
}

Throttle::Rec* Throttle::find(const std::string& key) {
    auto it = map_.find(key);
    return it == map_.end() ? nullptr : &*it->second;
}

void Throttle::erase(const std::string& key) {
    auto it = map_.find(key);
    if (it == map_.end()) return;
    Table& t = table_of(key);
    (it->second->locked ? t.locked : t.open).erase(it->second);
    --t.size;
    map_.erase(it);
}

// The record of `key`, made if need be; nullptr when the table is full of
// active lockouts.
Throttle::Rec* Throttle::touch(const std::string& key, Clock::time_point now) {
    Table& t = table_of(key);
    auto it = map_.find(key);
    if (it != map_.end()) {
        if (!it->second->locked) t.open.splice(t.open.begin(), t.open, it->second);
        return &*it->second;
    }
    while (t.size >= cfg_.max_entries) {
        if (t.open.empty()) {
            // The lock taken longest ago expires first; expired, it moves to
            // open and goes on the next turn. Active: nothing may go.
            if (t.locked.empty()) return nullptr;
            prune(t.locked.back(), now);
            if (t.open.empty()) return nullptr;
            continue;
        }
        map_.erase(t.open.back().key);
        t.open.pop_back();
        --t.size;
    }
    t.open.push_front(Rec{key, {}, {}, false, {}});
    map_.emplace(key, t.open.begin());
    ++t.size;
    return &t.open.front();
}

void Throttle::prune(Rec& r, Clock::time_point now) {
    const auto window = std::chrono::seconds(cfg_.fail_interval);
    while (!r.fails.empty() && (cfg_.fail_interval <= 0 || now - r.fails.front().at >= window)) r.fails.pop_front();
    if (r.locked && cfg_.unlock_time > 0 && now >= r.until) {
        r.locked = false;
        r.fails.clear();
        Table& t = table_of(r.key);
        t.open.splice(t.open.begin(), t.locked, map_.at(r.key));
    }
}

uint32_t Throttle::lock_left(Rec& r, Clock::time_point now) {
    prune(r, now);
    if (!r.locked) return 0;
    if (cfg_.unlock_time <= 0) return UINT32_MAX;
    // Rounded up: a user told "4 minutes" is not refused when they come back.
    auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(r.until - now).count();
    return uint32_t(std::clamp<int64_t>((ms + 999) / 1000, 1, UINT32_MAX - 1));
}

uint32_t Throttle::locked(std::string_view user, const std::string& client, const char*& what,
                          Clock::time_point now) {
    std::lock_guard<std::mutex> lock(mu_);
    Rec* u = find(ukey(user));
    if (cfg_.deny > 0 && u != nullptr)
        if (uint32_t left = lock_left(*u, now)) {
            what = "user";
            return left;
        }
    if (cfg_.client_deny > 0 && !client.empty() && u != nullptr)
        if (Rec* c = find(ckey(client)))
            if (uint32_t left = lock_left(*c, now)) {
                // Locked: refused for a user who failed from this client
                // lately; anybody else is checked.
                prune(*u, now);
                const uint64_t h = client_hash(client);
                if (std::any_of(u->fails.begin(), u->fails.end(), [h](const Fail& f) { return f.client == h; })) {
                    what = "client";
                    return left;
                }
            }
    return 0;
}

bool Throttle::count(Rec& r, int deny, uint64_t client, Clock::time_point now) {
    prune(r, now);
    if (r.locked) return false;
    r.fails.push_back(Fail{now, client});
    // With deny 0 (users: only the client rule needs them) the last failure is kept.
    while (r.fails.size() > size_t(std::max(deny, 1))) r.fails.pop_front();
    if (deny <= 0 || r.fails.size() < size_t(deny)) return false;
    r.locked = true;
    r.until = now + std::chrono::seconds(cfg_.unlock_time);
    Table& t = table_of(r.key);
    t.locked.splice(t.locked.begin(), t.open, map_.at(r.key));
    return true;
}

bool Throttle::failure(std::string_view user, const std::string& client, Clock::time_point now,
                       std::string_view label) {
    std::lock_guard<std::mutex> lock(mu_);
    bool locked_now = false;
    if (cfg_.deny > 0 || (cfg_.client_deny > 0 && !client.empty()))
        if (Rec* r = touch(ukey(user), now)) {
            if (r->label.empty()) r->label = cut(label.empty() ? user : label);
            locked_now |= count(*r, cfg_.deny, client_hash(client), now);
        }
    if (cfg_.client_deny > 0 && !client.empty())
        if (Rec* c = touch(ckey(client), now)) locked_now |= count(*c, cfg_.client_deny, 0, now);
    return locked_now;
}

void Throttle::success(std::string_view user, Clock::time_point) {
    std::lock_guard<std::mutex> lock(mu_);
    erase(ukey(user));
}

void Throttle::list_from(List& l, std::string_view user, Clock::time_point now, std::vector<Entry>& out) {
    for (auto it = l.begin(); it != l.end();) {
        Rec& r = *it++;   // prune may move r to open: step first
        const bool is_user = r.key.compare(0, 2, "u:") == 0;
        std::string_view name = is_user ? std::string_view(r.label) : std::string_view(r.key).substr(2);
        if (!user.empty() && (!is_user || (name != user && r.key != ukey(user)))) continue;
        uint32_t left = lock_left(r, now);
        if (r.fails.empty() && left == 0) continue;
        out.push_back(Entry{is_user ? "user" : "client", std::string(name), uint32_t(r.fails.size()), left});
    }
}

std::vector<Throttle::Entry> Throttle::list(std::string_view user, Clock::time_point now) {
    std::lock_guard<std::mutex> lock(mu_);
    std::vector<Entry> out;
    for (Table* t : {&known_, &unknown_, &clients_}) {
        list_from(t->open, user, now, out);
        list_from(t->locked, user, now, out);
    }
    std::sort(out.begin(), out.end(),
              [](const Entry& a, const Entry& b) { return std::tie(a.kind, a.name) < std::tie(b.kind, b.name); });
    return out;
}

bool Throttle::reset(std::string_view kind, std::string_view name) {
    std::lock_guard<std::mutex> lock(mu_);
    if (kind == "client") {
        const bool had = map_.count(ckey(name)) > 0;
        erase(ckey(name));
        return had;
    }
    std::vector<std::string> keys;
    if (map_.count(ukey(name))) keys.push_back(ukey(name));
    const std::string label = cut(name);
    for (Table* t : {&known_, &unknown_})
        for (List* l : {&t->open, &t->locked})
            for (const Rec& r : *l)
                if (r.label == label && r.key != ukey(name)) keys.push_back(r.key);
    for (const auto& k : keys) erase(k);
    return !keys.empty();
}

size_t Throttle::size() const {
    std::lock_guard<std::mutex> lock(mu_);
    return map_.size();
}

}  // namespace dj
