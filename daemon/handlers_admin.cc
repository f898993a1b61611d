// Handler: administration: the host's names and the site's hasher
// parameters refreshed, the throttle's records shown and reset, the Stats text.
#include "daemon/handlers.h"
#include "daemon/handlers_internal.h"

#include <sstream>

#include "daemon/log.h"
#include "daemon/startup.h"

namespace dj {

using namespace handler_internal;

void Handler::refresh_host_names() {
    if (!host_.refresh()) return;
    cache_.flush();
    log::say(LOG_INFO, "%s or %s read; cached answers dropped", host_.passwd_file().c_str(),
             host_.group_file().c_str());
}

bool Handler::refresh_site_params() {
    std::unique_lock<std::mutex> scan(scan_mutex_, std::try_to_lock);
    if (!scan.owns_lock()) return false;  // one is running: it will do
    SiteScan site(hashers_.limits());
    constexpr int kPage = 1000;
    // The hashes of the users with offline credentials, for offline_sweep().
    std::unordered_map<int64_t, std::array<uint8_t, 32>> offline_hashes;
    try {
        int64_t after = 0;
        for (;;) {
            auto page = db_.passwords_after(after, kPage);
            for (auto& [id, value] : page) {
                site.add(value);
                if (offline_on() && offline_.has(id)) offline_hashes[id] = OfflineStore::fingerprint(value);
                wipe(value);
                after = id;
            }
            if (page.size() < size_t(kPage)) break;
        }
    } catch (const std::exception& e) {
        log::say(LOG_WARNING, "site's hasher parameters not read: %s", e.what());
        return false;
    }
    offline_sweep(offline_hashes);
    std::string text;
    const HashParams hp = choose_params(cfg_.passwords, &site.result(), &text);
    hashers_.set_params(hp);
    bool changed;
    {
        std::lock_guard<std::mutex> lock(params_mutex_);
        changed = text != params_text_;
        params_text_ = text;
        site_values_ = site.result().values;
    }
    if (changed) {
        // One line per family; the parameters only, never a value.
        size_t start = 0;
        while (start < text.size()) {
            size_t nl = text.find('\n', start);
            log::say(LOG_INFO, "hasher parameters from %zu stored values: %s", site.result().values,
                     text.substr(start, nl - start).c_str());
            start = nl + 1;
        }
    }
    return true;
}

Reply Handler::throttle_op(Op op, proto::Reader& r, const Peer& peer) {
    std::string kind, name;
    if (op == Op::ThrottleReset) kind = r.str();
    name = r.str();
    if (!r.at_end()) return status_only(op, Status::BadRequest);
    if (peer.uid != 0) {
        denied_++;
        log::say(LOG_WARNING, "%s refused: caller uid %u pid %d is not root", proto::op_name(op),
                 unsigned(peer.uid), int(peer.pid));
        return status_only(op, Status::Denied);
    }
    if (op == Op::ThrottleReset) {
        if (kind != "user" && kind != "client") return status_only(op, Status::BadRequest);
        bool found = throttle_.reset(kind, name);   // a record labelled `name`, or the client
        if (kind == "user") {
            // The user the database finds for this spelling, and the name as typed.
            try {
                if (auto u = db_.user_by_name(name)) {
                    wipe(u->password);
                    found |= throttle_.reset(kind, Throttle::user_key(u->id, name));
                }
            } catch (const db::DbUnavailable&) {
            }
            found |= throttle_.reset(kind, Throttle::user_key(std::nullopt, name));
        }
        if (!found) return status_only(op, Status::NotFound);
        log::say(LOG_NOTICE, "throttle reset: %s=%s by pid %d", kind.c_str(), log::printable(name).c_str(),
                 int(peer.pid));
        return status_only(op, Status::Ok);
    }
    auto entries = throttle_.list(name);
    proto::Writer w(op);
    w.u32(uint32_t(entries.size()));
    for (const auto& e : entries) {
        if (w.size() > kResponseBudget) break;
        w.str(e.kind);
        w.str(e.name.size() > proto::kMaxString ? e.name.substr(0, proto::kMaxString) : e.name);
        w.u32(e.failures);
        w.u32(e.locked_for);
    }
    return Reply{std::move(w.finish()), false};
}

std::string Handler::stats_text() const {
    auto c = cache_.stats();
    auto up = std::chrono::duration_cast<std::chrono::seconds>(std::chrono::steady_clock::now() - started_).count();
    std::ostringstream o;
    o << "version " << kDaemonVersion << "\n"
      << "database " << db_.describe() << "\n"
      << "uptime " << up << "\n"
      << "requests " << requests_.load() << "\n"
      << "connections " << connections_.load() << "\n"
      << "auth_ok " << auth_ok_.load() << "\n"
      << "auth_failed " << auth_fail_.load() << "\n"
      << "denied " << denied_.load() << "\n"
      << "throttled " << throttled_.load() << "\n"
      << "throttle_entries " << throttle_.size() << "\n"
      << "unavailable " << unavailable_.load() << "\n"
      << "cache_entries " << c.entries << "\n"
      << "cache_bytes " << c.bytes << "\n"
      << "cache_hits " << c.hits << "\n"
      << "cache_misses " << c.misses << "\n"
      << "cache_evictions " << c.evictions << "\n"
      << "hash_preferred " << hashers_.preferred() << "\n"
      << "stale_answers " << stale_.load() << "\n"
      << "offline_credentials " << (offline_on() ? "yes" : "no") << "\n"
      << "offline_records " << (offline_on() ? offline_.size() : 0) << "\n"
      << "offline_logins " << offline_ok_.load() << "\n"
      << db_.status_lines();
    {
        std::lock_guard<std::mutex> lock(params_mutex_);
        o << params_text_ << "site_values " << site_values_ << "\n";
    }
    return o.str();
}

}  // namespace dj
