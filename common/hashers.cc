// The hasher registry and Django's check_password()/make_password() logic
// (django/contrib/auth/hashers.py, 3.2+ with the CVE-2024-39329 fix).
// The algorithms themselves live in hasher_*.cc.
#include "common/hashers.h"

#include <openssl/crypto.h>
#include <openssl/rand.h>

#include <new>
#include <stdexcept>

#include "common/hasher.h"

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

Hashers::Hashers(const std::vector<std::string>& names, HashParams params, HashLimits limits)
    : params_(params), limits_(limits) {
    if (names.empty()) throw std::invalid_argument("no password hashers given");
    for (const std::string& name : names) {
        const Entry* e = registry_find(name);
        if (!e) throw std::invalid_argument("unknown password hasher: " + name);
        for (const std::string& seen : names_)
            if (seen == name) throw std::invalid_argument("password hasher listed twice: " + name);
        names_.push_back(name);
        hashers_.push_back(e->make(params_, limits_));
    }
}

Hashers::~Hashers() = default;
Hashers::Hashers(Hashers&&) noexcept = default;
Hashers& Hashers::operator=(Hashers&&) noexcept = default;

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
    try {
        // is_password_usable(): anything starting with '!' never verifies,
        // including '!' in front of a valid hash (a locked account).
        const bool unusable = encoded.starts_with('!');
        const Hasher* hasher = nullptr;
        std::string algorithm;
        if (!unusable) {
            algorithm = identify_algorithm(encoded);
            for (size_t i = 0; i < names_.size(); ++i)
                if (names_[i] == algorithm) hasher = hashers_[i].get();
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
            dummy_hash(password);
            return r;
        }
        r.algorithm = hasher->algorithm();
        const Hasher& preferred_hasher = *hashers_.front();
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
        dummy_hash(password);
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
    const Hasher& h = *hashers_.front();
    return h.encode(password, h.salt(), 0);
}

std::string Hashers::encode_with(std::string_view algorithm, std::string_view password,
                                 uint32_t work) const {
    for (size_t i = 0; i < names_.size(); ++i) {
        if (names_[i] == algorithm) {
            const Hasher& h = *hashers_[i];
            return h.encode(password, h.salt(), work);
        }
    }
    throw std::invalid_argument("password hasher not enabled: " + std::string(algorithm));
}

void Hashers::dummy_hash(std::string_view password) const {
    try {
        std::string s = encode(password);
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
