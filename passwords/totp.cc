// TOTP as django-otp computes and checks it; see totp.h.
#include "passwords/totp.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

namespace dj::totp {
namespace {

int hex_value(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

// Python's str.strip() for int(): the ASCII whitespace it removes.
bool py_space(char c) { return c == ' ' || (c >= '\t' && c <= '\r'); }

// Wipes a string holding key bytes when it goes.
struct Cleanse {
    std::string& s;
    ~Cleanse() {
        if (!s.empty()) OPENSSL_cleanse(s.data(), s.size());
    }
};

}  // namespace

std::optional<uint32_t> hotp(std::string_view key, uint64_t counter, int64_t digits) {
    unsigned char msg[8];
    for (int i = 7; i >= 0; --i) {
        msg[i] = static_cast<unsigned char>(counter & 0xff);
        counter >>= 8;
    }
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    // An empty key is a valid HMAC key (Python's hmac takes b"").
    static const unsigned char kEmpty = 0;
    const void* k = key.empty() ? static_cast<const void*>(&kEmpty) : key.data();
    if (HMAC(EVP_sha1(), k, static_cast<int>(key.size()), msg, sizeof msg, mac, &len) == nullptr || len != 20)
        return std::nullopt;
    const unsigned offset = mac[19] & 0x0f;
    const uint32_t bin = (uint32_t(mac[offset] & 0x7f) << 24) | (uint32_t(mac[offset + 1]) << 16) |
                         (uint32_t(mac[offset + 2]) << 8) | uint32_t(mac[offset + 3]);
    OPENSSL_cleanse(mac, sizeof mac);
    // bin_code % pow(10, digits): bin < 2^31 < 10^10, so 10 digits and more
    // leave it whole; a negative count (a float power in Python) as well.
    static constexpr uint32_t kPow10[] = {1,      10,      100,      1000,      10000,
                                          100000, 1000000, 10000000, 100000000, 1000000000};
    if (digits >= 0 && digits <= 9) return bin % kPow10[digits];
    return bin;
}

std::optional<std::string> unhex(std::string_view hex) {
    if (hex.size() % 2) return std::nullopt;
    std::string out(hex.size() / 2, '\0');
    for (size_t i = 0; i < out.size(); ++i) {
        const int hi = hex_value(hex[2 * i]), lo = hex_value(hex[2 * i + 1]);
        if (hi < 0 || lo < 0) {
            OPENSSL_cleanse(out.data(), out.size());
            return std::nullopt;
        }
        out[i] = static_cast<char>(hi * 16 + lo);
    }
    return out;
}

std::optional<uint64_t> parse_token(std::string_view s) {
    while (!s.empty() && py_space(s.front())) s.remove_prefix(1);
    while (!s.empty() && py_space(s.back())) s.remove_suffix(1);
    bool negative = false;
    if (!s.empty() && (s.front() == '+' || s.front() == '-')) {
        negative = s.front() == '-';
        s.remove_prefix(1);
    }
    if (s.empty()) return std::nullopt;
    uint64_t v = 0;
    bool huge = false, prev_digit = false;
    for (size_t i = 0; i < s.size(); ++i) {
        const char c = s[i];
        if (c == '_') {
            // only between two digits
            if (!prev_digit || i + 1 == s.size() || s[i + 1] < '0' || s[i + 1] > '9') return std::nullopt;
            prev_digit = false;
            continue;
        }
        if (c < '0' || c > '9') return std::nullopt;
        prev_digit = true;
        if (v > (uint64_t(1) << 40)) huge = true;   // beyond any HOTP value; keep checking the syntax
        else v = v * 10 + uint64_t(c - '0');
    }
    if (huge || (negative && v != 0)) return std::nullopt;   // an integer no code equals
    return v;
}

int64_t floor_div(int64_t a, int64_t b) {
    int64_t q = a / b;
    if ((a % b != 0) && ((a < 0) != (b < 0))) --q;
    return q;
}

std::optional<Match> verify(const Params& p, std::string_view token, int64_t now) {
    const auto want = parse_token(token);
    if (!want) return std::nullopt;           // int(token) failed: verified = False
    if (p.step <= 0) return std::nullopt;     // ZeroDivisionError in django-otp (a negative step: nonsense)
    std::optional<std::string> key = unhex(p.key_hex);
    if (!key) return std::nullopt;            // binascii.Error in django-otp
    Cleanse wipe{*key};
    // t() = ((int(time) - t0) // step) + drift, in 128 bits: t0 and drift
    // come from the database and may be anything.
    const __int128 diff = __int128(now) - __int128(p.t0);
    __int128 base = diff / p.step;
    if (diff % p.step != 0 && diff < 0) --base;
    const __int128 min_t = __int128(p.last_t) + 1;
    for (int64_t offset = -p.tolerance; offset <= p.tolerance; ++offset) {
        const __int128 drift = __int128(p.drift) + offset;
        const __int128 t = base + drift;
        if (t < min_t) continue;
        // struct.pack('>Q') raises outside 0 .. 2^64-1: the whole check fails.
        if (t < 0 || t > __int128(INT64_MAX)) return std::nullopt;
        const auto code = hotp(*key, uint64_t(t), p.digits);
        if (!code) return std::nullopt;
        if (*code == *want) {
            if (drift < INT64_MIN || drift > INT64_MAX) return std::nullopt;
            return Match{int64_t(t), int64_t(drift)};
        }
    }
    return std::nullopt;
}

}  // namespace dj::totp
