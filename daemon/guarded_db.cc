#include "daemon/guarded_db.h"

#include "daemon/log.h"

namespace dj::db {

namespace {

// How often the probing thread looks whether a probe is due.
constexpr auto kProbeTick = std::chrono::milliseconds(100);

}  // namespace

GuardedDatabase::GuardedDatabase(std::unique_ptr<Database> inner, Breaker breaker, bool probe)
    : inner_(std::move(inner)), breaker_(breaker) {
    if (probe) prober_ = std::jthread([this](std::stop_token stop) { probe_loop(stop); });
}

GuardedDatabase::~GuardedDatabase() {
    // A probe under way ends within the engine's own timeouts.
    prober_.request_stop();
    if (prober_.joinable()) prober_.join();
}

void GuardedDatabase::refuse_if_open() {
    if (!open_.load()) return;
    refused_++;
    refused_this_outage_++;
    throw DbRefused("database unavailable (not asked until it answers again)");
}

void GuardedDatabase::note_opened(const std::string& why) {
    error_ = why;
    for (char& c : error_)
        if (c == '\n' || c == '\r') c = ' ';
    since_ = std::chrono::system_clock::now();
    refused_this_outage_ = 0;
}

void GuardedDatabase::reached() {
    if (!open_.load()) return;  // the common case: no lock
    Breaker::Change change;
    {
        std::lock_guard<std::mutex> lock(mutex_);
        change = breaker_.succeeded();
        open_.store(breaker_.open());
    }
    report(change, {});
}

void GuardedDatabase::unreachable(const char* why) {
    Breaker::Change change;
    {
        std::lock_guard<std::mutex> lock(mutex_);
        change = breaker_.failed(Breaker::Clock::now());
        if (change == Breaker::Change::Opened) note_opened(why);
        open_.store(breaker_.open());
    }
    if (change == Breaker::Change::Opened) cv_.notify_all();
    report(change, why);
}

void GuardedDatabase::report(Breaker::Change change, const std::string& why) {
    if (change == Breaker::Change::Opened) {
        log::say(LOG_ERR,
                 "database unavailable: %s; requests that need it are answered Unavailable at once until it "
                 "answers again",
                 why.c_str());
    } else if (change == Breaker::Change::Closed) {
        std::chrono::system_clock::time_point since;
        {
            std::lock_guard<std::mutex> lock(mutex_);
            since = since_;
        }
        const auto down = std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now() - since);
        log::say(LOG_NOTICE, "database %s answers again after %lld s; %llu requests were answered Unavailable meanwhile",
                 inner_->describe().c_str(), static_cast<long long>(down.count()),
                 static_cast<unsigned long long>(refused_this_outage_.load()));
    }
}

void GuardedDatabase::probe_once() {
    {
        std::lock_guard<std::mutex> lock(mutex_);
        if (!breaker_.claim_probe(Breaker::Clock::now())) return;
    }
    bool ok = true;
    std::string why;
    try {
        inner_->ping();
    } catch (const DbQueryError&) {
        // It answered.
    } catch (const std::exception& e) {
        ok = false;
        why = e.what();
    }
    Breaker::Change change;
    {
        std::lock_guard<std::mutex> lock(mutex_);
        change = breaker_.probe_done(ok, Breaker::Clock::now());
        if (change == Breaker::Change::Opened) note_opened(why);
        open_.store(breaker_.open());
    }
    report(change, why);
}

void GuardedDatabase::probe_loop(std::stop_token stop) {
    std::unique_lock<std::mutex> lock(mutex_);
    while (!stop.stop_requested()) {
        // Asleep while closed; while open, wake every tick to see if a probe is due.
        if (!breaker_.open()) {
            cv_.wait(lock, stop, [this] { return breaker_.open(); });
            continue;
        }
        cv_.wait_for(lock, stop, kProbeTick, [] { return false; });
        if (stop.stop_requested()) break;
        lock.unlock();
        probe_once();
        lock.lock();
    }
}

std::string GuardedDatabase::status_lines() const {
    std::lock_guard<std::mutex> lock(mutex_);
    const bool open = breaker_.open();
    std::string out = std::string("database_available ") + (open ? "no" : "yes") + "\n";
    const long long since = open ? static_cast<long long>(std::chrono::system_clock::to_time_t(since_)) : 0;
    out += "database_unavailable_since " + std::to_string(since) + "\n";
    if (open) out += "database_error " + error_ + "\n";
    out += "database_outages " + std::to_string(breaker_.times_opened()) + "\n";
    out += "database_refused " + std::to_string(refused_.load()) + "\n";
    return out;
}

// Each call, through the breaker.
std::optional<UserRow> GuardedDatabase::user_by_name(std::string_view username) {
    return guarded([&] { return inner_->user_by_name(username); });
}
std::optional<UserRow> GuardedDatabase::user_by_id(int64_t id) {
    return guarded([&] { return inner_->user_by_id(id); });
}
std::vector<UserRow> GuardedDatabase::users_after(int64_t after_id, int limit) {
    return guarded([&] { return inner_->users_after(after_id, limit); });
}
std::vector<std::pair<int64_t, std::string>> GuardedDatabase::passwords_after(int64_t after_id, int limit) {
    return guarded([&] { return inner_->passwords_after(after_id, limit); });
}
std::optional<GroupRow> GuardedDatabase::group_by_name(std::string_view name) {
    return guarded([&] { return inner_->group_by_name(name); });
}
std::optional<GroupRow> GuardedDatabase::group_by_id(int64_t id) {
    return guarded([&] { return inner_->group_by_id(id); });
}
std::vector<GroupRow> GuardedDatabase::groups_after(int64_t after_id, int limit) {
    return guarded([&] { return inner_->groups_after(after_id, limit); });
}
std::vector<MemberRow> GuardedDatabase::active_members(int64_t group_id) {
    return guarded([&] { return inner_->active_members(group_id); });
}
std::vector<GroupRow> GuardedDatabase::groups_of_user(int64_t user_id) {
    return guarded([&] { return inner_->groups_of_user(user_id); });
}
std::vector<std::string> GuardedDatabase::permissions_of_user(int64_t user_id) {
    return guarded([&] { return inner_->permissions_of_user(user_id); });
}
std::vector<std::string> GuardedDatabase::keys_of_user(int64_t user_id) {
    return guarded([&] { return inner_->keys_of_user(user_id); });
}
void GuardedDatabase::set_password(int64_t user_id, std::string_view encoded) {
    guarded_write([&] { inner_->set_password(user_id, encoded); });
}
void GuardedDatabase::set_last_login(int64_t user_id) {
    guarded_write([&] { inner_->set_last_login(user_id); });
}
std::vector<TotpDeviceRow> GuardedDatabase::totp_devices(int64_t user_id) {
    return guarded([&] { return inner_->totp_devices(user_id); });
}
bool GuardedDatabase::totp_accept(int64_t device_id, int64_t t, int64_t drift) {
    return guarded_write([&] { return inner_->totp_accept(device_id, t, drift); });
}
void GuardedDatabase::ping() {
    guarded([&] { inner_->ping(); });
}
std::string GuardedDatabase::describe() const { return inner_->describe(); }

}  // namespace dj::db
