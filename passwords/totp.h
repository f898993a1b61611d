// TOTP verification exactly as django-otp's TOTPDevice.verify_token does it
// (django_otp/plugins/otp_totp/models.py and django_otp/oath.py, 1.1.3):
// RFC 4226 HOTP with HMAC-SHA1 over the 8-byte big-endian counter, the time
// step t = (int(now) - t0) // step + drift (floor division), a window of
// +-tolerance steps around it, and no step at or below last_t (a code is
// never accepted twice). The key is a secret like a password hash: it comes
// in as hex, is decoded into a buffer wiped after use, and is never logged.
// Pure functions, no I/O: the daemon's device logic is daemon/otp.h.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace dj::totp {

// The fields of a django-otp TOTPDevice that verification reads.
struct Params {
    std::string key_hex;     // the `key` column: hex, any case (unhexlify)
    int64_t step = 30;
    int64_t t0 = 0;
    int64_t digits = 6;
    int64_t tolerance = 1;
    int64_t drift = 0;
    int64_t last_t = -1;
};

// RFC 4226 HOTP of `counter` (django_otp.oath.hotp). nullopt when HMAC fails.
std::optional<uint32_t> hotp(std::string_view key, uint64_t counter, int64_t digits);

// Hex to bytes as binascii.unhexlify: an even count of hex digits (either
// case), else nullopt. The caller wipes the result.
std::optional<std::string> unhex(std::string_view hex);

// The token as django-otp reads it, int(token): ASCII whitespace around it,
// an optional sign, decimal digits with single underscores between them
// (leading zeros allowed, so "012345" and "12345" are one token). nullopt:
// not an integer (no code matches). A negative or huge value is kept as
// "matches nothing" (nullopt too: HOTP values are below 2^31).
std::optional<uint64_t> parse_token(std::string_view token);

// Python's (a // b) for b > 0.
int64_t floor_div(int64_t a, int64_t b);

struct Match {
    int64_t t = 0;       // the accepted step: the new last_t
    int64_t drift = 0;   // the drift that matched (stored when syncing, OTP_TOTP_SYNC)
};

// TOTP.verify(token, tolerance, last_t + 1) at Unix time `now` (int(time())).
// Tries offsets -tolerance .. +tolerance in that order and returns the first
// match, as django-otp does. nullopt: no match, or a device django-otp would
// fail on (step <= 0, a key that is not hex, a negative counter).
std::optional<Match> verify(const Params& p, std::string_view token, int64_t now);

}  // namespace dj::totp
