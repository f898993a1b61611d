// Config parsing (daemon/config.cc): defaults, every kind of value, errors
// that name the line and the key without the password, identifier rules,
// and the file ownership/mode checks of load_config().
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdarg>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <setjmp.h>
#include <string>

extern "C" {
#include <cmocka.h>
}

#include "daemon/config.h"

using namespace dj;

namespace {

bool parse(const std::string& text, Config& c, std::string& err) { return parse_config_text(text, c, err, "t.conf"); }

void test_defaults(void**) {
    Config c;
    std::string err;
    assert_true(parse("", c, err));
    assert_string_equal(c.database.engine.c_str(), "sqlite3");
    assert_string_equal(c.daemon.socket.c_str(), "/run/django-auth/socket");
    assert_int_equal(c.daemon.auth_clients.size(), 1);
    assert_string_equal(c.daemon.auth_clients[0].c_str(), "www-data");
    assert_int_equal(c.passwords.hashers.size(), 5);
    assert_int_equal(c.nss.uid_base, 200000);
    assert_string_equal(c.nss.home.c_str(), "/home/%u");
    assert_false(c.passwords.allow_change);
    assert_false(c.passwords.rehash_on_login);
    assert_false(c.passwords.update_last_login);
    assert_string_equal(c.database.schema.user_table.c_str(), "auth_user");
    assert_int_equal(c.cache.shared_slots, 16384);
    assert_int_equal(c.cache.shared_slot_size, 512);
    assert_string_equal(c.database.replica.c_str(), "");
    assert_string_equal(c.database.listen.c_str(), "");
}

void test_values(void**) {
    Config c;
    std::string err;
    assert_true(parse("[database]\nengine = postgresql   # the server\nname = site\nhost = /run/pg, db2\n"
                      "options = sslmode=verify-full target_session_attrs=any\npassword = a #b ;c\n"
                      "[daemon]\nauth_clients = www-data, @web ,nginx\n"
                      "[passwords]\nhashers = argon2,pbkdf2_sha256\nrehash_on_login = yes\npbkdf2_iterations = 1000\n"
                      "[nss]\nuid_base = 5000\nuid_max = 9000\ngroup_prefix = dj-\n"
                      "[schema]\nuser_table = accounts.user\nuser_is_staff =\n",
                      c, err));
    assert_string_equal(c.database.engine.c_str(), "postgresql");
    assert_string_equal(c.database.host.c_str(), "/run/pg, db2");
    assert_string_equal(c.database.options.c_str(), "sslmode=verify-full target_session_attrs=any");
    // inih strips " ;" comments; '#' belongs to the password.
    assert_string_equal(c.database.password.c_str(), "a #b");
    assert_int_equal(c.daemon.auth_clients.size(), 3);
    assert_string_equal(c.daemon.auth_clients[1].c_str(), "@web");
    assert_string_equal(c.passwords.hashers[0].c_str(), "argon2");
    assert_true(c.passwords.rehash_on_login);
    assert_int_equal(c.passwords.pbkdf2_iterations, 1000);
    assert_int_equal(c.nss.uid_base, 5000);
    assert_string_equal(c.nss.group_prefix.c_str(), "dj-");
    assert_string_equal(c.database.schema.user_table.c_str(), "accounts.user");
    assert_string_equal(c.database.schema.user_is_staff.c_str(), "");
    // engine = mysql, an option file, or none (the shipped file's empty key)
    Config m;
    assert_true(parse("[database]\nengine = mysql\noption_files = /etc/django-auth/my.cnf\n", m, err));
    assert_string_equal(m.database.engine.c_str(), "mysql");
    assert_string_equal(m.database.option_files.c_str(), "/etc/django-auth/my.cnf");
    Config e;
    assert_true(parse("[database]\nengine = mysql\noption_files =\n", e, err));
    assert_string_equal(e.database.option_files.c_str(), "");
    // The shared file's geometry, and reads on a replica.
    Config g;
    assert_true(parse("[cache]\nshared_slots = 1048576\nshared_slot_size = 1024\n"
                      "[database]\nreplica = host=r1,r2 target_session_attrs=standby\nlisten = host=/run/pg\n",
                      g, err));
    assert_int_equal(g.cache.shared_slots, 1048576);
    assert_int_equal(g.cache.shared_slot_size, 1024);
    assert_string_equal(g.database.replica.c_str(), "host=r1,r2 target_session_attrs=standby");
    assert_string_equal(g.database.listen.c_str(), "host=/run/pg");
    Config off;
    assert_true(parse("[cache]\nshared_slots = 0\n", off, err));
    assert_int_equal(off.cache.shared_slots, 0);
}

void expect_error(const char* text, const char* needle1, const char* needle2) {
    Config c;
    std::string err;
    assert_false(parse(text, c, err));
    if (!strstr(err.c_str(), needle1) || !strstr(err.c_str(), needle2)) fail_msg("error was: %s", err.c_str());
}

void test_errors_name_line_and_key(void**) {
    expect_error("[database]\nengine = oracle\n", "t.conf:2:", "database.engine");
    expect_error("[database]\n\n\nconnect_timeout = 0\n", "t.conf:4:", "database.connect_timeout");
    expect_error("[daemon]\nnope = 1\n", "t.conf:2:", "daemon.nope");
    expect_error("[nss]\nuid_base = 12x\n", "t.conf:2:", "nss.uid_base");
    expect_error("[cache]\nshared_slots = 1000\n", "t.conf:2:", "power of two");
    expect_error("[cache]\nshared_slots = 8388608\n", "t.conf:2:", "cache.shared_slots");
    expect_error("[cache]\nshared_slot_size = 500\n", "t.conf:2:", "multiple of 64");
    expect_error("[cache]\nshared_slot_size = 64\n", "t.conf:2:", "cache.shared_slot_size");
    expect_error("[nss]\nuid_base = 99999999999\n", "t.conf:2:", "nss.uid_base");
    expect_error("[nss]\nhome = relative/%u\n", "t.conf:2:", "nss.home");
    expect_error("[passwords]\nallow_change = maybe\n", "t.conf:2:", "passwords.allow_change");
    expect_error("[passwords]\nhashers = ,\n", "t.conf:2:", "passwords.hashers");
    expect_error("[schema]\nuser_table = auth_user;drop\n", "t.conf:2:", "schema.user_table");
    expect_error("[schema]\nuser_id = \"id\"\n", "t.conf:2:", "schema.user_id");
    expect_error("[schema]\nuser_username =\n", "t.conf:2:", "schema.user_username");
    expect_error("[schema]\ngroup_table = a.b.c\n", "t.conf:2:", "schema.group_table");
    expect_error("no section line\n", "t.conf:1:", "syntax");
    expect_error("[nss]\nuid_base = 100\nuid_max = 50\n", "t.conf", "nss.uid_max");
    expect_error("[database]\npassword = x\npassword_file = /p\n", "t.conf", "exclusive");
    expect_error("[daemon]\nsocket = relative\n", "t.conf", "daemon.socket");
    expect_error("[database]\nengine = mysql\noption_files = my.cnf\n", "t.conf:3:", "database.option_files");
    expect_error(("[database]\noptions = " + std::string(300, 'x') + "\n").c_str(), "t.conf:2:", "longer than");
}

void test_password_not_in_errors(void**) {
    Config c;
    std::string err;
    assert_false(parse("[database]\npassword = Sup3rSecret\nport = 5432\nengine = x Sup3rSecret\n", c, err));
    // The engine error quotes no value at all.
    assert_null(strstr(err.c_str(), "Sup3rSecret"));
    assert_false(parse("[database]\npassword Sup3rSecret\n", c, err));
    assert_null(strstr(err.c_str(), "Sup3rSecret"));
}

void test_identifiers(void**) {
    assert_true(valid_identifier("auth_user"));
    assert_true(valid_identifier("_x1"));
    assert_false(valid_identifier(""));
    assert_false(valid_identifier("1abc"));
    assert_false(valid_identifier("a-b"));
    assert_false(valid_identifier("a\"b"));
    assert_false(valid_identifier("a b"));
    assert_false(valid_identifier("a$b"));
    assert_false(valid_identifier(std::string(64, 'a')));
    auto l = split_list(" a, b ,,c ");
    assert_int_equal(l.size(), 3);
    assert_string_equal(l[2].c_str(), "c");
}

std::string g_dir;

std::string write_file(const char* name, const std::string& text, mode_t mode) {
    std::string p = g_dir + "/" + name;
    int fd = open(p.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, text.data(), text.size()), ssize_t(text.size()));
    close(fd);
    chmod(p.c_str(), mode);
    return p;
}

