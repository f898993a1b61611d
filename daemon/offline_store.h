// Offline credentials ([offline] in django-auth.conf): after a login that the
// database confirmed, a verifier of that password (argon2id, a random salt of
// the user's own), kept with the user's id and name, the time of the login,
// a SHA-256 fingerprint of the Django hash it was checked against (never the
// hash), and the flags and groups the daemon saw then. While the database
// cannot be reached, and only then, the handler checks a password against
// it (handlers_auth.cc), for max_days after the last online login.
//
// The file (one record a line, text) is the daemon user's, mode 0600,
// replaced whole: a new file beside it (O_EXCL, O_NOFOLLOW), fsync, rename,
// fsync of the directory. A file or directory that others could write or
// read is not used. Bounded: kMaxRecords, the oldest logins go first.
// Thread-safe; the argon2 work and the file writes happen without the lock
// on the records.
#pragma once

#include <array>
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "daemon/db.h"

namespace dj {

class OfflineStore {
public:
    static constexpr size_t kMaxRecords = 10000;
    // argon2id parameters of new verifiers (RFC 9106's second choice, at
    // OWASP's memory floor): about 20 ms and 19 MiB per login.
    static constexpr uint32_t kTimeCost = 2, kMemoryKiB = 19456, kParallelism = 1;

    // What an offline decision needs: never the verifier.
    struct Snapshot {
        int64_t user_id = 0;
        std::string username;
        int64_t login_time = 0;   // Unix seconds of the last online login
        bool is_staff = false, is_superuser = false;
        std::vector<db::GroupRow> groups;   // as seen at that login (or a later Account)
    };
    enum class Check { NoRecord, Expired, Match, Mismatch };

    // `path`: the file; empty: kept in memory only (tests).
    OfflineStore(std::string path, int max_days, size_t max_records = kMaxRecords);
    ~OfflineStore();
    OfflineStore(const OfflineStore&) = delete;
    OfflineStore& operator=(const OfflineStore&) = delete;

    // Reads the file (none yet: empty). False and `error` when the file or
    // its directory is unsafe or unreadable (then nothing is stored either)
    // or when lines were skipped as malformed (the others are kept).
    bool load(std::string& error);
    // Whether records can be kept (load() found a safe place).
    bool usable() const;

    // After a login the database confirmed: whether the record of this user
    // already holds this hash and a login time at most kTouchSeconds old (so
    // that remember() can be skipped: no argon2 work, no write).
    bool current(const db::UserRow& u, int64_t now) const;
    // Stores (or renews) the user's record. False and `error` when the file
    // could not be written (the record is kept in memory).
    bool remember(const db::UserRow& u, std::string_view password, const std::vector<db::GroupRow>& groups,
                  int64_t now, std::string& error);
    // Keeps the flags and groups of an existing record fresh (the Account op
    // online). Writes only when they changed.
    bool update(const db::UserRow& u, const std::vector<db::GroupRow>& groups, std::string& error);
    // The database answered about `asked` (a name) with `u`: the record is
    // dropped when the user is gone, inactive, or has another hash. True
    // when one was dropped.
    // `fp`: the fingerprint of the user's hash when `u` was read without it.
    bool seen(std::string_view asked, const std::optional<db::UserRow>& u, std::string& error,
              const std::array<uint8_t, 32>* fp = nullptr);
    bool forget(int64_t user_id, std::string& error);

    // The record of `username` (exact name) while not expired at `now`.
    std::optional<Snapshot> find(std::string_view username, int64_t now) const;
    // Checks `password` against the record (constant-time comparison).
    Check verify(std::string_view username, std::string_view password, int64_t now) const;
    // Drops records older than max_days; true when one was dropped.
    bool expire(int64_t now, std::string& error);

    size_t size() const;
    bool has(int64_t user_id) const;
    std::vector<int64_t> ids() const;
    int max_days() const { return max_days_; }

    // SHA-256 of a stored Django hash.
    static std::array<uint8_t, 32> fingerprint(std::string_view django_hash);

    // A renewed login time is written at most this often (each login would
    // otherwise cost an fsync).
    static constexpr int64_t kTouchSeconds = 3600;

private:
    struct Record {
        Snapshot who;
        std::array<uint8_t, 32> fingerprint{};
        std::array<uint8_t, 16> salt{};
        uint32_t t_cost = 0, m_cost = 0, parallelism = 0;
        std::array<uint8_t, 32> verifier{};
    };
    bool expired(const Record& r, int64_t now) const;
    std::unordered_map<int64_t, Record>::const_iterator by_name(std::string_view username) const;
    // Writes every record to the file (serialised by write_mutex_).
    bool save(std::string& error);
    static std::string encode(const Record& r);
    static std::optional<Record> decode(std::string_view line);

    std::string path_;
    int max_days_;
    size_t max_records_;
    bool usable_;
    mutable std::mutex mutex_;        // records_
    std::mutex write_mutex_;          // one writer of the file at a time
    std::unordered_map<int64_t, Record> records_;
};

}  // namespace dj
