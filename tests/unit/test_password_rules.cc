// Django's password validators (daemon/password_rules.*): difflib's
// quick_ratio, Python's strip() and lower() as the validators use them, the
// messages and their order, and the common-passwords list read as gzip or
// as plain text. Agreement with real Django is tested by
// tests/integration/test_password_validators.py.
#include <cstdarg>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <setjmp.h>
#include <stdexcept>
#include <string>
#include <vector>
#include <unistd.h>

#include "daemon/password_rules.h"

extern "C" {
#include <cmocka.h>
}

using namespace dj;

namespace {

std::string joined(const std::vector<std::string>& v) {
    std::string s;
    for (const auto& x : v) s += (s.empty() ? "" : "|") + x;
    return s;
}

void test_quick_ratio(void**) {
    auto r = [](const char* a, const char* b) { return PasswordRules::quick_ratio(PasswordRules::lower(a), PasswordRules::lower(b)); };
    assert_true(r("", "") == 1.0);          // difflib: no elements, ratio 1.0
    assert_true(r("abc", "") == 0.0);
    assert_true(r("johnjohn", "john") == 8.0 / 12);
    assert_true(r("aab", "abb") == 4.0 / 6);  // each element counted as often as b has it
    assert_true(r("ÄBC", "äbc") == 1.0);      // lower() on both sides
}

void test_strip_and_lower(void**) {
    // Python's str.isspace(): no-break spaces too.
    assert_true(PasswordRules::strip(PasswordRules::lower("\xc2\xa0 \tPassWord\xe3\x80\x80\n")) == U"password");
    assert_true(PasswordRules::lower("\xc3\x85STR\xc3\x96M") == U"\u00e5str\u00f6m");
    // Invalid UTF-8: each byte stands for itself.
    assert_int_equal(PasswordRules::lower("\xff\xfe").size(), 2);
}

void test_messages(void**) {
    char path[] = "/tmp/djtest-common-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    const char list[] = "password\n  qwerty  \nletmein\n";
    assert_int_equal(write(fd, list, sizeof list - 1), sizeof list - 1);
    close(fd);
    PasswordsConfig p;
    p.validators = {"UserAttributeSimilarityValidator", "MinimumLengthValidator", "CommonPasswordValidator",
                    "NumericPasswordValidator"};
    p.common_passwords = path;
    PasswordRules rules(p);
    unlink(path);
    const UserAttributes u{"jsmith", "John", "Smith"};
    assert_string_equal(joined(rules.check("correct horse", u)).c_str(), "");
    assert_string_equal(joined(rules.check("qwerty", u)).c_str(),
                        "This password is too short. It must contain at least 8 characters.|"
                        "This password is too common.");
    assert_string_equal(joined(rules.check(" LetMeIn ", u)).c_str(), "This password is too common.");
    assert_string_equal(joined(rules.check("123456789", u)).c_str(), "This password is entirely numeric.");
    assert_string_equal(joined(rules.check("jsmith!!", u)).c_str(), "The password is too similar to the username.");
    assert_string_equal(joined(rules.check("Johnny7", u)).c_str(),
                        "The password is too similar to the first name.|"
                        "This password is too short. It must contain at least 8 characters.");
    p.min_length = 1;
    p.validators = {"MinimumLengthValidator"};
    assert_string_equal(joined(PasswordRules(p).check("", u)).c_str(),
                        "This password is too short. It must contain at least 1 character.");
    // None configured: nothing refused, no list read.
    p.validators.clear();
    p.common_passwords = "/nonexistent";
    assert_true(PasswordRules(p).empty());
    p.validators = {"CommonPasswordValidator"};
    bool threw = false;
    try {
        PasswordRules bad(p);
    } catch (const std::runtime_error&) {
        threw = true;
    }
    assert_true(threw);
}

}  // namespace

int main() {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_quick_ratio),
        cmocka_unit_test(test_strip_and_lower),
        cmocka_unit_test(test_messages),
    };
    return cmocka_run_group_tests(tests, nullptr, nullptr);
}