// [access]: one line per PAM service, a list of Django groups, "*" or empty.
void test_access(void**) {
    Config c;
    std::string err;
    assert_true(parse("", c, err));
    assert_false(c.access.anyone_can_log_in());            // nobody by default
    assert_true(c.access.rule_for("sshd").empty());
    assert_true(parse("[access]\ndefault =\ndjango-web = *\nSSHD = ssh-users, admins  # ops\n", c, err));
    bool listed = false;
    assert_int_equal(c.access.rule_for("sshd", &listed).size(), 2);
    assert_true(listed);
    assert_string_equal(c.access.rule_for("sshd")[1].c_str(), "admins");
    assert_string_equal(c.access.rule_for("Django-Web")[0].c_str(), "*");
    assert_true(c.access.rule_for("login", &listed).empty());
    assert_false(listed);
    assert_true(c.access.anyone_can_log_in());
    assert_true(parse("[access]\ndefault = *\n", c, err));
    assert_string_equal(c.access.rule_for("anything")[0].c_str(), "*");
    assert_false(parse("[access]\nsshd = *, admins\n", c, err));
    assert_non_null(strstr(err.c_str(), "'*' stands alone"));
    // The host's names and the reserved ones.
    assert_true(parse("[nss]\npasswd_file = /srv/passwd\nreserved_groups = wheel2, ops\n", c, err));
    assert_string_equal(c.nss.passwd_file.c_str(), "/srv/passwd");
    assert_string_equal(c.nss.group_file.c_str(), "/etc/group");
    assert_int_equal(c.nss.reserved_groups.size(), 2);
    assert_false(parse("[nss]\ngroup_file = group\n", c, err));
}

