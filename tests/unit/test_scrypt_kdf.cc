// scrypt_derive (passwords/scrypt_kdf.cc) computes with libsodium but must give
// OpenSSL's EVP_PBE_scrypt bytes, and refuse exactly what OpenSSL refuses
// (Django's hashlib.scrypt with maxmem=0): RFC 7914 vectors, Django's default
// parameters, then random password, salt, n, r, p and length combinations,
// then parameters on both sides of the 32 MiB cap.
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
#include "passwords/scrypt_kdf.h"

namespace {

// Empty when OpenSSL refuses the parameters.
std::vector<uint8_t> openssl(const std::string& pw, const std::string& salt, uint64_t n, uint64_t r, uint64_t p,
                             size_t len) {
    std::vector<uint8_t> out(len);
    if (EVP_PBE_scrypt(pw.data(), pw.size(), reinterpret_cast<const uint8_t*>(salt.data()), salt.size(), n, r, p,
                       0, out.data(), len) != 1)
        return {};
    return out;
}

std::vector<uint8_t> ours(const std::string& pw, const std::string& salt, uint64_t n, uint64_t r, uint64_t p,
                          size_t len) {
    std::vector<uint8_t> out(len);
    if (!dj::scrypt_derive(pw, salt, n, r, p, out.data(), len)) return {};
    return out;
}

void test_rfc7914_vector(void**) {
    // RFC 7914 section 12, second vector.
    const uint8_t want[16] = {0xfd, 0xba, 0xbe, 0x1c, 0x9d, 0x34, 0x72, 0x00,
                              0x78, 0x56, 0xe7, 0x19, 0x0d, 0x01, 0xe9, 0xfe};
    std::vector<uint8_t> got = ours("password", "NaCl", 1024, 8, 16, 64);
    assert_int_equal(got.size(), 64);
    assert_memory_equal(got.data(), want, sizeof want);
}

void test_django_defaults(void**) {
    // Django 4.0+'s ScryptPasswordHasher: n 2**14, r 8, p 1, 64 bytes.
    const std::string salt = "LQBNjyMIxuwv2RhcTiNjeh";
    std::vector<uint8_t> want = openssl("correct horse battery staple", salt, 16384, 8, 1, 64);
    assert_int_equal(want.size(), 64);
    assert_true(ours("correct horse battery staple", salt, 16384, 8, 1, 64) == want);
}

void test_empty_views(void**) {
    // Views with no data pointer at all (an empty password or salt).
    std::vector<uint8_t> want = openssl("", "", 16, 1, 1, 32);
    std::vector<uint8_t> got(32);
    assert_true(dj::scrypt_derive(std::string_view{}, std::string_view{}, 16, 1, 1, got.data(), got.size()));
    assert_true(got == want);
}

void test_random_against_openssl(void**) {
    std::mt19937_64 rng(20261128);
    auto bytes = [&](size_t n) { return random_bytes(rng, n); };
    for (int i = 0; i < 300; ++i) {
        const std::string pw = bytes(rng() % 100);
        const std::string salt = bytes(rng() % 80);
        const uint64_t n = uint64_t(2) << (rng() % 9);  // 2 .. 512
        const uint64_t r = 1 + rng() % 9;
        const uint64_t p = 1 + rng() % 4;
        const size_t len = 1 + rng() % 130;
        std::vector<uint8_t> want = openssl(pw, salt, n, r, p, len);
        assert_false(want.empty());
        if (ours(pw, salt, n, r, p, len) != want)
            fail_msg("mismatch at case %d (pw %zu bytes, salt %zu bytes, n %llu, r %llu, p %llu, %zu out)", i,
                     pw.size(), salt.size(), (unsigned long long)n, (unsigned long long)r,
                     (unsigned long long)p, len);
    }
}

void test_refuses_what_openssl_refuses(void**) {
    struct Case {
        uint64_t n, r, p;
    };
    const Case cases[] = {
        {16384, 8, 1},     // Django's default: 16 MiB
        {32768, 8, 1},     // 32 MiB and a little: over the cap
        {65536, 1, 1},     // n must stay under 2**(16 r)
        {32768, 1, 1},     //
        {16, 8, 1u << 29}, // r * p at 2**30
        {16, 1, 1u << 29}, // r * p under 2**30, but B over the cap
        {1024, 8, 16},
    };
    for (const Case& c : cases) {
        const bool openssl_ok = !openssl("pw", "salt", c.n, c.r, c.p, 16).empty();
        const bool ours_ok = !ours("pw", "salt", c.n, c.r, c.p, 16).empty();
        if (openssl_ok != ours_ok)
            fail_msg("n %llu r %llu p %llu: OpenSSL %d, ours %d", (unsigned long long)c.n,
                     (unsigned long long)c.r, (unsigned long long)c.p, openssl_ok, ours_ok);
    }
    assert_true(ours("pw", "salt", 16384, 8, 1, 16).size() == 16);
    assert_true(ours("pw", "salt", 32768, 8, 1, 16).empty());
}

}  // namespace

int main() {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rfc7914_vector),
        cmocka_unit_test(test_django_defaults),
        cmocka_unit_test(test_empty_views),
        cmocka_unit_test(test_random_against_openssl),
        cmocka_unit_test(test_refuses_what_openssl_refuses),
    };
    return cmocka_run_group_tests(tests, nullptr, nullptr);
}
