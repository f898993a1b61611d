// The PBKDF2-HMAC-SHA256 kernel (passwords/pbkdf2_sha256.cc) must equal
// OpenSSL's PKCS5_PBKDF2_HMAC byte for byte: RFC vectors, then 10,000 random
// password, salt, iteration and length combinations, on the kernel the CPU
// selects and on the portable fallback.
#include <openssl/evp.h>

#include <cstdarg>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <random>
#include <setjmp.h>
#include <string>
#include <vector>

extern "C" {
#include <cmocka.h>
}

#include "tests/unit/random_bytes.h"
#include "passwords/pbkdf2_sha256.h"

namespace {

std::vector<uint8_t> openssl(const std::string& pw, const std::string& salt, int iters,
                             size_t len) {
    std::vector<uint8_t> out(len);
    PKCS5_PBKDF2_HMAC(pw.data(), int(pw.size()), reinterpret_cast<const uint8_t*>(salt.data()),
                      int(salt.size()), iters, EVP_sha256(), int(len), out.data());
    return out;
}

std::vector<uint8_t> ours(const std::string& pw, const std::string& salt, uint64_t iters,
                          size_t len, bool portable) {
    std::vector<uint8_t> out(len);
    auto f = portable ? dj::pbkdf2_hmac_sha256_portable : dj::pbkdf2_hmac_sha256;
    f(reinterpret_cast<const uint8_t*>(pw.data()), pw.size(),
      reinterpret_cast<const uint8_t*>(salt.data()), salt.size(), iters, out.data(), len);
    return out;
}

std::string hex(const std::vector<uint8_t>& v) {
    static const char* d = "0123456789abcdef";
    std::string s;
    for (uint8_t b : v) {
        s += d[b >> 4];
        s += d[b & 15];
    }
    return s;
}

void test_rfc7914_vector(void**) {
    // RFC 7914 section 11: PBKDF2-HMAC-SHA256 (P="passwd", S="salt", c=1, dkLen=64).
    const char* want =
        "55ac046e56e3089fec1691c22544b605f94185216dde0465e68b9d57c20dacbc"
        "49ca9cccf179b645991664b39d77ef317c71b845b1e30bd509112041d3a19783";
    for (bool portable : {false, true})
        assert_string_equal(hex(ours("passwd", "salt", 1, 64, portable)).c_str(), want);
}

void test_django_shaped(void**) {
    // Django's own shape: 22-character salt, 32-byte key, a few thousand iterations.
    const std::string salt = "a9X2mQ7rT4vB8nK1pL6sD3";
    for (bool portable : {false, true})
        assert_true(ours("correct horse", salt, 4321, 32, portable) ==
                    openssl("correct horse", salt, 4321, 32));
}

void test_random_against_openssl(void**) {
    std::mt19937_64 rng(20261128);
    auto bytes = [&](size_t n) { return random_bytes(rng, n); };
    for (int i = 0; i < 10000; ++i) {
        const std::string pw = bytes(rng() % 160);    // crosses the 64-byte key block
        const std::string salt = bytes(rng() % 140);  // crosses 1 and 2 message blocks
        const int iters = (i % 100 == 0) ? int(1 + rng() % 20000) : int(1 + rng() % 64);
        const size_t len = 1 + rng() % 100;            // partial and multiple blocks
        const bool portable = i % 4 == 3;
        if (ours(pw, salt, uint64_t(iters), len, portable) != openssl(pw, salt, iters, len))
            fail_msg("mismatch at case %d (pw %zu bytes, salt %zu bytes, %d iterations, %zu "
                     "out, %s)",
                     i, pw.size(), salt.size(), iters, len,
                     portable ? "portable" : dj::sha256_kernel_name());
    }
}

void test_kernel_name(void**) {
    const std::string k = dj::sha256_kernel_name();
    assert_true(k == "sha-ni" || k == "portable");
}

}  // namespace

int main() {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rfc7914_vector),
        cmocka_unit_test(test_django_shaped),
        cmocka_unit_test(test_random_against_openssl),
        cmocka_unit_test(test_kernel_name),
    };
    return cmocka_run_group_tests(tests, nullptr, nullptr);
}
