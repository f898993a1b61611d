// Unit tests for pam_django.so's conversation texts (pam/messages.cc).
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
extern "C" {
#include <cmocka.h>
}

#include <string>

#include "pam/messages.h"

using dj::pam::format_duration;
using dj::pam::throttled_message;

namespace {

void test_format_duration(void**) {
    assert_string_equal(format_duration(0).c_str(), "0 seconds");
    assert_string_equal(format_duration(1).c_str(), "1 second");
    assert_string_equal(format_duration(30).c_str(), "30 seconds");
    assert_string_equal(format_duration(59).c_str(), "59 seconds");
    assert_string_equal(format_duration(60).c_str(), "1 minute");
    // rounded up: never "come back" before the lock ends
    assert_string_equal(format_duration(61).c_str(), "2 minutes");
    assert_string_equal(format_duration(240).c_str(), "4 minutes");
    assert_string_equal(format_duration(239).c_str(), "4 minutes");
    assert_string_equal(format_duration(3540).c_str(), "59 minutes");
    assert_string_equal(format_duration(3541).c_str(), "1 hour");
    assert_string_equal(format_duration(3600).c_str(), "1 hour");
    assert_string_equal(format_duration(3601).c_str(), "2 hours");
    assert_string_equal(format_duration(86400).c_str(), "1 day");
    assert_string_equal(format_duration(86401).c_str(), "2 days");
    assert_string_equal(format_duration(0xFFFFFFFEu).c_str(), "49711 days");
}

void test_throttled_message(void**) {
    assert_string_equal(throttled_message(240).c_str(),
                        "Login temporarily locked after too many failed attempts; "
                        "try again in 4 minutes.");
    assert_string_equal(throttled_message(dj::pam::kUntilReset).c_str(),
                        "Login locked after too many failed attempts, until an administrator "
                        "resets it.");
    // busy is not a lockout, and no daemon time is not a made-up one
    assert_true(throttled_message(dj::pam::kBusy).find("locked") == std::string::npos);
    assert_true(throttled_message(std::nullopt).find("try again later") != std::string::npos);
}

}  // namespace

int main() {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_format_duration),
        cmocka_unit_test(test_throttled_message),
    };
    return cmocka_run_group_tests_name("pam_messages", tests, nullptr, nullptr);
}
