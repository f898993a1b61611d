// scrypt (ScryptPasswordHasher, Django 4.0+):
//
//   scrypt$<n>$<salt>$<r>$<p>$<base64 of 64-byte scrypt>
//
// Note the field order n, salt, r, p. Django verifies by re-encoding and
// comparing whole strings, and calls hashlib.scrypt with maxmem=0, which is
// OpenSSL's default cap of 32 MiB: values needing more never verify there,
// and scrypt_derive applies the same rule.
#include <openssl/crypto.h>

#include <stdexcept>

#include "passwords/base64.h"
#include "passwords/hasher.h"
#include "passwords/scrypt_kdf.h"

namespace dj {
namespace {

constexpr size_t kKeyLen = 64;

class ScryptHasher final : public Hasher {
public:
    ScryptHasher(const HashParams& p, const HashLimits& l) : params_(p), limits_(l) {}

    const char* algorithm() const override { return "scrypt"; }

    bool verify(std::string_view password, std::string_view encoded) const override {
        Decoded d = decode(encoded);
        std::string again = compute(password, d.salt, d.n, d.r, d.p);
        bool same = constant_time_equal(encoded, again);
        wipe(again);
        return same;
    }

    // work, when non-zero, is n (a power of two).
    std::string encode(std::string_view password, std::string_view salt,
                       uint32_t work) const override {
        if (salt.empty() || salt.find('$') != std::string_view::npos)
            throw std::invalid_argument("scrypt salt must be non-empty and without '$'");
        uint64_t n = work ? work : params_.scrypt_n;
        if (n < 2 || (n & (n - 1)) != 0)
            throw std::invalid_argument("scrypt n must be a power of two");
        try {
            return compute(password, salt, n, params_.scrypt_r, params_.scrypt_p);
        } catch (const MalformedHash& e) {
            throw std::invalid_argument(std::string("scrypt: ") + e.what());
        }
    }

    bool read_params(std::string_view encoded, HashParams& out) const override {
        Decoded d = decode(encoded);
        if (d.n > UINT32_MAX || d.r > UINT32_MAX || d.p > UINT32_MAX) return false;
        out.scrypt_n = static_cast<uint32_t>(d.n);
        out.scrypt_r = static_cast<uint32_t>(d.r);
        out.scrypt_p = static_cast<uint32_t>(d.p);
        return true;
    }

    bool must_update(std::string_view encoded) const override {
        Decoded d = decode(encoded);
        return d.n != params_.scrypt_n || d.r != params_.scrypt_r || d.p != params_.scrypt_p;
    }

private:
    struct Decoded {
        uint64_t n, r, p;
        std::string_view salt;
    };

    // algorithm, n, salt, r, p, hash = encoded.split('$', 6): exactly six
    // fields, so a '$' in the hash makes the value invalid.
    Decoded decode(std::string_view encoded) const {
        auto f = split(encoded, '$', 6);
        if (f.size() != 6) throw MalformedHash("expected 6 '$'-separated fields");
        Decoded d{};
        // Django re-encodes with %d, and replaces 0 by its default: only
        // plain non-zero decimals can match.
        if (!parse_canonical_uint(f[1], UINT64_MAX, d.n) ||
            !parse_canonical_uint(f[3], UINT64_MAX, d.r) ||
            !parse_canonical_uint(f[4], UINT64_MAX, d.p) || d.n == 0 || d.r == 0 || d.p == 0)
            throw MalformedHash("scrypt parameters are not plain non-zero decimal numbers");
        if (d.n < 2 || (d.n & (d.n - 1)) != 0)
            throw MalformedHash("scrypt n is not a power of two");
        if (f[2].empty()) throw MalformedHash("empty salt");
        d.salt = f[2];
        // Bounded by what it costs, not by each parameter: n=16 r=1 p=100
        // is as cheap as Django's own values.
        const char* why = nullptr;
        if (!scrypt_within(limits_, d.n, d.r, d.p, &why)) throw MalformedHash(why);
        // What Django's hashlib.scrypt(maxmem=0) refuses (over OpenSSL's
        // 32 MiB, r * p >= 2^30) never verifies there: refused before any work.
        if (!scrypt_params_ok(d.n, d.r, d.p))
            throw MalformedHash("scrypt parameters rejected by OpenSSL (Django allows at most 32 MiB)");
        return d;
    }

    std::string compute(std::string_view password, std::string_view salt, uint64_t n, uint64_t r,
                        uint64_t p) const {
        unsigned char key[kKeyLen];
        if (!scrypt_derive(password, salt, n, r, p, key, sizeof key)) {
            throw MalformedHash(
                "scrypt parameters rejected by OpenSSL (Django allows at most 32 MiB)");
        }
        std::string out = "scrypt$" + std::to_string(n) + '$' + std::string(salt) + '$' +
                          std::to_string(r) + '$' + std::to_string(p) + '$' +
                          b64::encode(key, sizeof key, true);
        OPENSSL_cleanse(key, sizeof key);
        return out;
    }

    HashParams params_;
    HashLimits limits_;
};

}  // namespace

std::unique_ptr<Hasher> make_scrypt(const HashParams& p, const HashLimits& l) {
    return std::make_unique<ScryptHasher>(p, l);
}

}  // namespace dj
