// daemon/mysql_text.cc: the statements of sql.h in MySQL's dialect (`quoted`
// identifiers, '?' markers bound in the right order) and the engine's
// database.options.
#include <string.h>

#include <stdexcept>
#include <string>
#include <vector>

#include "daemon/config.h"
#include "daemon/mysql_text.h"
#include "daemon/sql.h"

// cmocka last: its macros (fail, ...) must not meet the C++ headers.
extern "C" {
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
}

using namespace dj::db;

namespace {

void test_markers_and_quotes(void**) {
    MysqlStatement m = mysql_statement("UPDATE \"auth_user\" SET \"password\" = $2 WHERE \"id\" = $1");
    assert_string_equal(m.sql.c_str(), "UPDATE `auth_user` SET `password` = ? WHERE `id` = ?");
    assert_int_equal(m.order.size(), 2);
    assert_int_equal(m.order[0], 1);
    assert_int_equal(m.order[1], 0);
    // $1 twice, and a '$' inside an identifier is no marker.
    m = mysql_statement("SELECT \"a$1\" FROM t WHERE x = $1 UNION SELECT y FROM u WHERE z = $1 LIMIT $12");
    assert_string_equal(m.sql.c_str(), "SELECT `a$1` FROM t WHERE x = ? UNION SELECT y FROM u WHERE z = ? LIMIT ?");
    assert_int_equal(m.order.size(), 3);
    assert_int_equal(m.order[0], 0);
    assert_int_equal(m.order[1], 0);
    assert_int_equal(m.order[2], 11);
    bool threw = false;
    try {
        mysql_statement("SELECT \"open");
    } catch (const std::invalid_argument&) {
        threw = true;
    }
    assert_true(threw);
}

// Every statement the daemon makes, from the default and a custom schema:
// no double quote or '$' marker left, one parameter per '?'.
void test_every_statement(void**) {
    dj::Schema custom;
    custom.user_table = "accounts.people";
    custom.user_is_active = "";
    for (const dj::Schema& s : {dj::Schema{}, custom}) {
        Statements st = build_statements(s, Placeholder::Dollar);
        for (const std::string* q : {&st.user_by_name, &st.user_by_id, &st.users_after, &st.passwords_after,
                                     &st.group_by_name, &st.group_by_id, &st.groups_after, &st.active_members,
                                     &st.groups_of_user, &st.permissions_of_user, &st.set_password,
                                     &st.set_last_login, &st.ping}) {
            MysqlStatement m = mysql_statement(*q);
            assert_null(strchr(m.sql.c_str(), '"'));
            size_t marks = 0;
            for (char c : m.sql) marks += c == '?';
            assert_int_equal(marks, m.order.size());
        }
        MysqlStatement p = mysql_statement(st.permissions_of_user);
        assert_int_equal(p.order.size(), 2);  // the user's id twice
    }
}

void test_options(void**) {
    MysqlOptions o = parse_mysql_options("");
    assert_false(o.ssl);
    o = parse_mysql_options("  ssl_ca=/etc/ssl/ca.pem\tssl_verify_server_cert=yes tls_version=TLSv1.3 ");
    assert_true(o.ssl);  // a CA means TLS
    assert_true(o.ssl_verify_server_cert);
    assert_string_equal(o.ssl_ca.c_str(), "/etc/ssl/ca.pem");
    assert_string_equal(o.tls_version.c_str(), "TLSv1.3");
    o = parse_mysql_options("ssl=on");
    assert_true(o.ssl);
    for (const char* bad : {"sslmode=require", "ssl", "=x", "ssl=maybe", "read_default_file=/etc/my.cnf"}) {
        bool threw = false;
        try {
            parse_mysql_options(bad);
        } catch (const std::invalid_argument&) {
            threw = true;
        }
        assert_true(threw);
    }
}

}  // namespace

int main() {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_markers_and_quotes),
        cmocka_unit_test(test_every_statement),
        cmocka_unit_test(test_options),
    };
    return cmocka_run_group_tests(tests, nullptr, nullptr);
}
