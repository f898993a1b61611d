// Unit tests for pam_django.so's argument parser (pam/args.cc).
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
extern "C" {
#include <cmocka.h>
}

#include <string>
#include <vector>

#include "pam/args.h"

using dj::pam::Args;
using dj::pam::parse_args;

namespace {

Args parse(std::vector<const char*> v) {
    return parse_args(static_cast<int>(v.size()), v.data());
}

bool warned_about(const Args& a, const std::string& what) {
    for (const auto& w : a.warnings)
        if (w.find(what) != std::string::npos) return true;
    return false;
}

void test_defaults(void**) {
    Args a = parse({});
    assert_true(a.socket.empty());
    assert_int_equal(a.timeout_ms, 2000);
    assert_false(a.debug);
    assert_false(a.audit);
    assert_false(a.use_first_pass);
    assert_false(a.try_first_pass);
    assert_false(a.use_authtok);
    assert_false(a.ignore_unknown_user);
    assert_false(a.ignore_authinfo_unavail);
    assert_false(a.nullok);
    assert_false(a.require_staff);
    assert_false(a.require_superuser);
    assert_true(a.require_groups.empty());
    assert_true(a.require_permissions.empty());
    assert_int_equal(a.minlen, 8);
    assert_int_equal(a.fail_delay_ms, 2000);
    assert_true(a.warnings.empty());
    // null argv is tolerated
    Args b = parse_args(3, nullptr);
    assert_true(b.warnings.empty());
}

void test_flags(void**) {
    Args a = parse({"debug", "audit", "use_first_pass", "try_first_pass", "use_authtok",
                    "ignore_unknown_user", "ignore_authinfo_unavail", "nullok", "require_staff",
                    "require_superuser", "nodelay"});
    assert_true(a.debug);
    assert_true(a.audit);
    assert_true(a.use_first_pass);
    assert_true(a.try_first_pass);
    assert_true(a.use_authtok);
    assert_true(a.ignore_unknown_user);
    assert_true(a.ignore_authinfo_unavail);
    assert_true(a.nullok);
    assert_true(a.require_staff);
    assert_true(a.require_superuser);
    assert_int_equal(a.fail_delay_ms, 0);
    assert_true(a.warnings.empty());
}

void test_socket(void**) {
    Args a = parse({"socket=/tmp/x/sock"});
    assert_string_equal(a.socket.c_str(), "/tmp/x/sock");
    assert_true(a.warnings.empty());
    Args b = parse({"socket=relative/sock"});
    assert_true(b.socket.empty());
    assert_true(warned_about(b, "socket"));
    Args c = parse({"socket="});
    assert_true(c.socket.empty());
    assert_true(warned_about(c, "socket"));
    std::string longp = "socket=/" + std::string(200, 'a');
    Args d = parse({longp.c_str()});
    assert_true(d.socket.empty());
    assert_true(warned_about(d, "socket"));
    // later wins
    Args e = parse({"socket=/a", "socket=/b"});
    assert_string_equal(e.socket.c_str(), "/b");
}

void test_timeout(void**) {
    assert_int_equal(parse({"timeout=5"}).timeout_ms, 5000);
    assert_int_equal(parse({"timeout=0.5"}).timeout_ms, 500);
    assert_int_equal(parse({"timeout=1.25"}).timeout_ms, 1250);
    assert_int_equal(parse({"timeout=.2"}).timeout_ms, 200);
    assert_int_equal(parse({"timeout=300"}).timeout_ms, 300000);
    for (const char* bad : {"timeout=", "timeout=abc", "timeout=-1", "timeout=0", "timeout=0.05",
                            "timeout=301", "timeout=1.", "timeout=1.2345", "timeout=1e3",
                            "timeout= 1", "timeout=99999999999"}) {
        Args a = parse({bad});
        assert_int_equal(a.timeout_ms, 2000);
        assert_true(warned_about(a, "timeout"));
    }
}

void test_minlen_and_delay(void**) {
    assert_int_equal(parse({"minlen=12"}).minlen, 12);
    assert_int_equal(parse({"minlen=0"}).minlen, 0);
    for (const char* bad : {"minlen=", "minlen=x", "minlen=-3", "minlen=4097", "minlen=+5"}) {
        Args a = parse({bad});
        assert_int_equal(a.minlen, 8);
        assert_true(warned_about(a, "minlen"));
    }
    assert_int_equal(parse({"fail_delay=500"}).fail_delay_ms, 500);
    assert_int_equal(parse({"fail_delay=0"}).fail_delay_ms, 0);
    assert_int_equal(parse({"nodelay", "fail_delay=300"}).fail_delay_ms, 300);
    assert_int_equal(parse({"fail_delay=300", "nodelay"}).fail_delay_ms, 0);
    Args a = parse({"fail_delay=60001"});
    assert_int_equal(a.fail_delay_ms, 2000);
    assert_true(warned_about(a, "fail_delay"));
}

void test_require_group(void**) {
    Args a = parse({"require_group=sftp,admins", "require_group=,ops,,"});
    assert_int_equal(a.require_groups.size(), 3);
    assert_string_equal(a.require_groups[0].c_str(), "sftp");
    assert_string_equal(a.require_groups[1].c_str(), "admins");
    assert_string_equal(a.require_groups[2].c_str(), "ops");
    assert_true(a.warnings.empty());
    Args b = parse({"require_group=", "require_group=,,"});
    assert_true(b.require_groups.empty());
    assert_int_equal(b.warnings.size(), 2);
    // group names with spaces come through the bracket syntax of pam.d as one argument
    Args c = parse({"require_group=Web Editors"});
    assert_string_equal(c.require_groups[0].c_str(), "Web Editors");
}

void test_require_permission(void**) {
    Args a = parse({"require_permission=auth.change_user", "require_permission=blog.add_post"});
    assert_int_equal(a.require_permissions.size(), 2);
    assert_string_equal(a.require_permissions[0].c_str(), "auth.change_user");
    assert_string_equal(a.require_permissions[1].c_str(), "blog.add_post");
    assert_true(a.warnings.empty());
    // malformed ones are kept (fail closed: nobody can have them) and reported
    for (const char* bad : {"require_permission=nodot", "require_permission=.x",
                            "require_permission=x.", "require_permission=a.b.c",
                            "require_permission="}) {
        Args b = parse({bad});
        assert_int_equal(b.require_permissions.size(), 1);
        assert_true(warned_about(b, "require_permission"));
    }
}

void test_unknown(void**) {
    Args a = parse({"debug", "frobnicate", "use_first_pass=1", "Debug", "socket", "minlen",
                    "authtok_type=Django"});
    assert_true(a.debug);
    assert_false(a.use_first_pass);
    assert_int_equal(a.warnings.size(), 5);
    assert_true(warned_about(a, "unknown option: frobnicate"));
    assert_true(warned_about(a, "unknown option: use_first_pass=1"));
    assert_true(warned_about(a, "unknown option: Debug"));
    assert_true(warned_about(a, "unknown option: socket"));
    // control characters never reach the log
    Args b = parse({"bad\narg\x1b"});
    assert_int_equal(b.warnings.size(), 1);
    assert_true(b.warnings[0].find('\n') == std::string::npos);
    assert_true(b.warnings[0].find('\x1b') == std::string::npos);
    // null entries are skipped
    const char* v[] = {"debug", nullptr, "audit"};
    Args c = parse_args(3, v);
    assert_true(c.debug && c.audit);
}

}  // namespace

int main() {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults),         cmocka_unit_test(test_flags),
        cmocka_unit_test(test_socket),           cmocka_unit_test(test_timeout),
        cmocka_unit_test(test_minlen_and_delay), cmocka_unit_test(test_require_group),
        cmocka_unit_test(test_require_permission), cmocka_unit_test(test_unknown),
    };
    return cmocka_run_group_tests_name("pam_args", tests, nullptr, nullptr);
}