void test_file_checks(void**) {
    Config c;
    std::string err;
    std::string p = write_file("ok.conf", "[database]\nname = /x\n", 0600);
    assert_true(load_config(p, c, err));
    assert_string_equal(c.path.c_str(), p.c_str());

    p = write_file("gw.conf", "[database]\nname = /x\n", 0620);
    assert_false(load_config(p, c, err));
    assert_non_null(strstr(err.c_str(), "writable by group or others"));
    LoadOptions relaxed;
    relaxed.check_permissions = false;
    assert_true(load_config(p, c, err, relaxed));

    if (geteuid() == 0) {
        p = write_file("owner.conf", "[database]\nname = /x\n", 0600);
        assert_int_equal(chown(p.c_str(), 65534, 65534), 0);
        assert_false(load_config(p, c, err));
        assert_non_null(strstr(err.c_str(), "owned by root"));
    }

    std::string pw = write_file("pw", "s3cret\nignored\n", 0600);
    p = write_file("pf.conf", "[database]\npassword_file = " + pw + "\n", 0600);
    assert_true(load_config(p, c, err));
    assert_string_equal(c.database.password.c_str(), "s3cret");
    chmod(pw.c_str(), 0606);
    assert_false(load_config(p, c, err));
    assert_non_null(strstr(err.c_str(), "password_file"));
    assert_null(strstr(err.c_str(), "s3cret"));
    // A secret readable by others is refused; by its group only when that is
    // root's (or the daemon user's) group.
    chmod(pw.c_str(), 0604);
    assert_false(load_config(p, c, err));
    assert_non_null(strstr(err.c_str(), "not be readable by others"));
    assert_null(strstr(err.c_str(), "s3cret"));
    chmod(pw.c_str(), 0640);
    if (geteuid() == 0) {
        assert_int_equal(chown(pw.c_str(), 0, 0), 0);
        assert_true(load_config(p, c, err));
        assert_int_equal(chown(pw.c_str(), 0, 65534), 0);
        assert_false(load_config(p, c, err));
        assert_non_null(strstr(err.c_str(), "readable by group"));
        assert_int_equal(chown(pw.c_str(), 0, 0), 0);
    }
    // The same for a config file with the password in it, not without.
    std::string inline_pw = write_file("ipw.conf", "[database]\npassword = s3cret\n", 0644);
    assert_false(load_config(inline_pw, c, err));
    assert_non_null(strstr(err.c_str(), "not be readable by others"));
    assert_null(strstr(err.c_str(), "s3cret"));
    chmod(inline_pw.c_str(), 0600);
    assert_true(load_config(inline_pw, c, err));
    assert_true(load_config(write_file("nopw.conf", "[database]\nname = /x\n", 0644), c, err));

    assert_false(load_config(g_dir + "/missing.conf", c, err));
    assert_non_null(strstr(err.c_str(), "missing.conf"));
}

int setup(void**) {
    char tmpl[] = "/tmp/test_config.XXXXXX";
    if (!mkdtemp(tmpl)) return -1;
    g_dir = tmpl;
    return 0;
}

int teardown(void**) {
    std::string cmd = "rm -rf '" + g_dir + "'";
    return system(cmd.c_str()) == 0 ? 0 : -1;
}

}  // namespace

int main() {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_access),
        cmocka_unit_test(test_values),
        cmocka_unit_test(test_errors_name_line_and_key),
        cmocka_unit_test(test_password_not_in_errors),
        cmocka_unit_test(test_identifiers),
        cmocka_unit_test(test_file_checks),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
