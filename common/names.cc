#include "common/names.h"

#include <cstdio>

namespace dj::names {

bool nss_ok(std::string_view name) {
    if (name.empty() || name.size() > kMaxNssBytes) return false;
    if (name[0] == '+' || name[0] == '-') return false;
    if (name == "." || name == "..") return false;
    for (unsigned char c : name) {
        if (c < 0x20 || c == 0x7f || c == ':' || c == ',' || c == ' ' || c == '/') return false;
    }
    return true;
}

std::string_view without_trailing_spaces(std::string_view name) {
    while (!name.empty() && name.back() == ' ') name.remove_suffix(1);
    return name;
}

size_t utf8_length(std::string_view s) {
    size_t n = 0;
    for (char c : s)
        if ((static_cast<unsigned char>(c) & 0xC0) != 0x80) ++n;
    return n;
}

bool plausible_user(std::string_view name) {
    if (name.empty() || name.front() == '+' || name.front() == '-') return false;
    if (name.size() > 4 * kMaxUserChars || utf8_length(name) > kMaxUserChars) return false;
    for (char c : name) {
        unsigned char u = static_cast<unsigned char>(c);
        if (u < 0x20 || u == 0x7f) return false;
    }
    return true;
}

std::string fold(std::string_view s) {
    std::string out(s);
    for (char& c : out)
        if (c >= 'A' && c <= 'Z') c = char(c - 'A' + 'a');
    return out;
}

std::string printable(std::string_view s, size_t max, Escape how) {
    std::string out;
    out.reserve(s.size() < max ? s.size() : max);
    for (unsigned char c : s.substr(0, max)) {
        if (how == Escape::Mark) {
            out += (c < 0x20 || c == 0x7f) ? '?' : char(c);
        } else if (c >= 0x20 && c < 0x7f && c != '\\') {
            out += char(c);
        } else {
            char b[5];
            snprintf(b, sizeof b, "\\x%02x", c);
            out += b;
        }
    }
    if (s.size() > max) out += "...";
    return out;
}

}  // namespace dj::names
