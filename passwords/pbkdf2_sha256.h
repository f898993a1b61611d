// PBKDF2-HMAC-SHA256 (RFC 8018), the cost of every pbkdf2_sha256 login.
//
// Why not just OpenSSL's PKCS5_PBKDF2_HMAC: it runs the whole EVP HMAC
// machinery (init, update, final, context copies) once per iteration, which
// costs several times the two SHA-256 compressions the iteration really needs.
// This kernel computes the HMAC inner and outer pad states once, then runs
// exactly two compressions per iteration, on the CPU's SHA extensions when
// present (chosen at run time) and a portable compression otherwise.
// tests/unit/test_pbkdf2_sha256.cc checks it against OpenSSL on 10,000 random
// inputs; bench/ measures it against OpenSSL, Django and the hardware floor.
#pragma once

#include <cstddef>
#include <cstdint>

namespace dj {

// out = PBKDF2-HMAC-SHA256(password, salt, iterations, out_len).
// iterations must be >= 1. Never throws.
void pbkdf2_hmac_sha256(const uint8_t* password, size_t password_len, const uint8_t* salt,
                        size_t salt_len, uint64_t iterations, uint8_t* out,
                        size_t out_len) noexcept;

// The same with the portable compression whatever the CPU has: lets the tests
// check the fallback on machines with SHA extensions.
void pbkdf2_hmac_sha256_portable(const uint8_t* password, size_t password_len,
                                 const uint8_t* salt, size_t salt_len, uint64_t iterations,
                                 uint8_t* out, size_t out_len) noexcept;

// Which SHA-256 compression the kernel uses on this CPU ("sha-ni" or "portable").
const char* sha256_kernel_name() noexcept;

// Runs n SHA-256 compressions back to back with the kernel's compression
// function: the floor the benchmark compares PBKDF2 against.
void sha256_compress_loop(uint64_t n, uint32_t state[8]) noexcept;

}  // namespace dj
