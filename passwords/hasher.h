// The internal interface of one password hasher (one per algorithm, in
// hasher_*.cc), mirroring Django's BasePasswordHasher. Only hashers.cc and the
// unit tests include this; everyone else uses passwords/hashers.h.
#pragma once

#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "passwords/hashers.h"

namespace dj {

// Thrown by a hasher when a stored value cannot be parsed or is over a limit.
// The message is a fixed description: never the password or any part of the
// stored value. Hashers::verify() turns it into VerifyStatus::Malformed.
class MalformedHash : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

class Hasher {
public:
    virtual ~Hasher() = default;

    // Django's algorithm name: the text before the first '$' of its values.
    virtual const char* algorithm() const = 0;

    // hasher.verify(): true on a match. Throws MalformedHash.
    virtual bool verify(std::string_view password, std::string_view encoded) const = 0;

    // hasher.encode(password, salt) with the work factor `work` (0: the
    // configured one). Throws std::invalid_argument for a bad salt or work.
    virtual std::string encode(std::string_view password, std::string_view salt,
                               uint32_t work) const = 0;

    // hasher.salt(): 22 chars of [a-zA-Z0-9] unless the hasher says otherwise.
    virtual std::string salt() const { return random_salt(22); }

    // hasher.must_update(encoded) as the *preferred* hasher. Throws MalformedHash.
    virtual bool must_update(std::string_view /*encoded*/) const { return false; }

    // The work parameters of a stored value, into the fields of `out` this
    // algorithm uses (pbkdf2 iterations, argon2 t/m/p/tag length, bcrypt
    // rounds, scrypt n/r/p), checked against the limits, without hashing.
    // false for an algorithm without parameters. Throws MalformedHash.
    virtual bool read_params(std::string_view /*encoded*/, HashParams& /*out*/) const { return false; }

    // hasher.harden_runtime(): extra work after a failed verify of an
    // outdated value, so the timing does not tell the parameters apart.
    virtual void harden_runtime(std::string_view /*password*/, std::string_view /*encoded*/) const {
    }
};

// Factories, one per hasher_*.cc file. They keep copies of params and limits.
std::unique_ptr<Hasher> make_pbkdf2_sha256(const HashParams&, const HashLimits&);
std::unique_ptr<Hasher> make_pbkdf2_sha1(const HashParams&, const HashLimits&);
std::unique_ptr<Hasher> make_argon2(const HashParams&, const HashLimits&);
std::unique_ptr<Hasher> make_bcrypt_sha256(const HashParams&, const HashLimits&);
std::unique_ptr<Hasher> make_bcrypt(const HashParams&, const HashLimits&);
std::unique_ptr<Hasher> make_scrypt(const HashParams&, const HashLimits&);
std::unique_ptr<Hasher> make_sha1(const HashParams&, const HashLimits&);
std::unique_ptr<Hasher> make_md5(const HashParams&, const HashLimits&);
std::unique_ptr<Hasher> make_unsalted_sha1(const HashParams&, const HashLimits&);
std::unique_ptr<Hasher> make_unsalted_md5(const HashParams&, const HashLimits&);
std::unique_ptr<Hasher> make_crypt(const HashParams&, const HashLimits&);

// Django's identify_hasher(): the algorithm name a stored value claims
// (before looking it up among the enabled hashers).
std::string identify_algorithm(std::string_view encoded);

// Django's must_update_salt(salt, 128): fewer than 22 characters.
bool salt_too_short(size_t salt_chars);

// Strict decimal as Python's "%d" prints it: digits only, no sign, no
// leading zero (except "0" itself), at most `max`. False otherwise.
bool parse_canonical_uint(std::string_view s, uint64_t max, uint64_t& out);

// Python's str.split(sep, maxsplit).
std::vector<std::string_view> split(std::string_view s, char sep, size_t maxsplit);

// Python's len() of the str Django holds: code points of the UTF-8 text.
size_t utf8_chars(std::string_view s);

// Lowercase hex of bytes (Python's hexdigest()).
std::string hex_lower(const unsigned char* p, size_t n);

// Thread-safe libcrypt call (crypt_rn); empty result on failure. Rejects a
// phrase containing NUL (Python's crypt and bcrypt refuse those).
std::string crypt_call(std::string_view phrase, const std::string& setting);

}  // namespace dj
