// PBKDF2-HMAC-SHA256 with precomputed HMAC pads; see pbkdf2_sha256.h.
//
// The compression functions here take the 16 message words already decoded
// (host order). PBKDF2's inner loop feeds one hash's output state straight in
// as the next message, so no byte swapping happens per iteration.
#include "passwords/pbkdf2_sha256.h"

#include <openssl/crypto.h>
#include <openssl/sha.h>

#include <algorithm>
#include <cstring>

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#include <immintrin.h>
#define DJ_HAVE_X86 1
#endif

namespace dj {
namespace {

constexpr uint32_t kInit[8] = {0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
                               0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19};

alignas(16) constexpr uint32_t K[64] = {
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4,
    0xab1c5ed5, 0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe,
    0x9bdc06a7, 0xc19bf174, 0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f,
    0x4a7484aa, 0x5cb0a9dc, 0x76f988da, 0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7,
    0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967, 0x27b70a85, 0x2e1b2138, 0x4d2c6dfc,
    0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85, 0xa2bfe8a1, 0xa81a664b,
    0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070, 0x19a4c116,
    0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7,
    0xc67178f2};

inline uint32_t rotr(uint32_t x, int n) { return (x >> n) | (x << (32 - n)); }

void compress_portable(uint32_t st[8], const uint32_t in[16]) noexcept {
    uint32_t w[64];
    std::memcpy(w, in, 64);
    for (int t = 16; t < 64; ++t) {
        uint32_t s0 = rotr(w[t - 15], 7) ^ rotr(w[t - 15], 18) ^ (w[t - 15] >> 3);
        uint32_t s1 = rotr(w[t - 2], 17) ^ rotr(w[t - 2], 19) ^ (w[t - 2] >> 10);
        w[t] = w[t - 16] + s0 + w[t - 7] + s1;
    }
    uint32_t a = st[0], b = st[1], c = st[2], d = st[3], e = st[4], f = st[5], g = st[6],
             h = st[7];
    for (int t = 0; t < 64; ++t) {
        uint32_t t1 = h + (rotr(e, 6) ^ rotr(e, 11) ^ rotr(e, 25)) + ((e & f) ^ (~e & g)) + K[t] +
                      w[t];
        uint32_t t2 = (rotr(a, 2) ^ rotr(a, 13) ^ rotr(a, 22)) + ((a & b) ^ (a & c) ^ (b & c));
        h = g;
        g = f;
        f = e;
        e = d + t1;
        d = c;
        c = b;
        b = a;
        a = t1 + t2;
    }
    st[0] += a;
    st[1] += b;
    st[2] += c;
    st[3] += d;
    st[4] += e;
    st[5] += f;
    st[6] += g;
    st[7] += h;
}

#ifdef DJ_HAVE_X86
// Intel SHA extensions: the state lives in the ABEF/CDGH register layout that
// sha256rnds2 wants; sha256msg1/msg2 extend the message schedule.
// 64 rounds on a state in ABEF/CDGH layout, message words in lane order
// (m0 = W0..W3), fully unrolled so message expansion overlaps the rounds.
// Returns the new state with the feed-forward added.
#define DJ_SHANI __attribute__((target("sha,sse4.1,ssse3"), always_inline)) inline
DJ_SHANI void rounds4(__m128i& s0, __m128i& s1, __m128i m, int i) {
    __m128i mk = _mm_add_epi32(m, _mm_load_si128(reinterpret_cast<const __m128i*>(K + 4 * i)));
    s1 = _mm_sha256rnds2_epu32(s1, s0, mk);
    mk = _mm_shuffle_epi32(mk, 0x0E);
    s0 = _mm_sha256rnds2_epu32(s0, s1, mk);
}
DJ_SHANI __m128i expand(__m128i a, __m128i b, __m128i c, __m128i d) {
    // Next 4 schedule words from the previous 16 (a oldest, d newest).
    __m128i m = _mm_sha256msg1_epu32(a, b);
    m = _mm_add_epi32(m, _mm_alignr_epi8(d, c, 4));
    return _mm_sha256msg2_epu32(m, d);
}
DJ_SHANI void sha_rounds(__m128i& abef, __m128i& cdgh, __m128i m0, __m128i m1, __m128i m2,
                         __m128i m3) {
    __m128i s0 = abef, s1 = cdgh;
    rounds4(s0, s1, m0, 0);
    rounds4(s0, s1, m1, 1);
    rounds4(s0, s1, m2, 2);
    rounds4(s0, s1, m3, 3);
#pragma GCC unroll 3
    for (int i = 4; i < 16; i += 4) {
        m0 = expand(m0, m1, m2, m3);
        rounds4(s0, s1, m0, i);
        m1 = expand(m1, m2, m3, m0);
        rounds4(s0, s1, m1, i + 1);
        m2 = expand(m2, m3, m0, m1);
        rounds4(s0, s1, m2, i + 2);
        m3 = expand(m3, m0, m1, m2);
        rounds4(s0, s1, m3, i + 3);
    }
    abef = _mm_add_epi32(s0, abef);
    cdgh = _mm_add_epi32(s1, cdgh);
}
// Register layout conversions: words A..H in lane order <-> ABEF/CDGH.
DJ_SHANI void to_abef(__m128i dcba, __m128i hgfe, __m128i& abef, __m128i& cdgh) {
    __m128i tmp = _mm_shuffle_epi32(dcba, 0xB1);  // CDAB
    hgfe = _mm_shuffle_epi32(hgfe, 0x1B);         // EFGH
    abef = _mm_alignr_epi8(tmp, hgfe, 8);         // ABEF
    cdgh = _mm_blend_epi16(hgfe, tmp, 0xF0);      // CDGH
}
DJ_SHANI void from_abef(__m128i abef, __m128i cdgh, __m128i& dcba, __m128i& hgfe) {
    __m128i tmp = _mm_shuffle_epi32(abef, 0x1B);  // FEBA
    cdgh = _mm_shuffle_epi32(cdgh, 0xB1);         // DCHG
    dcba = _mm_blend_epi16(tmp, cdgh, 0xF0);      // DCBA
    hgfe = _mm_alignr_epi8(cdgh, tmp, 8);         // HGFE
}

// The PBKDF2 iteration loop with everything in registers: per iteration one
// inner and one outer compression and the XOR into T.
__attribute__((target("sha,sse4.1,ssse3"))) void iterate_shani(const uint32_t istate[8],
                                                                const uint32_t ostate[8],
                                                                uint32_t u[8], uint32_t t[8],
                                                                uint64_t n) noexcept {
    auto ld = [](const uint32_t* p) { return _mm_loadu_si128(reinterpret_cast<const __m128i*>(p)); };
    __m128i i_abef, i_cdgh, o_abef, o_cdgh;
    to_abef(ld(istate), ld(istate + 4), i_abef, i_cdgh);
    to_abef(ld(ostate), ld(ostate + 4), o_abef, o_cdgh);
    const __m128i pad0 = _mm_set_epi32(0, 0, 0, int(0x80000000u));  // W8..W11
    const __m128i pad1 = _mm_set_epi32((64 + 32) * 8, 0, 0, 0);     // W12..W15
    __m128i u0 = ld(u), u1 = ld(u + 4), t0 = ld(t), t1 = ld(t + 4);
    for (uint64_t j = 0; j < n; ++j) {
        __m128i a = i_abef, c = i_cdgh;
        sha_rounds(a, c, u0, u1, pad0, pad1);
        __m128i h0, h1;
        from_abef(a, c, h0, h1);
        a = o_abef;
        c = o_cdgh;
        sha_rounds(a, c, h0, h1, pad0, pad1);
        from_abef(a, c, u0, u1);
        t0 = _mm_xor_si128(t0, u0);
        t1 = _mm_xor_si128(t1, u1);
    }
    _mm_storeu_si128(reinterpret_cast<__m128i*>(u), u0);
    _mm_storeu_si128(reinterpret_cast<__m128i*>(u + 4), u1);
    _mm_storeu_si128(reinterpret_cast<__m128i*>(t), t0);
    _mm_storeu_si128(reinterpret_cast<__m128i*>(t + 4), t1);
}

// One compression through the same unrolled rounds (floor measurement and
// the non-loop uses).
__attribute__((target("sha,sse4.1,ssse3"))) void compress_shani(uint32_t st[8],
                                                                 const uint32_t in[16]) noexcept {
    auto ld = [](const uint32_t* p) { return _mm_loadu_si128(reinterpret_cast<const __m128i*>(p)); };
    __m128i abef, cdgh;
    to_abef(ld(st), ld(st + 4), abef, cdgh);
    sha_rounds(abef, cdgh, ld(in), ld(in + 4), ld(in + 8), ld(in + 12));
    __m128i lo, hi;
    from_abef(abef, cdgh, lo, hi);
    _mm_storeu_si128(reinterpret_cast<__m128i*>(st), lo);
    _mm_storeu_si128(reinterpret_cast<__m128i*>(st + 4), hi);
}

bool cpu_has_sha_ni() noexcept {
    unsigned a, b, c, d;
    if (!__get_cpuid(1, &a, &b, &c, &d)) return false;
    const bool ssse3 = c & (1u << 9), sse41 = c & (1u << 19);
    if (__get_cpuid_max(0, nullptr) < 7) return false;
    __cpuid_count(7, 0, a, b, c, d);
    return ssse3 && sse41 && (b & (1u << 29));
}
#endif

using CompressFn = void (*)(uint32_t[8], const uint32_t[16]) noexcept;
// Runs n PBKDF2 iterations: u = HMAC(u) via the pad states, t ^= u.
using IterateFn = void (*)(const uint32_t[8], const uint32_t[8], uint32_t[8], uint32_t[8],
                           uint64_t) noexcept;

void iterate_portable(const uint32_t istate[8], const uint32_t ostate[8], uint32_t u[8],
                      uint32_t t[8], uint64_t n) noexcept {
    // Message block for HMAC over a 32-byte value after the 64-byte pad block:
    // 8 words of data, 0x80, zeros, and the bit length (64 + 32) * 8.
    uint32_t blk[16] = {};
    blk[8] = 0x80000000u;
    blk[15] = (64 + 32) * 8;
    uint32_t s[8];
    for (uint64_t j = 0; j < n; ++j) {
        std::memcpy(blk, u, 32);
        std::memcpy(s, istate, 32);
        compress_portable(s, blk);  // inner hash
        std::memcpy(blk, s, 32);
        std::memcpy(u, ostate, 32);
        compress_portable(u, blk);  // outer hash = U_j
        for (int i = 0; i < 8; ++i) t[i] ^= u[i];
    }
    OPENSSL_cleanse(blk, sizeof blk);
    OPENSSL_cleanse(s, sizeof s);
}

struct Kernel {
    CompressFn fn;
    IterateFn iterate;
    const char* name;
};

Kernel pick_kernel() noexcept {
#ifdef DJ_HAVE_X86
    if (cpu_has_sha_ni()) return {compress_shani, iterate_shani, "sha-ni"};
#endif
    return {compress_portable, iterate_portable, "portable"};
}

const Kernel& kernel() noexcept {
    static const Kernel k = pick_kernel();
    return k;
}

inline uint32_t load_be(const uint8_t* p) {
    return (uint32_t(p[0]) << 24) | (uint32_t(p[1]) << 16) | (uint32_t(p[2]) << 8) | p[3];
}

// State after compressing one 64-byte block (key ^ pad) from the initial state.
void pad_state(const uint8_t key[64], uint8_t pad, uint32_t st[8], CompressFn fn) {
    uint32_t w[16];
    for (int i = 0; i < 16; ++i) {
        uint8_t b[4];
        for (int j = 0; j < 4; ++j) b[j] = key[4 * i + j] ^ pad;
        w[i] = load_be(b);
    }
    std::memcpy(st, kInit, sizeof kInit);
    fn(st, w);
    OPENSSL_cleanse(w, sizeof w);
}

// SHA-256 of (one already-compressed 64-byte block || data), for the HMAC
// messages whose length is not fixed.
class Stream {
public:
    Stream(const uint32_t start[8], CompressFn fn) : fn_(fn) { std::memcpy(st_, start, 32); }
    ~Stream() {
        OPENSSL_cleanse(st_, sizeof st_);
        OPENSSL_cleanse(buf_, sizeof buf_);
    }
    void update(const uint8_t* p, size_t n) {
        total_ += n;
        while (n > 0) {
            size_t take = std::min(n, sizeof buf_ - used_);
            std::memcpy(buf_ + used_, p, take);
            used_ += take;
            p += take;
            n -= take;
            if (used_ == sizeof buf_) block();
        }
    }
    void final(uint8_t out[32]) {
        const uint64_t bits = (total_ + 64) * 8;  // + the pad block compressed earlier
        buf_[used_++] = 0x80;
        if (used_ > 56) {
            std::memset(buf_ + used_, 0, sizeof buf_ - used_);
            used_ = sizeof buf_;
            block();
        }
        std::memset(buf_ + used_, 0, 56 - used_);
        for (int i = 0; i < 8; ++i) buf_[56 + i] = uint8_t(bits >> (56 - 8 * i));
        used_ = sizeof buf_;
        block();
        for (int i = 0; i < 8; ++i) {
            out[4 * i] = uint8_t(st_[i] >> 24);
            out[4 * i + 1] = uint8_t(st_[i] >> 16);
            out[4 * i + 2] = uint8_t(st_[i] >> 8);
            out[4 * i + 3] = uint8_t(st_[i]);
        }
    }

private:
    void block() {
        uint32_t w[16];
        for (int i = 0; i < 16; ++i) w[i] = load_be(buf_ + 4 * i);
        fn_(st_, w);
        OPENSSL_cleanse(w, sizeof w);
        used_ = 0;
    }
    CompressFn fn_;
    uint32_t st_[8];
    uint8_t buf_[64];
    size_t used_ = 0;
    uint64_t total_ = 0;
};

}  // namespace

const char* sha256_kernel_name() noexcept { return kernel().name; }

void sha256_compress_loop(uint64_t n, uint32_t state[8]) noexcept {
    const CompressFn fn = kernel().fn;
    uint32_t w[16] = {};
    for (uint64_t i = 0; i < n; ++i) {
        std::memcpy(w, state, 32);  // chain like PBKDF2 does: output feeds the next block
        fn(state, w);
    }
}

namespace {

void pbkdf2_with(const Kernel& k, const uint8_t* password, size_t password_len,
                 const uint8_t* salt, size_t salt_len, uint64_t iterations, uint8_t* out,
                 size_t out_len) noexcept {
    const CompressFn fn = k.fn;
    // HMAC key block: the password, or its digest when longer than a block.
    uint8_t key[64] = {};
    if (password_len > 64)
        SHA256(password, password_len, key);
    else if (password_len > 0)
        std::memcpy(key, password, password_len);
    uint32_t istate[8], ostate[8];
    pad_state(key, 0x36, istate, fn);
    pad_state(key, 0x5c, ostate, fn);

    uint32_t u[8], t[8];
    for (uint32_t block = 1; out_len > 0; ++block) {
        // U1 = HMAC(P, S || INT(block)): the only variable-length message.
        uint8_t u1[32];
        {
            const uint8_t be[4] = {uint8_t(block >> 24), uint8_t(block >> 16),
                                   uint8_t(block >> 8), uint8_t(block)};
            Stream inner(istate, fn);
            inner.update(salt, salt_len);
            inner.update(be, 4);
            uint8_t ih[32];
            inner.final(ih);
            Stream outer(ostate, fn);
            outer.update(ih, 32);
            outer.final(u1);
            OPENSSL_cleanse(ih, sizeof ih);
        }
        for (int i = 0; i < 8; ++i) u[i] = t[i] = load_be(u1 + 4 * i);
        if (iterations > 1) k.iterate(istate, ostate, u, t, iterations - 1);
        uint8_t tb[32];
        for (int i = 0; i < 8; ++i) {
            tb[4 * i] = uint8_t(t[i] >> 24);
            tb[4 * i + 1] = uint8_t(t[i] >> 16);
            tb[4 * i + 2] = uint8_t(t[i] >> 8);
            tb[4 * i + 3] = uint8_t(t[i]);
        }
        size_t n = std::min<size_t>(out_len, 32);
        std::memcpy(out, tb, n);
        out += n;
        out_len -= n;
        OPENSSL_cleanse(tb, sizeof tb);
        OPENSSL_cleanse(u1, sizeof u1);
    }
    OPENSSL_cleanse(key, sizeof key);
    OPENSSL_cleanse(istate, sizeof istate);
    OPENSSL_cleanse(ostate, sizeof ostate);
    OPENSSL_cleanse(u, sizeof u);
    OPENSSL_cleanse(t, sizeof t);
}

}  // namespace

void pbkdf2_hmac_sha256(const uint8_t* password, size_t password_len, const uint8_t* salt,
                        size_t salt_len, uint64_t iterations, uint8_t* out,
                        size_t out_len) noexcept {
    pbkdf2_with(kernel(), password, password_len, salt, salt_len, iterations, out, out_len);
}

void pbkdf2_hmac_sha256_portable(const uint8_t* password, size_t password_len,
                                 const uint8_t* salt, size_t salt_len, uint64_t iterations,
                                 uint8_t* out, size_t out_len) noexcept {
    static const Kernel portable = {compress_portable, iterate_portable, "portable"};
    pbkdf2_with(portable, password, password_len, salt, salt_len, iterations, out, out_len);
}

}  // namespace dj
