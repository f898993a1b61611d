// Standard base64 (RFC 4648 alphabet "A-Za-z0-9+/"), strict both ways.
// Django prints pbkdf2/scrypt hashes with padding (base64.b64encode); the
// argon2 PHC strings that libargon2 writes have none.
#pragma once

#include <string>
#include <string_view>

namespace dj::b64 {

std::string encode(const unsigned char* data, size_t len, bool pad = true);

// Strict decode. With pad=true the input must be a multiple of 4 with
// canonical '=' padding; with pad=false there must be no '=' and the length
// must not be 1 mod 4 (libargon2's rules). In both cases the unused low bits
// of the last character must be zero, and only alphabet characters may
// appear. Returns false (out unspecified) on any violation.
bool decode(std::string_view text, std::string& out, bool pad = true);

// Bytes a no-padding base64 text of `chars` characters stands for
// (argon2-cffi's _decoded_str_len).
size_t decoded_len_nopad(size_t chars);

}  // namespace dj::b64
