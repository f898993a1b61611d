#include "daemon/mysql_text.h"

#include <stdexcept>

namespace dj::db {

MysqlStatement mysql_statement(const std::string& in) {
    MysqlStatement out;
    out.sql.reserve(in.size());
    bool quoted = false;  // inside "identifier": copied as is ('$' is no marker there)
    for (size_t i = 0; i < in.size(); ++i) {
        char c = in[i];
        if (c == '"') {
            quoted = !quoted;
            out.sql += '`';
        } else if (c == '$' && !quoted && i + 1 < in.size() && in[i + 1] >= '1' && in[i + 1] <= '9') {
            int n = 0;
            while (i + 1 < in.size() && in[i + 1] >= '0' && in[i + 1] <= '9') n = n * 10 + (in[++i] - '0');
            out.order.push_back(n - 1);
            out.sql += '?';
        } else {
            out.sql += c;
        }
    }
    if (quoted) throw std::invalid_argument("unbalanced quote in a statement");
    return out;
}

namespace {

bool yes_no(const std::string& key, const std::string& v) {
    if (v == "yes" || v == "true" || v == "1" || v == "on") return true;
    if (v == "no" || v == "false" || v == "0" || v == "off") return false;
    throw std::invalid_argument("database.options: " + key + ": expected yes or no");
}

}  // namespace

MysqlOptions parse_mysql_options(const std::string& text) {
    MysqlOptions o;
    size_t i = 0;
    while (i < text.size()) {
        if (text[i] == ' ' || text[i] == '\t') {
            ++i;
            continue;
        }
        size_t end = text.find_first_of(" \t", i);
        if (end == std::string::npos) end = text.size();
        std::string pair = text.substr(i, end - i);
        i = end;
        size_t eq = pair.find('=');
        if (eq == std::string::npos || eq == 0)
            throw std::invalid_argument("database.options: expected key=value, got '" + pair + "'");
        std::string k = pair.substr(0, eq), v = pair.substr(eq + 1);
        std::string* field = k == "ssl_ca"        ? &o.ssl_ca
                             : k == "ssl_capath"  ? &o.ssl_capath
                             : k == "ssl_cert"    ? &o.ssl_cert
                             : k == "ssl_key"     ? &o.ssl_key
                             : k == "ssl_cipher"  ? &o.ssl_cipher
                             : k == "ssl_crl"     ? &o.ssl_crl
                             : k == "ssl_crlpath" ? &o.ssl_crlpath
                             : k == "tls_version" ? &o.tls_version
                                                  : nullptr;
        if (field)
            *field = v;
        else if (k == "ssl")
            o.ssl = yes_no(k, v);
        else if (k == "ssl_verify_server_cert")
            o.ssl_verify_server_cert = yes_no(k, v);
        else
            throw std::invalid_argument("database.options: unknown key '" + k +
                                        "' for engine mysql (ssl, ssl_ca, ssl_capath, ssl_cert, ssl_key, ssl_cipher, "
                                        "ssl_crl, ssl_crlpath, tls_version, ssl_verify_server_cert)");
    }
    // A CA or a client certificate means TLS, as with Django's OPTIONS['ssl'].
    if (!o.ssl_ca.empty() || !o.ssl_capath.empty() || !o.ssl_cert.empty()) o.ssl = true;
    return o;
}

}  // namespace dj::db
