// pbkdf2_sha256 and pbkdf2_sha1 (PBKDF2PasswordHasher, PBKDF2SHA1PasswordHasher):
//
//   pbkdf2_sha256$<iterations>$<salt>$<base64 of 32-byte PBKDF2-HMAC-SHA256>
//   pbkdf2_sha1$<iterations>$<salt>$<base64 of 20-byte PBKDF2-HMAC-SHA1>
//
// Django verifies by re-encoding with the stored salt and iteration count and
// comparing whole strings, so "$01000$" or base64 without '=' never match.
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>

#include <climits>
#include <stdexcept>

#include "passwords/base64.h"
#include "passwords/hasher.h"
#include "passwords/pbkdf2_sha256.h"

namespace dj {
namespace {

class Pbkdf2Hasher final : public Hasher {
public:
    Pbkdf2Hasher(const char* name, const EVP_MD* (*md)(), const HashParams& p, const HashLimits& l)
        : name_(name), md_(md), params_(p), limits_(l) {}

    const char* algorithm() const override { return name_; }

    bool verify(std::string_view password, std::string_view encoded) const override {
        Decoded d = decode(encoded);
        std::string again = compute(password, d.salt, d.iterations);
        bool same = constant_time_equal(encoded, again);
        wipe(again);
        return same;
    }

    std::string encode(std::string_view password, std::string_view salt,
                       uint32_t work) const override {
        if (salt.empty() || salt.find('$') != std::string_view::npos)
            throw std::invalid_argument("pbkdf2 salt must be non-empty and without '$'");
        uint64_t iterations = work ? work : params_.pbkdf2_iterations;
        if (iterations == 0 || iterations > INT_MAX)
            throw std::invalid_argument("pbkdf2 iteration count out of range");
        return compute(password, salt, iterations);
    }

    bool must_update(std::string_view encoded) const override {
        Decoded d = decode(encoded);
        return d.iterations != params_.pbkdf2_iterations || salt_too_short(utf8_chars(d.salt));
    }

    bool read_params(std::string_view encoded, HashParams& out) const override {
        out.pbkdf2_iterations = static_cast<uint32_t>(decode(encoded).iterations);
        return true;
    }

    void harden_runtime(std::string_view password, std::string_view encoded) const override {
        Decoded d = decode(encoded);
        if (d.iterations < params_.pbkdf2_iterations) {
            std::string s = compute(password, d.salt, params_.pbkdf2_iterations - d.iterations);
            wipe(s);
        }
    }

private:
    struct Decoded {
        uint64_t iterations;
        std::string_view salt;
    };

    // algorithm, iterations, salt, hash = encoded.split('$', 3)
    Decoded decode(std::string_view encoded) const {
        auto f = split(encoded, '$', 3);
        if (f.size() != 4) throw MalformedHash("expected 4 '$'-separated fields");
        Decoded d{};
        // Any other spelling of the number ("+1", "01", " 1") is re-encoded
        // differently by Django, so it can never match.
        if (!parse_canonical_uint(f[1], UINT64_MAX, d.iterations))
            throw MalformedHash("iteration count is not a plain decimal number");
        if (d.iterations == 0) throw MalformedHash("iteration count is zero");
        if (d.iterations > limits_.max_pbkdf2_iterations || d.iterations > INT_MAX)
            throw MalformedHash("iteration count over the limit");
        if (f[2].empty()) throw MalformedHash("empty salt");
        d.salt = f[2];
        return d;
    }

    std::string compute(std::string_view password, std::string_view salt,
                        uint64_t iterations) const {
        if (password.size() > INT_MAX || salt.size() > INT_MAX)
            throw MalformedHash("input too long");
        const EVP_MD* md = md_();
        unsigned char key[EVP_MAX_MD_SIZE];
        const int len = EVP_MD_get_size(md);
        if (md == EVP_sha256()) {
            // The hot path of every default Django hash: our kernel, checked
            // against PKCS5_PBKDF2_HMAC by tests/unit/test_pbkdf2_sha256.cc.
            pbkdf2_hmac_sha256(reinterpret_cast<const uint8_t*>(password.data()), password.size(),
                               reinterpret_cast<const uint8_t*>(salt.data()), salt.size(),
                               iterations, key, static_cast<size_t>(len));
        } else if (PKCS5_PBKDF2_HMAC(password.data(), static_cast<int>(password.size()),
                              reinterpret_cast<const unsigned char*>(salt.data()),
                              static_cast<int>(salt.size()), static_cast<int>(iterations), md, len,
                              key) != 1) {
            ERR_clear_error();
            throw MalformedHash("PBKDF2 computation failed");
        }
        std::string out = std::string(name_) + '$' + std::to_string(iterations) + '$' +
                          std::string(salt) + '$' +
                          b64::encode(key, static_cast<size_t>(len), true);
        OPENSSL_cleanse(key, sizeof key);
        return out;
    }

    const char* name_;
    const EVP_MD* (*md_)();
    HashParams params_;
    HashLimits limits_;
};

}  // namespace

std::unique_ptr<Hasher> make_pbkdf2_sha256(const HashParams& p, const HashLimits& l) {
    return std::make_unique<Pbkdf2Hasher>("pbkdf2_sha256", EVP_sha256, p, l);
}

std::unique_ptr<Hasher> make_pbkdf2_sha1(const HashParams& p, const HashLimits& l) {
    return std::make_unique<Pbkdf2Hasher>("pbkdf2_sha1", EVP_sha1, p, l);
}

}  // namespace dj
