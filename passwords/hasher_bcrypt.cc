// bcrypt_sha256 and bcrypt (BCryptSHA256PasswordHasher, BCryptPasswordHasher):
//
//   bcrypt_sha256$$2b$12$<22 salt><31 hash>     input: 64 hex chars of SHA-256(password)
//   bcrypt$$2b$12$<22 salt><31 hash>            input: the password (first 72 bytes)
//
// Note the double '$': the value is algorithm + '$' + bcrypt.hashpw(...).
// Django verifies with hashpw(input, data) and compares whole strings.
// pyca/bcrypt (what Django uses) accepts the $2a$, $2b$ and $2y$ prefixes,
// hashes all three as $2b$ after cutting the input to 72 bytes, and echoes
// the stored prefix back. libxcrypt's $2a$ has a countermeasure for an old
// sign-extension bug that changes a few 8-bit passwords, so we always ask
// libxcrypt for $2b$ and restore the prefix ourselves, like pyca does.
#include <crypt.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include <stdexcept>

#include "passwords/hasher.h"

namespace dj {
namespace {

constexpr size_t kSettingLen = 29;  // "$2b$12$" + 22 salt characters
constexpr size_t kHashLen = 60;

bool bcrypt_b64_char(char c) {
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' ||
           c == '/';
}

class BcryptHasher final : public Hasher {
public:
    BcryptHasher(bool sha256, const HashParams& p, const HashLimits& l)
        : sha256_(sha256), params_(p), limits_(l) {}

    const char* algorithm() const override { return sha256_ ? "bcrypt_sha256" : "bcrypt"; }

    bool verify(std::string_view password, std::string_view encoded) const override {
        std::string_view data = decode(encoded).data;
        std::string again = hashpw(password, data);
        bool same =
            !again.empty() && constant_time_equal(encoded, std::string(algorithm()) + '$' + again);
        wipe(again);
        return same;
    }

    std::string salt() const override {
        unsigned char rnd[16];
        if (RAND_bytes(rnd, sizeof rnd) != 1) throw std::runtime_error("RAND_bytes failed");
        char out[CRYPT_GENSALT_OUTPUT_SIZE];
        const char* s =
            crypt_gensalt_rn("$2b$", params_.bcrypt_rounds, reinterpret_cast<const char*>(rnd),
                             sizeof rnd, out, sizeof out);
        OPENSSL_cleanse(rnd, sizeof rnd);
        if (!s) throw std::invalid_argument("bcrypt: cannot make a salt with these rounds");
        return s;
    }

    std::string encode(std::string_view password, std::string_view salt,
                       uint32_t work) const override {
        std::string setting(salt);
        if (work) {
            if (work < 4 || work > 31) throw std::invalid_argument("bcrypt rounds must be 4..31");
            if (setting.size() < kSettingLen) throw std::invalid_argument("bcrypt salt too short");
            char buf[3];
            buf[0] = static_cast<char>('0' + work / 10);
            buf[1] = static_cast<char>('0' + work % 10);
            buf[2] = '\0';
            setting.replace(4, 2, buf);
        }
        std::string h = hashpw(password, setting);
        if (h.empty()) throw std::invalid_argument("bcrypt: invalid salt or password with NUL");
        return std::string(algorithm()) + '$' + h;
    }

    bool must_update(std::string_view encoded) const override {
        return decode(encoded).rounds != params_.bcrypt_rounds;
    }

    bool read_params(std::string_view encoded, HashParams& out) const override {
        out.bcrypt_rounds = decode(encoded).rounds;
        return true;
    }

    // Django: 2**(self.rounds - rounds) - 1 extra hashes with the stored salt.
    void harden_runtime(std::string_view password, std::string_view encoded) const override {
        Decoded d = decode(encoded);
        if (d.rounds >= params_.bcrypt_rounds) return;
        uint64_t extra = (uint64_t{1} << (params_.bcrypt_rounds - d.rounds)) - 1;
        std::string_view setting = d.data.substr(0, kSettingLen);
        for (uint64_t i = 0; i < extra; ++i) {
            std::string h = hashpw(password, setting);
            wipe(h);
        }
    }

private:
    struct Decoded {
        std::string_view data;  // "$2b$12$..."
        uint32_t rounds;
    };

    // The checks of pyca/bcrypt's hashpw() on the salt, plus our rounds limit.
    Decoded decode(std::string_view encoded) const {
        auto f = split(encoded, '$', 1);
        if (f.size() != 2) throw MalformedHash("missing '$'");
        Decoded d{f[1], 0};
        std::string_view s = d.data;
        for (char c : s)
            if (static_cast<unsigned char>(c) >= 0x80) throw MalformedHash("non-ASCII character");
        if (s.size() < kSettingLen) throw MalformedHash("bcrypt value too short");
        if (!(s.starts_with("$2a$") || s.starts_with("$2b$") || s.starts_with("$2y$")))
            throw MalformedHash("not a $2a$, $2b$ or $2y$ bcrypt value");
        if (s[4] < '0' || s[4] > '9' || s[5] < '0' || s[5] > '9' || s[6] != '$')
            throw MalformedHash("bad bcrypt rounds");
        d.rounds = static_cast<uint32_t>((s[4] - '0') * 10 + (s[5] - '0'));
        if (d.rounds < 4 || d.rounds > 31) throw MalformedHash("bcrypt rounds out of range");
        if (d.rounds > limits_.max_bcrypt_rounds)
            throw MalformedHash("bcrypt rounds over the limit");
        for (size_t i = 7; i < kSettingLen; ++i)
            if (!bcrypt_b64_char(s[i])) throw MalformedHash("bad bcrypt salt");
        return d;
    }

    // bcrypt.hashpw(input, data): 60 characters, or empty when pyca/bcrypt
    // would raise (a NUL in the input, an invalid salt).
    std::string hashpw(std::string_view password, std::string_view data) const {
        std::string input;
        if (sha256_) {
            unsigned char md[32];
            unsigned int len = 0;
            if (EVP_Digest(password.data(), password.size(), md, &len, EVP_sha256(), nullptr) != 1)
                throw MalformedHash("SHA-256 failed");
            input = hex_lower(md, len);
            OPENSSL_cleanse(md, sizeof md);
        } else {
            // pyca/bcrypt refuses a NUL anywhere, then keeps 72 bytes.
            if (password.find('\0') != std::string_view::npos) return {};
            input.assign(password.substr(0, 72));
        }
        if (data.size() < kSettingLen) return {};
        std::string setting = "$2b$" + std::string(data.substr(4, kSettingLen - 4));
        std::string out = crypt_call(input, setting);
        wipe(input);
        if (out.size() != kHashLen) {
            wipe(out);
            return {};
        }
        out.replace(0, 4, data.substr(0, 4));
        return out;
    }

    bool sha256_;
    HashParams params_;
    HashLimits limits_;
};

}  // namespace

std::unique_ptr<Hasher> make_bcrypt_sha256(const HashParams& p, const HashLimits& l) {
    return std::make_unique<BcryptHasher>(true, p, l);
}

std::unique_ptr<Hasher> make_bcrypt(const HashParams& p, const HashLimits& l) {
    return std::make_unique<BcryptHasher>(false, p, l);
}

}  // namespace dj
