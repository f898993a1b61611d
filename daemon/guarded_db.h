// A Database in front of another (any engine) with a circuit breaker
// (breaker.h): once a call fails to reach the database (connect or statement
// failed or timed out), calls are refused at once with DbRefused instead of
// each waiting for the database's own timeout, far past the clients' (a
// hung server, a network that drops packets). A thread of its own probes the
// database with ping(), one attempt at a time, with backoff, and closes the
// breaker as soon as it answers; so no request waits for a probe.
// Thread-safe; logs once when the breaker opens and once when it closes.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <stop_token>
#include <string>
#include <thread>
#include <type_traits>

#include "daemon/breaker.h"
#include "daemon/db.h"

namespace dj::db {

class GuardedDatabase : public Database {
public:
    // `probe`: start the probing thread (tests of the refusals leave it off).
    explicit GuardedDatabase(std::unique_ptr<Database> inner, Breaker breaker = Breaker(), bool probe = true);
    ~GuardedDatabase() override;

    std::optional<UserRow> user_by_name(std::string_view username) override;
    std::optional<UserRow> user_by_id(int64_t id) override;
    std::vector<UserRow> users_after(int64_t after_id, int limit) override;
    std::vector<std::pair<int64_t, std::string>> passwords_after(int64_t after_id, int limit) override;
    std::optional<GroupRow> group_by_name(std::string_view name) override;
    std::optional<GroupRow> group_by_id(int64_t id) override;
    std::vector<GroupRow> groups_after(int64_t after_id, int limit) override;
    std::vector<MemberRow> active_members(int64_t group_id) override;
    std::vector<GroupRow> groups_of_user(int64_t user_id) override;
    std::vector<std::string> permissions_of_user(int64_t user_id) override;
    std::vector<std::string> keys_of_user(int64_t user_id) override;
    void set_password(int64_t user_id, std::string_view encoded) override;
    void set_last_login(int64_t user_id) override;
    std::vector<TotpDeviceRow> totp_devices(int64_t user_id) override;
    bool totp_accept(int64_t device_id, int64_t t, int64_t drift) override;
    void ping() override;
    std::string describe() const override;
    bool writes_elsewhere() const override { return inner_->writes_elsewhere(); }
    // database_available, database_unavailable_since (Unix time, 0 while
    // available), database_error, database_outages, database_refused.
    std::string status_lines() const override;

    bool available() const { return !open_.load(); }
    // One probe now if one is due (the probing thread's step; for tests).
    void probe_once();

private:
    // Runs `f` on the inner database unless the breaker is open; records
    // whether it reached the database.
    template <class F>
    auto guarded(F&& f) -> decltype(f()) {
        refuse_if_open();
        try {
            if constexpr (std::is_void_v<decltype(f())>) {
                f();
                reached();
            } else {
                auto r = f();
                reached();
                return r;
            }
        } catch (const DbQueryError&) {
            reached();
            throw;
        } catch (const DbUnavailable& e) {
            unreachable(e.what());
            throw;
        }
    }
    // A write: guarded() unless writes go to another server than reads (a
    // primary, with reads on a replica): then its failures say nothing of
    // the replica and do not open the breaker, which guards reads.
    template <class F>
    auto guarded_write(F&& f) -> decltype(f()) {
        if (!inner_->writes_elsewhere()) return guarded(std::forward<F>(f));
        refuse_if_open();
        return f();
    }
    void refuse_if_open();
    void reached();
    void unreachable(const char* why);
    // Under mutex_: the breaker just opened because of `why`.
    void note_opened(const std::string& why);
    void report(Breaker::Change change, const std::string& why);
    void probe_loop(std::stop_token stop);

    std::unique_ptr<Database> inner_;
    mutable std::mutex mutex_;
    std::condition_variable_any cv_;
    Breaker breaker_;                 // under mutex_
    std::string error_;               // the failure that opened it, under mutex_
    std::chrono::system_clock::time_point since_{};  // when it opened, under mutex_
    std::atomic<bool> open_{false};   // breaker_.open(), read without the lock
    std::atomic<uint64_t> refused_{0}, refused_this_outage_{0};
    std::jthread prober_;             // last: stopped and joined first
};

}  // namespace dj::db
