// The legacy single-digest hashers, verified by re-encoding and comparing
// whole strings as Django does (so uppercase hex never matches):
//
//   md5$<salt>$<32 hex of MD5(salt + password)>          salted md5
//   sha1$<salt>$<40 hex of SHA1(salt + password)>        salted sha1
//   <32 hex of MD5(password)>  or  md5$$<32 hex>         unsalted_md5
//   sha1$$<40 hex of SHA1(password)>                     unsalted_sha1
//
// Which of them claims a value is decided by identify_algorithm() (the
// 32/37/46-character rules); "md5$$<not 32 chars>" reaches salted md5 with an
// empty salt, which Django rejects.
#include <openssl/crypto.h>
#include <openssl/evp.h>

#include <new>
#include <stdexcept>

#include "passwords/hasher.h"

namespace dj {
namespace {

std::string hexdigest(const EVP_MD* md, std::string_view a, std::string_view b) {
    unsigned char out[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    EVP_MD_CTX* ctx = EVP_MD_CTX_new();
    if (!ctx) throw std::bad_alloc();
    bool ok = EVP_DigestInit_ex(ctx, md, nullptr) == 1 &&
              EVP_DigestUpdate(ctx, a.data(), a.size()) == 1 &&
              EVP_DigestUpdate(ctx, b.data(), b.size()) == 1 &&
              EVP_DigestFinal_ex(ctx, out, &len) == 1;
    EVP_MD_CTX_free(ctx);
    if (!ok) throw MalformedHash("digest computation failed");
    std::string hex = hex_lower(out, len);
    OPENSSL_cleanse(out, sizeof out);
    return hex;
}

class SaltedDigestHasher final : public Hasher {
public:
    SaltedDigestHasher(const char* name, const EVP_MD* (*md)()) : name_(name), md_(md) {}

    const char* algorithm() const override { return name_; }

    bool verify(std::string_view password, std::string_view encoded) const override {
        std::string again = encode_unchecked(password, decode_salt(encoded));
        bool same = constant_time_equal(encoded, again);
        wipe(again);
        return same;
    }

    std::string encode(std::string_view password, std::string_view salt, uint32_t) const override {
        if (salt.empty() || salt.find('$') != std::string_view::npos)
            throw std::invalid_argument(std::string(name_) +
                                        " salt must be non-empty and without '$'");
        return encode_unchecked(password, salt);
    }

    bool must_update(std::string_view encoded) const override {
        return salt_too_short(utf8_chars(decode_salt(encoded)));
    }

private:
    // algorithm, salt, hash = encoded.split('$', 2)
    static std::string_view decode_salt(std::string_view encoded) {
        auto f = split(encoded, '$', 2);
        if (f.size() != 3) throw MalformedHash("expected 3 '$'-separated fields");
        if (f[1].empty()) throw MalformedHash("empty salt");
        return f[1];
    }

    std::string encode_unchecked(std::string_view password, std::string_view salt) const {
        return std::string(name_) + '$' + std::string(salt) + '$' +
               hexdigest(md_(), salt, password);
    }

    const char* name_;
    const EVP_MD* (*md_)();
};

class UnsaltedSha1Hasher final : public Hasher {
public:
    const char* algorithm() const override { return "unsalted_sha1"; }
    std::string salt() const override { return ""; }

    bool verify(std::string_view password, std::string_view encoded) const override {
        std::string again = "sha1$$" + hexdigest(EVP_sha1(), {}, password);
        bool same = constant_time_equal(encoded, again);
        wipe(again);
        return same;
    }

    std::string encode(std::string_view password, std::string_view salt, uint32_t) const override {
        if (!salt.empty()) throw std::invalid_argument("unsalted_sha1 takes no salt");
        return "sha1$$" + hexdigest(EVP_sha1(), {}, password);
    }
};

class UnsaltedMd5Hasher final : public Hasher {
public:
    const char* algorithm() const override { return "unsalted_md5"; }
    std::string salt() const override { return ""; }

    bool verify(std::string_view password, std::string_view encoded) const override {
        if (encoded.size() == 37 && encoded.starts_with("md5$$")) encoded.remove_prefix(5);
        std::string again = hexdigest(EVP_md5(), {}, password);
        bool same = constant_time_equal(encoded, again);
        wipe(again);
        return same;
    }

    // Django always writes the bare form.
    std::string encode(std::string_view password, std::string_view salt, uint32_t) const override {
        if (!salt.empty()) throw std::invalid_argument("unsalted_md5 takes no salt");
        return hexdigest(EVP_md5(), {}, password);
    }
};

}  // namespace

std::unique_ptr<Hasher> make_md5(const HashParams&, const HashLimits&) {
    return std::make_unique<SaltedDigestHasher>("md5", EVP_md5);
}

std::unique_ptr<Hasher> make_sha1(const HashParams&, const HashLimits&) {
    return std::make_unique<SaltedDigestHasher>("sha1", EVP_sha1);
}

std::unique_ptr<Hasher> make_unsalted_md5(const HashParams&, const HashLimits&) {
    return std::make_unique<UnsaltedMd5Hasher>();
}

std::unique_ptr<Hasher> make_unsalted_sha1(const HashParams&, const HashLimits&) {
    return std::make_unique<UnsaltedSha1Hasher>();
}

}  // namespace dj
