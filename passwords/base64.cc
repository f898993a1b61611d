#include "passwords/base64.h"

#include <cstdint>

namespace dj::b64 {
namespace {

constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

int value_of(unsigned char c) {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+') return 62;
    if (c == '/') return 63;
    return -1;
}

}  // namespace

std::string encode(const unsigned char* data, size_t len, bool pad) {
    std::string out;
    out.reserve((len + 2) / 3 * 4);
    size_t i = 0;
    for (; i + 3 <= len; i += 3) {
        uint32_t v = (uint32_t{data[i]} << 16) | (uint32_t{data[i + 1]} << 8) | data[i + 2];
        out += kAlphabet[(v >> 18) & 63];
        out += kAlphabet[(v >> 12) & 63];
        out += kAlphabet[(v >> 6) & 63];
        out += kAlphabet[v & 63];
    }
    size_t rest = len - i;
    if (rest == 1) {
        uint32_t v = uint32_t{data[i]} << 16;
        out += kAlphabet[(v >> 18) & 63];
        out += kAlphabet[(v >> 12) & 63];
        if (pad) out += "==";
    } else if (rest == 2) {
        uint32_t v = (uint32_t{data[i]} << 16) | (uint32_t{data[i + 1]} << 8);
        out += kAlphabet[(v >> 18) & 63];
        out += kAlphabet[(v >> 12) & 63];
        out += kAlphabet[(v >> 6) & 63];
        if (pad) out += '=';
    }
    return out;
}

bool decode(std::string_view text, std::string& out, bool pad) {
    out.clear();
    if (pad) {
        if (text.size() % 4 != 0) return false;
        size_t eq = 0;
        while (eq < 2 && eq < text.size() && text[text.size() - 1 - eq] == '=') ++eq;
        text.remove_suffix(eq);
        // "xx==" carries 1 byte and "xxx=" 2: a body of 1 mod 4 is impossible.
        if (eq != 0 && text.size() % 4 != 4 - eq) return false;
    } else if (text.size() % 4 == 1) {
        return false;
    }
    uint32_t acc = 0;
    unsigned bits = 0;
    for (unsigned char c : text) {
        int v = value_of(c);
        if (v < 0) return false;  // also rejects '=' in the middle
        acc = (acc << 6) | static_cast<uint32_t>(v);
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out += static_cast<char>((acc >> bits) & 0xFF);
        }
    }
    // Leftover bits (0, 2 or 4) must be zero, or two texts decode the same.
    return (acc & ((1u << bits) - 1)) == 0;
}

size_t decoded_len_nopad(size_t chars) {
    size_t rem = chars % 4;
    return chars / 4 * 3 + (rem == 3 ? 2 : rem == 2 ? 1 : 0);
}

}  // namespace dj::b64
