// Django's password hashers, verified and created exactly as Django does
// (django/contrib/auth/hashers.py, 3.2 and later). Used by django-authd and
// django-authctl only: never linked into the PAM or NSS modules.
//
// Formats, parameters by Django version and the identify rules are described
// in README.md ("Password hashes") and the comments of each hasher_*.cc file.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace dj {

// Bounds on what a stored value may ask of us. A value beyond them is a
// non-match with a reason, never a crash or a hang.
struct HashLimits {
    uint64_t max_pbkdf2_iterations = 100'000'000;
    uint32_t max_argon2_memory_kib = 1024 * 1024;   // 1 GiB
    uint32_t max_argon2_time = 1024;
    uint32_t max_argon2_lanes = 64;
    uint64_t max_scrypt_memory = 256ull * 1024 * 1024;  // 128 * n * r bytes (+ p work)
    uint32_t max_scrypt_parallelism = 64;
    uint32_t max_bcrypt_rounds = 16;
};

// Parameters used when *creating* hashes (Django 6.0's defaults).
struct HashParams {
    uint32_t pbkdf2_iterations = 1'200'000;
    uint32_t argon2_time = 2;
    uint32_t argon2_memory_kib = 102400;
    uint32_t argon2_lanes = 8;
    uint32_t argon2_hash_len = 32;   // argon2-cffi >= 21.2
    uint32_t bcrypt_rounds = 12;
    uint32_t scrypt_n = 1u << 14;
    uint32_t scrypt_r = 8;
    uint32_t scrypt_p = 5;           // Django 5.1+
};

enum class VerifyStatus {
    Match,      // the password is right
    Mismatch,   // well-formed value, wrong password
    Unusable,   // starts with '!' (set_unusable_password)
    Unknown,    // no enabled hasher claims it (Django: ValueError -> False)
    Malformed,  // claimed by a hasher but cannot be parsed, or over a limit
};

struct VerifyResult {
    VerifyStatus status = VerifyStatus::Malformed;
    bool must_update = false;  // Django's must_update (only meaningful on Match)
    std::string algorithm;     // the hasher that claimed the value, if any
    std::string reason;        // for logs; never contains the password or hash
    bool ok() const { return status == VerifyStatus::Match; }
};

class Hasher;  // one per algorithm, in hasher_*.cc

// An ordered list of enabled hashers, like Django's PASSWORD_HASHERS: the
// first is the preferred one (used by encode() and for the dummy hash).
class Hashers {
public:
    // Names are Django's algorithm names ("pbkdf2_sha256", "argon2", ...).
    // Throws std::invalid_argument naming an unknown or duplicate algorithm.
    Hashers(const std::vector<std::string>& names, HashParams params = {}, HashLimits limits = {});
    ~Hashers();
    Hashers(Hashers&&) noexcept;
    Hashers& operator=(Hashers&&) noexcept;

    // Django's default list: pbkdf2_sha256, pbkdf2_sha1, argon2, bcrypt_sha256, scrypt.
    static std::vector<std::string> default_names();
    // Every algorithm this library knows, preferred first.
    static std::vector<std::string> all_names();

    // check_password(): identify, verify, and must_update against the
    // preferred hasher. On a Mismatch by the preferred algorithm with outdated
    // parameters, runs Django's harden_runtime. Every failure costs one hash
    // and only one: an Unusable, Unknown or Malformed value runs the dummy
    // hash here (callers must not run another).
    VerifyResult verify(std::string_view password, std::string_view encoded) const;

    // make_password() with the preferred hasher and a fresh 22-char salt.
    std::string encode(std::string_view password) const;
    // make_password() with a named enabled hasher; iterations (pbkdf2) or
    // rounds (bcrypt) or time cost (argon2) when non-zero. Throws
    // std::invalid_argument for an unknown/disabled algorithm.
    std::string encode_with(std::string_view algorithm, std::string_view password,
                            uint32_t work = 0) const;

    // One hash with the preferred hasher, result discarded: what Django does
    // for an unknown or inactive user so timing does not tell who exists.
    void dummy_hash(std::string_view password) const;

    const std::string& preferred() const;
    const std::vector<std::string>& names() const { return names_; }

private:
    std::vector<std::string> names_;
    std::vector<std::unique_ptr<Hasher>> hashers_;
    HashParams params_;
    HashLimits limits_;
};

// Django's get_random_string(n) over [a-zA-Z0-9], from a CSPRNG.
std::string random_salt(size_t n = 22);

// Constant-time equality (CRYPTO_memcmp), false when lengths differ.
bool constant_time_equal(std::string_view a, std::string_view b) noexcept;

// Overwrite a string's bytes before it is freed.
void wipe(std::string& s) noexcept;

}  // namespace dj
