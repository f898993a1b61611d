// The device side of one-time codes; see otp.h.
#include "daemon/otp.h"

#include <openssl/crypto.h>

#include <algorithm>
#include <chrono>

#include "passwords/totp.h"

namespace dj::otp {

Devices::~Devices() {
    for (auto& d : rows_)
        if (!d.key.empty()) OPENSSL_cleanse(d.key.data(), d.key.size());
}

std::vector<int64_t> Devices::code_lengths() const {
    std::vector<int64_t> out;
    for (const auto& d : rows_) {
        if (out.size() == kMaxSplits) break;
        if (d.digits > 0 && std::find(out.begin(), out.end(), d.digits) == out.end()) out.push_back(d.digits);
    }
    return out;
}

Devices devices_of(db::Database& db, int64_t user_id) { return Devices(db.totp_devices(user_id)); }

bool accept_code(db::Database& db, const OtpConfig& cfg, const Devices& devices, std::string_view code,
                 int64_t now, int64_t& which) {
    for (const auto& d : devices.rows()) {
        totp::Params p;
        p.key_hex = d.key;
        p.step = d.step;
        p.t0 = d.t0;
        p.digits = d.digits;
        p.tolerance = d.tolerance;
        p.drift = d.drift;
        p.last_t = d.last_t;
        auto m = totp::verify(p, code, now);
        OPENSSL_cleanse(p.key_hex.data(), p.key_hex.size());
        if (!m) continue;
        // Lost to a concurrent login with the same code (or a newer one):
        // this code is spent.
        if (db.totp_accept(d.id, m->t, cfg.sync_drift ? m->drift : d.drift)) {
            which = d.id;
            return true;
        }
    }
    return false;
}

int64_t now_seconds() {
    return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch())
        .count();
}

}  // namespace dj::otp
