// argon2 (Argon2PasswordHasher, Django 3.2+):
//
//   argon2$argon2id$v=19$m=<m>,t=<t>,p=<p>$<b64 salt>$<b64 hash>
//   argon2$argon2i$m=<m>,t=<t>,p=<p>$<b64 salt>$<b64 hash>     (no v=: version 0x10)
//
// The part after "argon2" is libargon2's own encoding (standard base64
// without padding). Django hands "$" + rest to argon2-cffi, which picks the
// type from the first 9 characters and calls argon2_verify(); libargon2 then
// decodes the string and compares raw tags. We parse the string the way
// libargon2's decode_string() does, so that what the check costs (m KiB of
// memory, t passes over it) is weighed against our limits before any memory
// is taken, then call libargon2's argon2_verify_ctx() with the same context
// argon2_verify() builds, except that at most kMaxThreads threads share the
// p lanes (the result does not depend on it: a value with p=65 or p=100000
// costs its memory and passes, not a thread per lane). Every tag and salt
// length, version (v=16, v=19, none) and type libargon2 takes verifies.
#include <argon2.h>

#include <openssl/crypto.h>

#include <algorithm>
#include <new>
#include <stdexcept>

#include "passwords/base64.h"
#include "passwords/hasher.h"

namespace dj {
namespace {

constexpr uint32_t kMaxThreads = 8;  // Django's p: its own values run as before

struct Phc {
    argon2_type type;
    uint32_t version = ARGON2_VERSION_10;  // when "v=" is absent
    uint32_t m = 0, t = 0, p = 0;
    std::string salt;  // bytes
    std::string tag;   // bytes
    size_t salt_len = 0;
    size_t hash_len = 0;
    ~Phc() {
        OPENSSL_cleanse(salt.data(), salt.size());
        OPENSSL_cleanse(tag.data(), tag.size());
    }
};

// libargon2's decode_decimal(): digits, no leading zero, fits in uint32_t.
bool take_u32(std::string_view& s, uint32_t& out) {
    size_t n = 0;
    uint64_t v = 0;
    while (n < s.size() && s[n] >= '0' && s[n] <= '9') {
        v = v * 10 + static_cast<unsigned>(s[n] - '0');
        if (v > UINT32_MAX) return false;
        ++n;
    }
    if (n == 0 || (s[0] == '0' && n > 1)) return false;
    out = static_cast<uint32_t>(v);
    s.remove_prefix(n);
    return true;
}

bool take(std::string_view& s, std::string_view prefix) {
    if (!s.starts_with(prefix)) return false;
    s.remove_prefix(prefix.size());
    return true;
}

// libargon2's from_base64(): the longest run of alphabet characters.
bool take_b64(std::string_view& s, std::string& bytes) {
    size_t n = 0;
    while (n < s.size()) {
        char c = s[n];
        bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                  c == '+' || c == '/';
        if (!ok) break;
        ++n;
    }
    if (!b64::decode(s.substr(0, n), bytes, false)) return false;
    s.remove_prefix(n);
    return true;
}

// `phc` is "$" + everything after "argon2". Throws MalformedHash.
Phc parse(std::string_view phc) {
    Phc r{};
    // argon2-cffi: PasswordHasher._header_to_type[hash[:9]]
    std::string_view head = phc.substr(0, 9);
    if (head == "$argon2i$")
        r.type = Argon2_i;
    else if (head == "$argon2d$")
        r.type = Argon2_d;
    else if (head == "$argon2id")
        r.type = Argon2_id;
    else
        throw MalformedHash("unknown argon2 variant");

    std::string_view s = phc;
    take(s, "$");
    take(s, argon2_type2string(r.type, 0));
    if (take(s, "$v=") && !take_u32(s, r.version)) throw MalformedHash("bad argon2 version");
    if (!take(s, "$m=") || !take_u32(s, r.m) || !take(s, ",t=") || !take_u32(s, r.t) ||
        !take(s, ",p=") || !take_u32(s, r.p))
        throw MalformedHash("bad argon2 parameters");
    if (!take(s, "$") || !take_b64(s, r.salt)) throw MalformedHash("bad argon2 salt");
    if (!take(s, "$") || !take_b64(s, r.tag)) throw MalformedHash("bad argon2 hash");
    if (!s.empty()) throw MalformedHash("trailing characters after the argon2 hash");
    r.salt_len = r.salt.size();
    r.hash_len = r.tag.size();
    return r;
}

class Argon2Hasher final : public Hasher {
public:
    Argon2Hasher(const HashParams& p, const HashLimits& l) : params_(p), limits_(l) {}

    const char* algorithm() const override { return "argon2"; }

