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

// Bounds on what one check may cost, whatever parameters the stored value
// names: memory, and work in each algorithm's own unit. A value beyond them
// is a non-match with a reason, refused before any work is done, never a
// crash or a hang. Each parameter on its own may take any value the
// algorithm's library accepts (argon2 p=65, scrypt p=100, ...) as long as the
// cost stays inside. The defaults admit every value Django's defaults of any
// version write with a wide margin (README, "Password hashes").
struct HashLimits {
    // Bytes one check may allocate: argon2's m KiB, scrypt's 128*r*(N+p+2)
    // (which OpenSSL also caps at 32 MiB, as Django calls it), yescrypt's.
    uint64_t max_memory = 1024ull * 1024 * 1024;  // 1 GiB; Django: argon2 100 MiB
    // pbkdf2 iterations (also SHA-crypt and sha1crypt rounds).
    uint64_t max_pbkdf2_iterations = 100'000'000;  // Django 6.0: 1,200,000
    // argon2 passes x memory, in KiB: t * m.
    uint64_t max_argon2_work = 4ull * 1024 * 1024;  // 4 GiB passes; Django: 2 x 100 MiB
    // bcrypt's log2 of the rounds: 2^rounds.
    uint32_t max_bcrypt_rounds = 16;  // Django: 12
    // scrypt N * r * p (yescrypt's N * r * p * (t + 1)).
    uint64_t max_scrypt_work = 1ull << 24;  // Django 5.1+: 2^14 * 8 * 5
};

// What a check of a value with these parameters would cost, and whether the
// limits let it run. `why` gets a fixed reason (never the value) when not.
bool argon2_within(const HashLimits& l, uint64_t t, uint64_t m_kib, const char** why);
bool scrypt_within(const HashLimits& l, uint64_t n, uint64_t r, uint64_t p, const char** why);

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

    // The parameters new hashes, must_update, harden_runtime and the dummy
    // hash use. set_params() replaces them for every later call; a check
    // already running finishes with the ones it started with. Thread-safe.
    HashParams params() const;
    void set_params(const HashParams& params);
    const HashLimits& limits() const { return limits_; }

private:
    struct State;
    std::shared_ptr<const State> state() const;
    static void dummy_hash(const State& st, std::string_view password);

    std::vector<std::string> names_;
    HashLimits limits_;
    struct Shared;
    std::unique_ptr<Shared> shared_;
};

// The parameters a site's Django uses, read off its stored values: for each
// family (pbkdf2_sha256 and pbkdf2_sha1; argon2; bcrypt_sha256 and bcrypt;
// scrypt) those of its strongest value (Django only ever raises them).
// Unusable, malformed and over-limit values, and other algorithms, count
// for nothing. Only the parameters are read: no hashing, and nothing of the
// value is kept or logged.
struct SiteParams {
    HashParams best;  // meaningful for the families whose count is non-zero
    size_t pbkdf2 = 0, argon2 = 0, bcrypt = 0, scrypt = 0;  // values read per family
    size_t values = 0;                                      // values seen in all
};

class SiteScan {
public:
    explicit SiteScan(HashLimits limits = {});
    ~SiteScan();
    SiteScan(const SiteScan&) = delete;
    SiteScan& operator=(const SiteScan&) = delete;
    void add(std::string_view encoded);
    const SiteParams& result() const { return r_; }

private:
    std::vector<std::unique_ptr<Hasher>> parsers_;
    SiteParams r_;
};

// Django's get_random_string(n) over [a-zA-Z0-9], from a CSPRNG.
std::string random_salt(size_t n = 22);

// Constant-time equality (CRYPTO_memcmp), false when lengths differ.
bool constant_time_equal(std::string_view a, std::string_view b) noexcept;

// Overwrite a string's bytes before it is freed.
void wipe(std::string& s) noexcept;

}  // namespace dj
