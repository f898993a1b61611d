// django-authctl install-triggers --print / uninstall-triggers --print: the
// SQL that makes PostgreSQL tell django-authd what changed (NOTIFY), with
// the [schema] names of the configuration filled in. The text is
// contrib/django_authd/sql/notify_triggers.sql, built in: the django_authd
// app's migration runs the same file.
#include <unistd.h>

#include <cstdio>
#include <map>
#include <string>

#include "daemon/config.h"
#include "passwords/hashers.h"
#include "tools/commands.h"

namespace dj::ctl {
namespace {

const char kTemplate[] =
#include "notify_triggers_sql.inc"
    ;

// "a" -> "\"a\"", "s.t" -> "\"s\".\"t\"" (names were validated by the parser).
std::string quote_ident(const std::string& name) {
    std::string out = "\"";
    for (char c : name) out += c == '.' ? std::string("\".\"") : std::string(1, c);
    return out + '"';
}

std::map<std::string, std::string> schema_names(const Schema& s) {
    return {{"user_table", s.user_table},
            {"user_id", s.user_id},
            {"user_last_login", s.user_last_login},
            {"group_table", s.group_table},
            {"group_id", s.group_id},
            {"user_groups_table", s.user_groups_table},
            {"user_groups_user", s.user_groups_user},
            {"user_groups_group", s.user_groups_group},
            {"user_perms_table", s.user_perms_table},
            {"user_perms_user", s.user_perms_user},
            {"group_perms_table", s.group_perms_table},
            {"group_perms_group", s.group_perms_group},
            {"key_table", s.key_table},
            {"key_user", s.key_user}};
}

// The part of the template after the line "-- @@<section>" up to the next
// "-- @@" line, placeholders filled in. False on an unknown placeholder.
bool render(const std::string& section, const Schema& schema, std::string& out, std::string& error) {
    const std::string text = kTemplate;
    const std::string marker = "-- @@" + section + "\n";
    size_t from = text.find(marker);
    if (from == std::string::npos) return error = "no section " + section, false;
    from += marker.size();
    size_t to = text.find("-- @@", from);
    const std::string part = text.substr(from, to == std::string::npos ? std::string::npos : to - from);
    const auto names = schema_names(schema);
    out.clear();
    for (size_t i = 0; i < part.size();) {
        const size_t open = part.find('{', i);
        if (open == std::string::npos || (part.compare(open, 3, "{q:") != 0 && part.compare(open, 3, "{s:") != 0)) {
            const size_t stop = open == std::string::npos ? part.size() : open + 1;
            out.append(part, i, stop - i);
            i = stop;
            continue;
        }
        out.append(part, i, open - i);
        const size_t close = part.find('}', open);
        if (close == std::string::npos) return error = "unterminated placeholder", false;
        const std::string key = part.substr(open + 3, close - open - 3);
        auto it = names.find(key);
        if (it == names.end()) return error = "unknown placeholder " + key, false;
        // Names are identifiers ([A-Za-z0-9_$.]): nothing to escape in a literal.
        out += part[open + 1] == 'q' ? quote_ident(it->second) : "'" + it->second + "'";
        i = close + 1;
    }
    return true;
}

int print_sql(const char* cmd, const char* section, int argc, char** argv) {
    std::string config = kDefaultConfigPath;
    bool print = false;
    for (int i = 1; i < argc; ++i) {
        const std::string a = argv[i];
        if (a == "--help" || a == "-h") {
            std::printf("usage: django-authctl %s [--config FILE] --print\n", cmd);
            return kExitOk;
        }
        if (a == "--print") print = true;
        else if (a == "--config" && i + 1 < argc) config = argv[++i];
        else if (a.rfind("--config=", 0) == 0) config = a.substr(9);
        else return usage_error(cmd, "unknown argument " + a);
    }
    // The database owner runs the SQL (the daemon's role may not create
    // triggers): this command only prints it.
    if (!print) return usage_error(cmd, "--print is required: pipe the SQL into psql as the database owner");
    LoadOptions lo;
    lo.check_permissions = false;
    lo.read_password_file = false;
    Config cfg;
    std::string error;
    if (!load_config(config, cfg, error, lo)) return fail(cmd, error);
    wipe(cfg.database.password);
    if (cfg.database.engine != "postgresql")
        return fail(cmd, "[database] engine is " + cfg.database.engine +
                             ": these triggers are for PostgreSQL (the daemon sees a SQLite file's changes by itself)");
    std::string sql;
    if (!render(section, cfg.database.schema, sql, error)) return fail(cmd, error);
    std::printf("BEGIN;\n%sCOMMIT;\n", sql.c_str());
    return kExitOk;
}

}  // namespace

int cmd_install_triggers(int argc, char** argv) { return print_sql("install-triggers", "install", argc, argv); }

int cmd_uninstall_triggers(int argc, char** argv) {
    return print_sql("uninstall-triggers", "uninstall", argc, argv);
}

}  // namespace dj::ctl
