// The authorized_keys line check (ssh_keys.h). The option syntax is
// OpenSSH's (auth-options.c): NAME or NAME="VALUE" (\" inside a value),
// separated by commas, ended by the first space outside quotes.
#include "daemon/ssh_keys.h"

#include <openssl/evp.h>

#include <algorithm>
#include <cstdint>

namespace dj::sshkeys {

const std::vector<std::string_view> kKeyTypes = {
    "ssh-ed25519",
    "ssh-rsa",
    "ecdsa-sha2-nistp256",
    "ecdsa-sha2-nistp384",
    "ecdsa-sha2-nistp521",
    "sk-ssh-ed25519@openssh.com",
    "sk-ecdsa-sha2-nistp256@openssh.com",
};

namespace {

char lower(char c) { return c >= 'A' && c <= 'Z' ? char(c - 'A' + 'a') : c; }

bool iequal(std::string_view a, std::string_view b) {
    return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
               return lower(x) == lower(y);
           });
}

bool name_char(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-';
}

bool known_type(std::string_view t) { return std::find(kKeyTypes.begin(), kKeyTypes.end(), t) != kKeyTypes.end(); }

// The options sshd knows (sshd(8), AUTHORIZED_KEYS FILE FORMAT); it refuses a
// line with any other.
const std::string_view kOptions[] = {
    "agent-forwarding", "cert-authority", "command",     "environment",        "expiry-time",
    "from",             "no-agent-forwarding",           "no-port-forwarding", "no-pty",
    "no-touch-required", "no-user-rc",    "no-x11-forwarding", "permitlisten", "permitopen",
    "port-forwarding",  "principals",     "pty",         "restrict",           "tunnel",
    "user-rc",          "verify-required", "x11-forwarding",
};

bool known_option(std::string_view name) {
    for (auto o : kOptions)
        if (iequal(o, name)) return true;
    return false;
}

// The reason a byte makes the line unusable, or nullptr.
const char* bad_byte(unsigned char c) {
    if (c == '\n') return "contains a newline";
    if (c == '\r') return "contains a carriage return";
    if (c == '\0') return "contains a NUL byte";
    if (c < 0x20 || c == 0x7f) return "contains a control character";
    return nullptr;
}

// Strict base64 (RFC 4648 alphabet, padding only at the end) decoded by
// OpenSSL; nothing when `in` is not exactly that.
std::optional<std::string> decode_base64(std::string_view in) {
    if (in.empty() || in.size() % 4 != 0) return std::nullopt;
    size_t pad = 0;
    for (size_t i = 0; i < in.size(); ++i) {
        const char c = in[i];
        if (c == '=') {
            if (i + 2 < in.size()) return std::nullopt;  // '=' only in the last two places
            ++pad;
            continue;
        }
        if (pad) return std::nullopt;  // data after padding
        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '+' || c == '/'))
            return std::nullopt;
    }
    std::string out(in.size() / 4 * 3, '\0');
    const int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                  reinterpret_cast<const unsigned char*>(in.data()), int(in.size()));
    if (n < 0 || size_t(n) < pad) return std::nullopt;
    out.resize(size_t(n) - pad);  // EVP_DecodeBlock counts the padding as zero bytes
    return out;
}

// Whether the key blob begins with the SSH string `type`, followed by key data.
bool blob_has_type(std::string_view blob, std::string_view type) {
    if (blob.size() < 4) return false;
    const auto* p = reinterpret_cast<const unsigned char*>(blob.data());
    const uint32_t len = (uint32_t(p[0]) << 24) | (uint32_t(p[1]) << 16) | (uint32_t(p[2]) << 8) | uint32_t(p[3]);
    return len == type.size() && blob.size() > 4 + size_t(len) && blob.substr(4, len) == type;
}

