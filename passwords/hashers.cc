// The hasher registry and Django's check_password()/make_password() logic
// (django/contrib/auth/hashers.py, 3.2+ with the CVE-2024-39329 fix).
// The algorithms themselves live in hasher_*.cc.
#include "passwords/hashers.h"

#include <openssl/crypto.h>
#include <openssl/rand.h>

#include <mutex>
#include <new>
#include <stdexcept>

#include "passwords/hasher.h"

namespace dj {
namespace {

using Factory = std::unique_ptr<Hasher> (*)(const HashParams&, const HashLimits&);

struct Entry {
    const char* name;
    Factory make;
};

// Every algorithm we know, preferred first (all_names() keeps this order).
constexpr Entry kRegistry[] = {
    {"pbkdf2_sha256", make_pbkdf2_sha256},
    {"pbkdf2_sha1", make_pbkdf2_sha1},
    {"argon2", make_argon2},
    {"bcrypt_sha256", make_bcrypt_sha256},
    {"scrypt", make_scrypt},
    {"bcrypt", make_bcrypt},
    {"sha1", make_sha1},
    {"md5", make_md5},
    {"unsalted_sha1", make_unsalted_sha1},
    {"unsalted_md5", make_unsalted_md5},
    {"crypt", make_crypt},
};

const Entry* registry_find(std::string_view name) {
    for (const Entry& e : kRegistry)
        if (name == e.name) return &e;
    return nullptr;
}

}  // namespace

size_t utf8_chars(std::string_view s) {
    size_t n = 0;
    for (unsigned char c : s)
        if ((c & 0xC0) != 0x80) ++n;
    return n;
}

std::vector<std::string_view> split(std::string_view s, char sep, size_t maxsplit) {
    std::vector<std::string_view> parts;
    while (parts.size() < maxsplit) {
        size_t pos = s.find(sep);
        if (pos == std::string_view::npos) break;
        parts.push_back(s.substr(0, pos));
        s.remove_prefix(pos + 1);
    }
    parts.push_back(s);
    return parts;
}

std::string identify_algorithm(std::string_view encoded) {
    const size_t chars = utf8_chars(encoded);
    if ((chars == 32 && encoded.find('$') == std::string_view::npos) ||
        (chars == 37 && encoded.starts_with("md5$$")))
        return "unsalted_md5";
    if (chars == 46 && encoded.starts_with("sha1$$")) return "unsalted_sha1";
    return std::string(encoded.substr(0, encoded.find('$')));
}

bool salt_too_short(size_t salt_chars) {
    // len(salt) * log2(62) < 128  <=>  len(salt) < 22
    return salt_chars < 22;
}

bool parse_canonical_uint(std::string_view s, uint64_t max, uint64_t& out) {
    if (s.empty() || s.size() > 20) return false;
    if (s.size() > 1 && s[0] == '0') return false;
    uint64_t v = 0;
    for (char c : s) {
        if (c < '0' || c > '9') return false;
        unsigned d = static_cast<unsigned>(c - '0');
        if (v > (UINT64_MAX - d) / 10) return false;
        v = v * 10 + d;
    }
    if (v > max) return false;
    out = v;
    return true;
}

std::string hex_lower(const unsigned char* p, size_t n) {
    static constexpr char kHex[] = "0123456789abcdef";
    std::string s(n * 2, '\0');
    for (size_t i = 0; i < n; ++i) {
        s[2 * i] = kHex[p[i] >> 4];
        s[2 * i + 1] = kHex[p[i] & 15];
    }
    return s;
}

bool argon2_within(const HashLimits& l, uint64_t t, uint64_t m_kib, const char** why) {
    uint64_t bytes = 0, work = 0;
    if (__builtin_mul_overflow(m_kib, uint64_t{1024}, &bytes) || bytes > l.max_memory) {
        *why = "argon2 memory over the limit";
        return false;
    }
    if (__builtin_mul_overflow(t, m_kib, &work) || work > l.max_argon2_work) {
        *why = "argon2 work (passes x memory) over the limit";
        return false;
    }
    return true;
}

bool scrypt_within(const HashLimits& l, uint64_t n, uint64_t r, uint64_t p, const char** why) {
    // OpenSSL's reckoning: 128 * r * (n + 2) bytes for V, 128 * r * p for B.
    uint64_t unit = 0, np2 = 0, bytes = 0, nr = 0, work = 0;
    if (__builtin_mul_overflow(r, uint64_t{128}, &unit) || __builtin_add_overflow(n, p, &np2) ||
        __builtin_add_overflow(np2, uint64_t{2}, &np2) || __builtin_mul_overflow(unit, np2, &bytes) ||
        bytes > l.max_memory) {
        *why = "scrypt memory over the limit";
        return false;
    }
    if (__builtin_mul_overflow(n, r, &nr) || __builtin_mul_overflow(nr, p, &work) ||
        work > l.max_scrypt_work) {
        *why = "scrypt work (N x r x p) over the limit";
        return false;
    }
    return true;
}

// The hashers with one set of parameters. Replaced whole by set_params(), so
// that a check never sees half of the old parameters and half of the new.
struct Hashers::State {
    HashParams params;
    std::vector<std::unique_ptr<Hasher>> hashers;
};

struct Hashers::Shared {
    std::mutex mutex;
    std::shared_ptr<const State> state;
};

Hashers::Hashers(const std::vector<std::string>& names, HashParams params, HashLimits limits)
    : limits_(limits), shared_(std::make_unique<Shared>()) {
    if (names.empty()) throw std::invalid_argument("no password hashers given");
    for (const std::string& name : names) {
        if (!registry_find(name)) throw std::invalid_argument("unknown password hasher: " + name);
        for (const std::string& seen : names_)
            if (seen == name) throw std::invalid_argument("password hasher listed twice: " + name);
        names_.push_back(name);
    }
    set_params(params);
}

Hashers::~Hashers() = default;
Hashers::Hashers(Hashers&&) noexcept = default;
Hashers& Hashers::operator=(Hashers&&) noexcept = default;

void Hashers::set_params(const HashParams& params) {
    auto st = std::make_shared<State>();
    st->params = params;
    for (const std::string& name : names_) st->hashers.push_back(registry_find(name)->make(params, limits_));
    std::lock_guard<std::mutex> lock(shared_->mutex);
    shared_->state = std::move(st);
}

std::shared_ptr<const Hashers::State> Hashers::state() const {
    std::lock_guard<std::mutex> lock(shared_->mutex);
    return shared_->state;
}

HashParams Hashers::params() const { return state()->params; }

SiteScan::SiteScan(HashLimits limits) {
    const HashParams p;
    for (const char* name : {"pbkdf2_sha256", "pbkdf2_sha1", "argon2", "bcrypt_sha256", "bcrypt", "scrypt"})
        parsers_.push_back(registry_find(name)->make(p, limits));
}

SiteScan::~SiteScan() = default;

void SiteScan::add(std::string_view encoded) {
    r_.values++;
    if (encoded.starts_with('!')) return;
    const std::string algorithm = identify_algorithm(encoded);
    const Hasher* parser = nullptr;
    for (const auto& h : parsers_)
        if (algorithm == h->algorithm()) parser = h.get();
    if (!parser) return;
    HashParams v;
    try {
        if (!parser->read_params(encoded, v)) return;
    } catch (const MalformedHash&) {
        return;
    }
    HashParams& b = r_.best;
    if (algorithm.starts_with("pbkdf2_")) {
        if (!r_.pbkdf2++ || v.pbkdf2_iterations > b.pbkdf2_iterations) b.pbkdf2_iterations = v.pbkdf2_iterations;
    } else if (algorithm == "argon2") {
        const uint64_t cost = uint64_t{v.argon2_time} * v.argon2_memory_kib;
        const uint64_t best = uint64_t{b.argon2_time} * b.argon2_memory_kib;
        if (!r_.argon2++ || cost > best || (cost == best && v.argon2_lanes > b.argon2_lanes)) {
            b.argon2_time = v.argon2_time;
            b.argon2_memory_kib = v.argon2_memory_kib;
            b.argon2_lanes = v.argon2_lanes;
            b.argon2_hash_len = v.argon2_hash_len;
        }
    } else if (algorithm.starts_with("bcrypt")) {
        if (!r_.bcrypt++ || v.bcrypt_rounds > b.bcrypt_rounds) b.bcrypt_rounds = v.bcrypt_rounds;
    } else if (algorithm == "scrypt") {
        const uint64_t cost = uint64_t{v.scrypt_n} * v.scrypt_r * v.scrypt_p;
        const uint64_t best = uint64_t{b.scrypt_n} * b.scrypt_r * b.scrypt_p;
        if (!r_.scrypt++ || cost > best) {
            b.scrypt_n = v.scrypt_n;
            b.scrypt_r = v.scrypt_r;
            b.scrypt_p = v.scrypt_p;
        }
    }
}

std::vector<std::string> Hashers::default_names() {
    return {"pbkdf2_sha256", "pbkdf2_sha1", "argon2", "bcrypt_sha256", "scrypt"};
}

std::vector<std::string> Hashers::all_names() {
    std::vector<std::string> v;
    for (const Entry& e : kRegistry) v.emplace_back(e.name);
    return v;
}

const std::string& Hashers::preferred() const {
    return names_.front();
}

VerifyResult Hashers::verify(std::string_view password, std::string_view encoded) const {
    VerifyResult r;
    const std::shared_ptr<const State> st = state();
    const auto& hashers = st->hashers;
    try {
        // is_password_usable(): anything starting with '!' never verifies,
        // including '!' in front of a valid hash (a locked account).
        const bool unusable = encoded.starts_with('!');
        const Hasher* hasher = nullptr;
        std::string algorithm;
        if (!unusable) {
            algorithm = identify_algorithm(encoded);
            for (size_t i = 0; i < names_.size(); ++i)
                if (names_[i] == algorithm) hasher = hashers[i].get();
        }
        if (!hasher) {
            if (unusable) {
                r.status = VerifyStatus::Unusable;
                r.reason = "unusable password";
            } else {
                r.status = VerifyStatus::Unknown;
                // Only a name we know may be echoed: an unknown "algorithm"
                // could be a plaintext password stored by mistake.
                if (encoded.empty())
                    r.reason = "empty password field";
                else if (registry_find(algorithm))
                    r.reason = "password hasher " + algorithm + " is not enabled";
                else
                    r.reason = "no enabled password hasher recognizes the value";
            }
            // Django runs the preferred hasher once here, so that an unusable
            // or unknown value costs as much as a real check.
            dummy_hash(*st, password);
            return r;
        }
        r.algorithm = hasher->algorithm();
        const Hasher& preferred_hasher = *hashers.front();
        const bool hasher_changed = hasher != &preferred_hasher;
        const bool must_update = hasher_changed || preferred_hasher.must_update(encoded);
        const bool correct = hasher->verify(password, encoded);
        if (!correct && !hasher_changed && must_update) hasher->harden_runtime(password, encoded);
        r.status = correct ? VerifyStatus::Match : VerifyStatus::Mismatch;
        r.must_update = correct && must_update;
        if (!correct) r.reason = "password does not match";
    } catch (const MalformedHash& e) {
        r.status = VerifyStatus::Malformed;
        r.must_update = false;
        r.reason = r.algorithm.empty() ? e.what() : r.algorithm + ": " + e.what();
        // Refused while parsing, before any hashing: costs one hash too.
        dummy_hash(*st, password);
    } catch (const std::bad_alloc&) {
        r.status = VerifyStatus::Malformed;
        r.must_update = false;
        r.reason = "out of memory while checking the password";
    } catch (...) {
        r.status = VerifyStatus::Malformed;
        r.must_update = false;
        r.reason = "internal error while checking the password";
    }
    return r;
}

std::string Hashers::encode(std::string_view password) const {
    const std::shared_ptr<const State> st = state();
    const Hasher& h = *st->hashers.front();
    return h.encode(password, h.salt(), 0);
}

std::string Hashers::encode_with(std::string_view algorithm, std::string_view password,
                                 uint32_t work) const {
    const std::shared_ptr<const State> st = state();
    for (size_t i = 0; i < names_.size(); ++i) {
        if (names_[i] == algorithm) {
            const Hasher& h = *st->hashers[i];
            return h.encode(password, h.salt(), work);
        }
    }
    throw std::invalid_argument("password hasher not enabled: " + std::string(algorithm));
}

void Hashers::dummy_hash(std::string_view password) const { dummy_hash(*state(), password); }

void Hashers::dummy_hash(const State& st, std::string_view password) {
    try {
        const Hasher& h = *st.hashers.front();
        std::string s = h.encode(password, h.salt(), 0);
        wipe(s);
    } catch (...) {
        // Only timing is at stake; nothing to report.
    }
}

std::string random_salt(size_t n) {
    static constexpr char kChars[] =
        "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
    std::string out;
    out.reserve(n);
    unsigned char buf[64];
    while (out.size() < n) {
        if (RAND_bytes(buf, sizeof buf) != 1) throw std::runtime_error("RAND_bytes failed");
        for (unsigned char b : buf) {
            // 248 = 4 * 62: dropping 248..255 keeps every character equally likely.
            if (b < 248 && out.size() < n) out += kChars[b % 62];
        }
    }
    OPENSSL_cleanse(buf, sizeof buf);
    return out;
}

bool constant_time_equal(std::string_view a, std::string_view b) noexcept {
    if (a.size() != b.size()) return false;
    if (a.empty()) return true;
    return CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

void wipe(std::string& s) noexcept {
    if (!s.empty()) OPENSSL_cleanse(s.data(), s.size());
    s.clear();
}

}  // namespace dj
