// TOTP (passwords/totp.h): the RFC 6238 test vectors, and django-otp's
// behaviour at its edges: drift, replay (last_t), the tolerance window,
// other t0 and step, 6 and 8 digits, and how it reads a token (int()).
// The expected codes of the non-RFC cases were computed by django-otp 1.1.3's
// django_otp.oath.TOTP (Debian's python3-django-otp).
#include <cstdarg>
#include <cstddef>
#include <cstdint>
#include <setjmp.h>
#include <string>

extern "C" {
#include <cmocka.h>
}

#include "passwords/totp.h"

using namespace dj::totp;

namespace {

// RFC 6238's SHA1 seed, "12345678901234567890", in hex as django-otp stores keys.
const char* kKey = "3132333435363738393031323334353637383930";

Params rfc(int64_t digits) {
    Params p;
    p.key_hex = kKey;
    p.digits = digits;
    p.tolerance = 0;
    return p;
}

std::string pad(uint32_t code, int digits) {
    std::string s = std::to_string(code);
    while (int(s.size()) < digits) s.insert(s.begin(), '0');
    return s;
}

void test_rfc6238_vectors(void**) {
    const struct {
        int64_t time;
        const char* code;
    } v[] = {{59, "94287082"},         {1111111109, "07081804"}, {1111111111, "14050471"},
             {1234567890, "89005924"}, {2000000000, "69279037"}, {20000000000, "65353130"}};
    auto key = unhex(kKey);
    assert_true(key.has_value());
    for (const auto& x : v) {
        const Params p = rfc(8);
        auto m = verify(p, x.code, x.time);
        assert_true(m.has_value());
        assert_int_equal(m->t, x.time / 30);
        assert_int_equal(m->drift, 0);
        assert_string_equal(pad(*hotp(*key, uint64_t(x.time / 30), 8), 8).c_str(), x.code);
        // one digit off: refused
        std::string wrong = x.code;
        wrong[7] = wrong[7] == '9' ? '0' : char(wrong[7] + 1);
        assert_false(verify(p, wrong, x.time).has_value());
    }
    // RFC 4226 appendix D, 6 digits (django_otp.oath.hotp's doctest)
    const uint32_t hotp6[] = {755224, 287082, 359152, 969429, 338314, 254676, 287922, 162583, 399871, 520489};
    for (uint64_t c = 0; c < 10; ++c) assert_int_equal(*hotp(*key, c, 6), hotp6[c]);
}

void test_tolerance_window_and_drift(void**) {
    // At 1111111111 (t = 37037037), django-otp's codes for drift -3 .. +3.
    const uint32_t codes[] = {150727, 731029, 81804, 50471, 266759, 306183, 466594};
    Params p = rfc(6);
    p.tolerance = 1;
    const int64_t now = 1111111111;
    for (int d = -3; d <= 3; ++d) {
        auto m = verify(p, std::to_string(codes[d + 3]), now);
        if (d < -1 || d > 1) {
            assert_false(m.has_value());
            continue;
        }
        assert_true(m.has_value());
        assert_int_equal(m->t, 37037037 + d);
        assert_int_equal(m->drift, d);   // what OTP_TOTP_SYNC stores
    }
    // With the stored drift 2, the window is centred on t + 2.
    p.drift = 2;
    auto m = verify(p, "466594", now);
    assert_true(m.has_value());
    assert_int_equal(m->t, 37037040);
    assert_int_equal(m->drift, 3);
    assert_false(verify(p, "50471", now).has_value());   // t + 0 is outside [t+1, t+3]
    // tolerance 0: the current step only; a larger one reaches further.
    p.drift = 0;
    p.tolerance = 0;
    assert_false(verify(p, "81804", now).has_value());
    assert_true(verify(p, "050471", now).has_value());
    p.tolerance = 3;
    assert_true(verify(p, "150727", now).has_value());
}

void test_replay_refused(void**) {
    Params p = rfc(6);
    p.tolerance = 1;
    const int64_t now = 1111111111;
    auto m = verify(p, "50471", now);
    assert_true(m.has_value());
    p.last_t = m->t;
    // The same code again, and any code at or below last_t: refused.
    assert_false(verify(p, "50471", now).has_value());
    assert_false(verify(p, "81804", now).has_value());   // t - 1
    // The next step's code is still accepted.
    auto next = verify(p, "266759", now);
    assert_true(next.has_value());
    assert_int_equal(next->t, 37037038);
}

void test_other_t0_step_digits(void**) {
    Params p;
    p.key_hex = kKey;
    p.step = 60;
    p.t0 = 1000;
    p.digits = 6;
    p.tolerance = 0;
    auto m = verify(p, "131469", 1700000000);
    assert_true(m.has_value());
    assert_int_equal(m->t, 28333316);
    p.step = 17;
    p.t0 = -50;
    p.digits = 8;
    m = verify(p, "73692803", 1234567);
    assert_true(m.has_value());
    assert_int_equal(m->t, 72624);
    // A time before t0: floor division gives a negative step, which
    // last_t = -1 (min_t 0) skips; no code matches.
    p.t0 = 2000000000;
    assert_false(verify(p, "73692803", 1234567).has_value());
    assert_int_equal(floor_div(-7, 2), -4);
    assert_int_equal(floor_div(7, 2), 3);
    assert_int_equal(floor_div(-8, 2), -4);
}

void test_tokens_as_python_int(void**) {
    assert_int_equal(*parse_token("123456"), 123456);
    assert_int_equal(*parse_token(" 012345\n"), 12345);
    assert_int_equal(*parse_token("+1_2"), 12);
    assert_int_equal(*parse_token("-0"), 0);
    for (const char* bad : {"", " ", "1__2", "_1", "1_", "12 3", "0x12", "1.0", "-5", "abc", "\x1c" "12"})
        assert_false(parse_token(bad).has_value());
    // int("050471") == 50471: leading zeros do not matter, as in django-otp
    Params p = rfc(6);
    assert_true(verify(p, "50471", 1111111111).has_value());
    assert_true(verify(p, "0050471", 1111111111).has_value());
}

void test_unusable_devices(void**) {
    Params p = rfc(6);
    p.key_hex = "313";   // odd length: unhexlify raises
    assert_false(verify(p, "050471", 1111111111).has_value());
    p.key_hex = "zz";
    assert_false(verify(p, "050471", 1111111111).has_value());
    p = rfc(6);
    p.step = 0;          // ZeroDivisionError in django-otp
    assert_false(verify(p, "050471", 1111111111).has_value());
    p = rfc(6);
    p.key_hex = "31323334353637383930313233343536373839 30";
    assert_false(verify(p, "050471", 1111111111).has_value());
    // upper-case hex is what unhexlify accepts too
    p.key_hex = "3132333435363738393031323334353637383930";
    for (char& c : p.key_hex) c = char(toupper(c));
    assert_true(verify(p, "050471", 1111111111).has_value());
}

}  // namespace

int main() {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rfc6238_vectors),     cmocka_unit_test(test_tolerance_window_and_drift),
        cmocka_unit_test(test_replay_refused),      cmocka_unit_test(test_other_t0_step_digits),
        cmocka_unit_test(test_tokens_as_python_int), cmocka_unit_test(test_unusable_devices),
    };
    return cmocka_run_group_tests(tests, nullptr, nullptr);
}
