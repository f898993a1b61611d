// crypt (CryptPasswordHasher, Django 1.4 - 4.2):
//
//   crypt$$<crypt(3) output>        e.g. crypt$$ab01FAX.bQRSU, crypt$$$6$salt$hash
//   crypt$<salt>$<crypt(3) output>  (Django <= 1.3 layout; the salt is ignored)
//
// Django verifies with crypt.crypt(password, data) == data, so every format
// the system's libcrypt knows verifies: DES, _ (BSDi), $1$, $3$, $5$, $6$,
// $2a$/$2b$/$2y$, $md5, $sha1$, $y$, $gy$, $7$. Several of them carry a cost
// in the stored value; those are checked against our limits first, so a
// hostile "$6$rounds=999999999$" or "$y$jFT$" cannot hang or exhaust memory.
// Django creates only traditional DES hashes (two-character salt).
#include <crypt.h>

#include <openssl/crypto.h>

#include <stdexcept>

#include "passwords/hasher.h"

namespace dj {

std::string crypt_call(std::string_view phrase, const std::string& setting) {
    // Python's crypt and pyca/bcrypt refuse embedded NULs; so do we.
    if (phrase.find('\0') != std::string_view::npos || setting.find('\0') != std::string::npos)
        return {};
    std::string p(phrase);
    // crypt_data is 32 KiB: on the heap, and zeroed by value-initialization
    // as crypt_rn requires.
    auto data = std::make_unique<crypt_data>();
    const char* out = crypt_rn(p.c_str(), setting.c_str(), data.get(), sizeof *data);
    std::string result;
    // crypt_rn returns NULL on failure, never a "*0"/"*1" failure token, but
    // be safe: a failure token can never be a match anyway.
    if (out && out[0] != '*') result = out;
    wipe(p);
    OPENSSL_cleanse(data.get(), sizeof *data);
    return result;
}

namespace {

// The yescrypt/scrypt variable-length and fixed-width number encodings
// (libxcrypt alg-yescrypt-common.c), for reading their cost parameters.
uint32_t atoi64(unsigned char c) {
    if (c == '.') return 0;
    if (c == '/') return 1;
    if (c >= '0' && c <= '9') return c - '0' + 2;
    if (c >= 'A' && c <= 'Z') return c - 'A' + 12;
    if (c >= 'a' && c <= 'z') return c - 'a' + 38;
    return 64;
}

bool decode64_uint32(std::string_view& s, uint32_t min, uint64_t& out) {
    if (s.empty()) return false;
    uint32_t c = atoi64(static_cast<unsigned char>(s[0]));
    s.remove_prefix(1);
    if (c > 63) return false;
    uint64_t start = 0, end = 47, chars = 1, bits = 0;
    uint64_t v = min;
    while (c > end) {
        v += (end + 1 - start) << bits;
        start = end + 1;
        end = start + (62 - end) / 2;
        ++chars;
        bits += 6;
    }
    v += (c - start) << bits;
    while (--chars) {
        if (s.empty()) return false;
        c = atoi64(static_cast<unsigned char>(s[0]));
        s.remove_prefix(1);
        if (c > 63) return false;
        bits -= 6;
        v += uint64_t{c} << bits;
    }
    out = v;
    return true;
}

bool decode64_fixed30(std::string_view& s, uint64_t& out) {
    out = 0;
    for (unsigned bits = 0; bits < 30; bits += 6) {
        if (s.empty()) return false;
        uint32_t c = atoi64(static_cast<unsigned char>(s[0]));
        s.remove_prefix(1);
        if (c > 63) return false;
        out |= uint64_t{c} << bits;
    }
    return true;
}

// Digits right after `prefix` in s, as crypt would read them; false if absent.
bool rounds_after(std::string_view s, std::string_view prefix, uint64_t& out) {
    if (!s.starts_with(prefix)) return false;
    s.remove_prefix(prefix.size());
    uint64_t v = 0;
    size_t n = 0;
    while (n < s.size() && s[n] >= '0' && s[n] <= '9' && n < 19) {
        v = v * 10 + static_cast<unsigned>(s[n] - '0');
        ++n;
    }
    if (n == 0) return false;
    out = (n < s.size() && s[n] >= '0' && s[n] <= '9') ? UINT64_MAX : v;
    return true;
}

// Throws MalformedHash when a crypt setting asks for more than the limits.
void check_crypt_cost(std::string_view s, const HashLimits& l) {
    uint64_t rounds = 0;
    if (s.starts_with("$2")) {  // bcrypt: $2?$NN$
        if (s.size() >= 7 && s[4] >= '0' && s[4] <= '9' && s[5] >= '0' && s[5] <= '9') {
            uint32_t r = static_cast<uint32_t>((s[4] - '0') * 10 + (s[5] - '0'));
            if (r > l.max_bcrypt_rounds) throw MalformedHash("bcrypt rounds over the limit");
        }
    } else if (rounds_after(s, "$5$rounds=", rounds) || rounds_after(s, "$6$rounds=", rounds) ||
               rounds_after(s, "$sha1$", rounds) || rounds_after(s, "$md5,rounds=", rounds)) {
        if (rounds > l.max_pbkdf2_iterations) throw MalformedHash("crypt rounds over the limit");
    } else if (s.starts_with("$y$") || s.starts_with("$gy$") || s.starts_with("$7$")) {
        uint64_t n_log2 = 0, r = 1, p = 1, t = 0;
        std::string_view q = s.substr(s[1] == 'g' ? 4 : 3);
        bool ok;
        if (s[1] == '7') {
            n_log2 = q.empty() ? 64 : atoi64(static_cast<unsigned char>(q[0]));
            if (!q.empty()) q.remove_prefix(1);
            ok = n_log2 >= 1 && n_log2 <= 63 && decode64_fixed30(q, r) && decode64_fixed30(q, p);
        } else {
            uint64_t flavor = 0, have = 0;
            ok = decode64_uint32(q, 0, flavor) && decode64_uint32(q, 1, n_log2) && n_log2 <= 63 &&
                 decode64_uint32(q, 1, r);
            if (ok && !q.empty() && q[0] != '$') {
                ok = decode64_uint32(q, 1, have);
                if (ok && (have & 1)) ok = decode64_uint32(q, 2, p);
                if (ok && (have & 2)) ok = decode64_uint32(q, 1, t);
            }
        }
        if (!ok) return;  // libcrypt rejects it without doing any work
        // Memory is about 128 * r * N bytes, and the work N * r * p * (t + 1).
        if (n_log2 >= 40 || r > (uint64_t{1} << 30) || (r << n_log2) > l.max_memory / 128)
            throw MalformedHash("crypt memory cost over the limit");
        uint64_t nrp = 0, work = 0;
        if (p > (uint64_t{1} << 30) || t > 1024 || __builtin_mul_overflow(r << n_log2, p, &nrp) ||
            __builtin_mul_overflow(nrp, t + 1, &work) || work > l.max_scrypt_work)
            throw MalformedHash("crypt work over the limit");
    }
    // DES, _ (at most 2^24 rounds), $1$, $3$, $md5$ have bounded costs.
}

class CryptHasher final : public Hasher {
public:
    explicit CryptHasher(const HashLimits& l) : limits_(l) {}

    const char* algorithm() const override { return "crypt"; }

    // Django: get_random_string(2)
    std::string salt() const override { return random_salt(2); }

    bool verify(std::string_view password, std::string_view encoded) const override {
        // algorithm, salt, data = encoded.split('$', 2)
        auto f = split(encoded, '$', 2);
        if (f.size() != 3) throw MalformedHash("expected 3 '$'-separated fields");
        std::string data(f[2]);
        check_crypt_cost(data, limits_);
        std::string again = crypt_call(password, data);
        bool same = !again.empty() && constant_time_equal(data, again);
        wipe(again);
        return same;
    }

    std::string encode(std::string_view password, std::string_view salt, uint32_t) const override {
        if (salt.size() != 2) throw std::invalid_argument("crypt salt must be 2 characters");
        std::string h = crypt_call(password, std::string(salt));
        if (h.empty()) throw std::invalid_argument("crypt(3) refused the password or salt");
        return "crypt$$" + h;
    }

private:
    HashLimits limits_;
};

}  // namespace

std::unique_ptr<Hasher> make_crypt(const HashParams&, const HashLimits& l) {
    return std::make_unique<CryptHasher>(l);
}

}  // namespace dj