// Reads the options at the start of `s` up to the first space outside quotes;
// `pos` is left there. Empty `why` on success.
void read_options(std::string_view s, size_t& pos, const AllowedOptions& allowed, std::string& why) {
    for (;;) {
        const size_t start = pos;
        while (pos < s.size() && name_char(s[pos])) ++pos;
        const std::string_view name = s.substr(start, pos - start);
        if (name.empty() || name.size() > 64) {
            why = "malformed options";
            return;
        }
        if (!known_option(name)) {
            why = "unknown option '" + std::string(name) + "'";
            return;
        }
        bool with_value = false;
        if (pos < s.size() && s[pos] == '=') {
            with_value = true;
            if (++pos >= s.size() || s[pos] != '"') {
                why = "malformed value of option '" + std::string(name) + "'";
                return;
            }
            ++pos;
            bool closed = false;
            for (; pos < s.size(); ++pos) {
                if (s[pos] == '\\' && pos + 1 < s.size() && s[pos + 1] == '"') {
                    ++pos;
                } else if (s[pos] == '"') {
                    closed = true;
                    ++pos;
                    break;
                } else if (static_cast<unsigned char>(s[pos]) >= 0x80) {
                    why = "non-ASCII value of option '" + std::string(name) + "'";
                    return;
                }
            }
            if (!closed) {
                why = "unterminated value of option '" + std::string(name) + "'";
                return;
            }
        }
        if (!allowed.allows(name, with_value)) {
            why = "option '" + std::string(name) + (with_value ? "=" : "") + "' not allowed ([ssh] allowed_options)";
            return;
        }
        if (pos < s.size() && s[pos] == ',') {
            ++pos;
            continue;
        }
        if (pos < s.size() && s[pos] == ' ') return;
        why = "malformed options";
        return;
    }
}

std::string_view next_field(std::string_view s, size_t& pos) {
    while (pos < s.size() && s[pos] == ' ') ++pos;
    const size_t start = pos;
    while (pos < s.size() && s[pos] != ' ') ++pos;
    return s.substr(start, pos - start);
}

}  // namespace

bool AllowedOptions::allows(std::string_view name, bool with_value) const {
    for (const auto& e : entries) {
        const bool takes_value = !e.empty() && e.back() == '=';
        if (takes_value == with_value && iequal(std::string_view(e).substr(0, e.size() - (takes_value ? 1 : 0)), name))
            return true;
    }
    return false;
}

std::optional<std::string> check_line(std::string_view stored, const AllowedOptions& allowed, std::string& why) {
    why.clear();
    if (stored.size() > kMaxKeyLine) {
        why = "longer than " + std::to_string(kMaxKeyLine) + " bytes";
        return std::nullopt;
    }
    for (char c : stored)
        if (const char* bad = bad_byte(static_cast<unsigned char>(c))) {
            why = bad;
            return std::nullopt;
        }
    while (!stored.empty() && stored.front() == ' ') stored.remove_prefix(1);
    while (!stored.empty() && stored.back() == ' ') stored.remove_suffix(1);
    if (stored.empty()) {
        why = "empty";
        return std::nullopt;
    }
    size_t pos = 0;
    std::string_view options;
    if (size_t first_end = stored.find(' '); !known_type(stored.substr(0, first_end))) {
        // Options come first, or the type is not one we know.
        const std::string_view first = stored.substr(0, stored.find_first_of(" =,"));
        if (!known_option(first)) {
            why = "unknown key type";
            return std::nullopt;
        }
        read_options(stored, pos, allowed, why);
        if (!why.empty()) return std::nullopt;
        options = stored.substr(0, pos);
    }
    const std::string_view type = next_field(stored, pos);
    if (!known_type(type)) {
        why = "unknown key type";
        return std::nullopt;
    }
    const std::string_view data = next_field(stored, pos);
    if (data.empty()) {
        why = "no key data";
        return std::nullopt;
    }
    const auto blob = decode_base64(data);
    if (!blob) {
        why = "key data is not valid base64";
        return std::nullopt;
    }
    if (!blob_has_type(*blob, type)) {
        why = "key data is not a " + std::string(type) + " key";
        return std::nullopt;
    }
    while (pos < stored.size() && stored[pos] == ' ') ++pos;
    const std::string_view comment = stored.substr(pos);
    std::string out;
    out.reserve(stored.size());
    if (!options.empty()) out.append(options).append(" ");
    out.append(type).append(" ").append(data);
    if (!comment.empty()) out.append(" ").append(comment);
    return out;
}

}  // namespace dj::sshkeys
