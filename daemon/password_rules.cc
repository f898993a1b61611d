// See password_rules.h.
#include "daemon/password_rules.h"

#include <locale.h>
#include <wctype.h>
#include <zlib.h>

#include <cerrno>
#include <cstring>
#include <map>
#include <stdexcept>

#include "passwords/hasher.h"

namespace dj {
namespace {

// glibc's built-in C.UTF-8 for the wide-character classes and case mapping.
locale_t utf8_locale() {
    static const locale_t loc = newlocale(LC_CTYPE_MASK, "C.UTF-8", locale_t(0));
    return loc;
}

char32_t lower_char(char32_t c) {
    if (c < 0x80) return (c >= 'A' && c <= 'Z') ? c + 32 : c;
    locale_t loc = utf8_locale();
    return loc ? char32_t(towlower_l(wint_t(c), loc)) : c;
}

// Python's str.isspace(): the characters with bidirectional type WS, B or S,
// or category Zs.
bool py_space(char32_t c) {
    return (c >= 0x09 && c <= 0x0d) || (c >= 0x1c && c <= 0x20) || c == 0x85 || c == 0xa0 || c == 0x1680 ||
           (c >= 0x2000 && c <= 0x200a) || c == 0x2028 || c == 0x2029 || c == 0x202f || c == 0x205f ||
           c == 0x3000;
}

// Python's \w in a str pattern: alphanumeric or '_'.
bool word_char(char32_t c) {
    if (c < 0x80) return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
    locale_t loc = utf8_locale();
    return loc && iswalnum_l(wint_t(c), loc);
}

// UTF-8 to code points; a byte that starts no valid sequence stands for itself.
std::u32string decode(std::string_view s) {
    std::u32string out;
    out.reserve(s.size());
    for (size_t i = 0; i < s.size();) {
        const unsigned char b = static_cast<unsigned char>(s[i]);
        const size_t len = b < 0x80 ? 1 : (b >> 5) == 6 ? 2 : (b >> 4) == 14 ? 3 : (b >> 3) == 30 ? 4 : 0;
        char32_t c = len == 1 ? b : len == 2 ? (b & 0x1f) : len == 3 ? (b & 0x0f) : (b & 0x07);
        bool ok = len > 0 && i + len <= s.size();
        for (size_t k = 1; ok && k < len; ++k) {
            const unsigned char cb = static_cast<unsigned char>(s[i + k]);
            ok = (cb & 0xc0) == 0x80;
            c = (c << 6) | (cb & 0x3f);
        }
        if (!ok) {
            out.push_back(b);
            ++i;
            continue;
        }
        out.push_back(c);
        i += len;
    }
    return out;
}

const char* verbose_name(int i) {
    static const char* const names[] = {"username", "first name", "last name"};
    return names[i];
}

std::unordered_set<std::u32string> read_list(const std::string& path) {
    // zlib reads a gzip file, or a plain one as it is (Django: gzip.open,
    // then open on OSError).
    gzFile f = gzopen(path.c_str(), "rb");
    if (!f) throw std::runtime_error("passwords.common_passwords " + path + ": " + std::strerror(errno));
    std::string text;
    char buf[65536];
    int n;
    while ((n = gzread(f, buf, sizeof buf)) > 0) {
        text.append(buf, size_t(n));
        if (text.size() > (64u << 20)) break;
    }
    const bool failed = n < 0;
    gzclose(f);
    if (failed) throw std::runtime_error("passwords.common_passwords " + path + ": cannot be read");
    std::unordered_set<std::u32string> set;
    size_t start = 0;
    while (start < text.size()) {
        size_t nl = text.find('\n', start);
        if (nl == std::string::npos) nl = text.size();
        set.insert(PasswordRules::strip(decode(std::string_view(text).substr(start, nl - start))));
        start = nl + 1;
    }
    return set;
}

}  // namespace

std::u32string PasswordRules::lower(std::string_view utf8) {
    std::u32string s = decode(utf8);
    for (char32_t& c : s) c = lower_char(c);
    return s;
}

std::u32string PasswordRules::strip(const std::u32string& s) {
    size_t b = 0, e = s.size();
    while (b < e && py_space(s[b])) ++b;
    while (e > b && py_space(s[e - 1])) --e;
    return s.substr(b, e - b);
}

double PasswordRules::quick_ratio(const std::u32string& a, const std::u32string& b) {
    std::map<char32_t, long> avail;
    for (char32_t c : b) avail[c]++;
    size_t matches = 0;
    for (char32_t c : a) {
        auto it = avail.find(c);
        if (it != avail.end() && it->second-- > 0) ++matches;
    }
    const size_t length = a.size() + b.size();
    return length ? 2.0 * double(matches) / double(length) : 1.0;
}

PasswordRules::PasswordRules(const PasswordsConfig& p)
    : order_(p.validators), min_length_(p.min_length), max_similarity_(p.max_similarity) {
    for (const auto& v : order_)
        if (v == "CommonPasswordValidator") common_ = read_list(p.common_passwords);
}

std::vector<std::string> PasswordRules::check(std::string_view password, const UserAttributes& user) const {
    std::vector<std::string> errors;
    for (const auto& v : order_) {
        if (v == "MinimumLengthValidator") {
            if (utf8_chars(password) < min_length_)
                errors.push_back("This password is too short. It must contain at least " + std::to_string(min_length_) +
                                 (min_length_ == 1 ? " character." : " characters."));
        } else if (v == "CommonPasswordValidator") {
            std::u32string key = strip(lower(password));
            if (common_.count(key)) errors.push_back("This password is too common.");
            std::fill(key.begin(), key.end(), U'\0');
        } else if (v == "NumericPasswordValidator") {
            if (!password.empty() && password.find_first_not_of("0123456789") == std::string_view::npos)
                errors.push_back("This password is entirely numeric.");
        } else if (v == "UserAttributeSimilarityValidator") {
            std::u32string pw = lower(password);
            const std::string* attrs[] = {&user.username, &user.first_name, &user.last_name};
            bool similar = false;
            for (int i = 0; i < 3 && !similar; ++i) {
                if (attrs[i]->empty()) continue;
                const std::u32string value = lower(*attrs[i]);
                // re.split(r"\W+", value) + [value]
                std::vector<std::u32string> parts;
                std::u32string cur;
                for (size_t k = 0; k < value.size();) {
                    if (word_char(value[k])) {
                        cur.push_back(value[k++]);
                        continue;
                    }
                    parts.push_back(cur);
                    cur.clear();
                    while (k < value.size() && !word_char(value[k])) ++k;
                }
                parts.push_back(cur);
                parts.push_back(value);
                for (const auto& part : parts) {
                    if (quick_ratio(pw, part) >= max_similarity_) {
                        errors.push_back(std::string("The password is too similar to the ") + verbose_name(i) + ".");
                        similar = true;
                        break;
                    }
                }
            }
            std::fill(pw.begin(), pw.end(), U'\0');
        }
    }
    return errors;
}

}  // namespace dj
