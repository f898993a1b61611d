// One-time codes from django-otp's TOTP devices ([otp] in django-auth.conf):
// which devices a user has, and whether a code is accepted. A code is checked
// as django-otp's TOTPDevice.verify_token checks it (passwords/totp.h), on
// each confirmed device in id order as django_otp.match_token does, and the
// accepted step (and, with sync_drift, the drift) is stored with one UPDATE
// that changes the row only while last_t is still below it, so that of two
// logins racing with the same code only one is let in.
//
// django-otp's own throttling columns (throttling_failure_count and
// throttling_failure_timestamp, an exponential delay per device) are neither
// read nor written: a wrong code is a failed login for the daemon's
// [throttle], like a wrong password, which locks the user (and the client)
// after `deny` failures; and the code is only ever checked after the right
// password. django-otp's delay still guards the site's own forms.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "daemon/config.h"
#include "daemon/db.h"

namespace dj::otp {

// A user's confirmed devices; wipes their keys when it goes.
class Devices {
public:
    Devices() = default;
    explicit Devices(std::vector<db::TotpDeviceRow> rows) : rows_(std::move(rows)) {}
    Devices(const Devices&) = delete;
    Devices& operator=(const Devices&) = delete;
    Devices(Devices&&) = default;
    Devices& operator=(Devices&&) = default;
    ~Devices();
    bool empty() const { return rows_.empty(); }
    const std::vector<db::TotpDeviceRow>& rows() const { return rows_; }
    // The distinct `digits` of the devices, in device order (at most
    // kMaxSplits): where the code may start in a password+code string.
    std::vector<int64_t> code_lengths() const;

private:
    std::vector<db::TotpDeviceRow> rows_;
};

// A password+code string is split at most this many ways (one hash each).
inline constexpr size_t kMaxSplits = 2;

// The user's confirmed devices (throws DbUnavailable as the database does).
Devices devices_of(db::Database& db, int64_t user_id);

// Whether `code` is accepted by one of `devices` at Unix time `now`; on
// success the device's last_t (and drift, with cfg.sync_drift) are stored.
// `which` gets the accepted device's id, for the log.
bool accept_code(db::Database& db, const OtpConfig& cfg, const Devices& devices, std::string_view code,
                 int64_t now, int64_t& which);

// Seconds since the epoch, as time.time() truncated by django-otp's int().
int64_t now_seconds();

}  // namespace dj::otp