    bool verify(std::string_view password, std::string_view encoded) const override {
        Phc h = parse_within(rest(encoded));
        if (h.tag.size() > UINT32_MAX || h.salt.size() > UINT32_MAX || password.size() > UINT32_MAX)
            throw MalformedHash("argon2 field too long");
        // argon2_verify(): decode_string() fills the context, then
        // argon2_verify_ctx() hashes into a fresh buffer and compares.
        std::string out(h.tag.size(), '\0');
        std::string pwd(password);
        argon2_context ctx{};
        ctx.out = reinterpret_cast<uint8_t*>(out.data());
        ctx.outlen = static_cast<uint32_t>(out.size());
        ctx.pwd = reinterpret_cast<uint8_t*>(pwd.data());
        ctx.pwdlen = static_cast<uint32_t>(pwd.size());
        ctx.salt = reinterpret_cast<uint8_t*>(h.salt.data());
        ctx.saltlen = static_cast<uint32_t>(h.salt.size());
        ctx.t_cost = h.t;
        ctx.m_cost = h.m;
        ctx.lanes = h.p;
        ctx.threads = h.p < kMaxThreads ? h.p : kMaxThreads;
        ctx.version = h.version;
        ctx.flags = ARGON2_DEFAULT_FLAGS;
        int rc = argon2_verify_ctx(&ctx, h.tag.data(), h.type);
        OPENSSL_cleanse(pwd.data(), pwd.size());
        OPENSSL_cleanse(out.data(), out.size());
        if (rc == ARGON2_OK) return true;
        if (rc == ARGON2_VERIFY_MISMATCH) return false;
        if (rc == ARGON2_MEMORY_ALLOCATION_ERROR) throw std::bad_alloc();
        // Static text from libargon2 ("Memory cost is too small", ...).
        throw MalformedHash(argon2_error_message(rc));
    }

    bool read_params(std::string_view encoded, HashParams& out) const override {
        Phc h = parse_within(rest(encoded));
        if (h.hash_len > 1024) return false;
        out.argon2_time = h.t;
        out.argon2_memory_kib = h.m;
        out.argon2_lanes = h.p;
        out.argon2_hash_len = static_cast<uint32_t>(h.hash_len);
        return true;
    }

    std::string encode(std::string_view password, std::string_view salt,
                       uint32_t work) const override {
        if (salt.empty() || salt.find('$') != std::string_view::npos)
            throw std::invalid_argument("argon2 salt must be non-empty and without '$'");
        const uint32_t t = work ? work : params_.argon2_time;
        const uint32_t m = params_.argon2_memory_kib, p = params_.argon2_lanes;
        const uint32_t hash_len = params_.argon2_hash_len;
        std::string out(
            argon2_encodedlen(t, m, p, static_cast<uint32_t>(salt.size()), hash_len, Argon2_id),
            '\0');
        int rc =
            argon2_hash(t, m, p, password.data(), password.size(), salt.data(), salt.size(),
                        nullptr, hash_len, out.data(), out.size(), Argon2_id, ARGON2_VERSION_13);
        if (rc != ARGON2_OK)
            throw std::invalid_argument(std::string("argon2: ") + argon2_error_message(rc));
        out.resize(out.find('\0'));
        return "argon2" + out;
    }

    // Django 3.2+: argon2.extract_parameters() differs from params() in type,
    // version, hash length, t, m or p, or the salt is under 22 bytes.
    bool must_update(std::string_view encoded) const override {
        Phc h = parse(rest(encoded));
        return h.type != Argon2_id || h.version != ARGON2_VERSION_13 ||
               h.hash_len != params_.argon2_hash_len || h.t != params_.argon2_time ||
               h.m != params_.argon2_memory_kib || h.p != params_.argon2_lanes ||
               salt_too_short(h.salt_len);
    }

private:
    // parse(), and what the check costs within the limits. m below 8p is
    // libargon2's to refuse (it then allocates 8p KiB): counted as such.
    Phc parse_within(const std::string& phc) const {
        Phc h = parse(phc);
        const char* why = nullptr;
        const uint64_t m = std::max<uint64_t>(h.m, uint64_t{8} * h.p);
        if (!argon2_within(limits_, h.t, m, &why)) throw MalformedHash(why);
        return h;
    }

    // algorithm, rest = encoded.split('$', 1); "$" + rest. argon2-cffi
    // insists on ASCII, then hands libargon2 a C string: a NUL ends it there.
    static std::string rest(std::string_view encoded) {
        size_t dollar = encoded.find('$');
        if (dollar == std::string_view::npos) throw MalformedHash("missing '$'");
        for (char c : encoded)
            if (static_cast<unsigned char>(c) >= 0x80) throw MalformedHash("non-ASCII character");
        std::string_view phc = encoded.substr(dollar);
        return std::string(phc.substr(0, phc.find('\0')));
    }

    HashParams params_;
    HashLimits limits_;
};

}  // namespace

std::unique_ptr<Hasher> make_argon2(const HashParams& p, const HashLimits& l) {
    return std::make_unique<Argon2Hasher>(p, l);
}

}  // namespace dj
