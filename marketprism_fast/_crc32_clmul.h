/* CRC-32 (zlib's polynomial, reflected) by carry-less multiplication: the input is folded
 * 64 bytes at a time with PCLMULQDQ, then to 16 bytes, then Barrett-reduced to 32 bits
 * ("Fast CRC Computation for Generic Polynomials Using PCLMULQDQ Instruction", Gopal et al.,
 * 2009; the constants are the paper's bit-reflected ones for 0x04C11DB7).
 *
 * mpf_crc32_clmul works on the CRC register (the caller applies the initial and final
 * inversion), takes len >= 64 and a multiple of 16 bytes; the caller runs the tail through its
 * table. mpf_crc32_vpclmul does the same with the four lanes in one 512-bit register, where
 * the CPU has AVX-512 and VPCLMULQDQ. Only these functions are compiled for those
 * instructions; mpf_crc32_clmul_available() and mpf_crc32_vpclmul_available() say whether the
 * CPU running them has them (the rest of the build keeps its flags).
 */
#ifndef MPF_CRC32_CLMUL_H
#define MPF_CRC32_CLMUL_H

#include <stddef.h>
#include <stdint.h>

#if (defined(__x86_64__) || defined(__i386__)) && (defined(__GNUC__) || defined(__clang__))
#define MPF_HAVE_CLMUL_CODE 1
#include <immintrin.h>

/* The four 128-bit lanes of the last 64 bytes folded into one, the remaining whole 16-byte
 * blocks folded in, then reduced to the 32-bit register. */
__attribute__((target("pclmul,sse4.1"), always_inline))
static inline uint32_t mpf_crc32_lanes(__m128i x1, __m128i x2, __m128i x3, __m128i x4,
                                       const unsigned char *buf, size_t len)
{
    const __m128i k3k4 = _mm_set_epi64x(0x00ccaa009eLL, 0x01751997d0LL);
    const __m128i k5k0 = _mm_set_epi64x(0, 0x0163cd6124LL);
    const __m128i poly = _mm_set_epi64x(0x01f7011641LL, 0x01db710641LL);
    const __m128i mask32 = _mm_setr_epi32(~0, 0, ~0, 0);
    __m128i x0, x5;

    x0 = k3k4;
    x5 = _mm_clmulepi64_si128(x1, x0, 0x00);
    x1 = _mm_clmulepi64_si128(x1, x0, 0x11);
    x1 = _mm_xor_si128(_mm_xor_si128(x1, x2), x5);
    x5 = _mm_clmulepi64_si128(x1, x0, 0x00);
    x1 = _mm_clmulepi64_si128(x1, x0, 0x11);
    x1 = _mm_xor_si128(_mm_xor_si128(x1, x3), x5);
    x5 = _mm_clmulepi64_si128(x1, x0, 0x00);
    x1 = _mm_clmulepi64_si128(x1, x0, 0x11);
    x1 = _mm_xor_si128(_mm_xor_si128(x1, x4), x5);

    while (len >= 16) { /* 128 bits at a time */
        x2 = _mm_loadu_si128((const __m128i *)buf);
        x5 = _mm_clmulepi64_si128(x1, x0, 0x00);
        x1 = _mm_clmulepi64_si128(x1, x0, 0x11);
        x1 = _mm_xor_si128(_mm_xor_si128(x1, x2), x5);
        buf += 16;
        len -= 16;
    }

    /* 128 bits to 64 */
    x2 = _mm_clmulepi64_si128(x1, x0, 0x10);
    x1 = _mm_xor_si128(_mm_srli_si128(x1, 8), x2);
    x0 = k5k0;
    x2 = _mm_srli_si128(x1, 4);
    x1 = _mm_and_si128(x1, mask32);
    x1 = _mm_clmulepi64_si128(x1, x0, 0x00);
    x1 = _mm_xor_si128(x1, x2);

    /* Barrett reduction to 32 bits */
    x0 = poly;
    x2 = _mm_and_si128(x1, mask32);
    x2 = _mm_clmulepi64_si128(x2, x0, 0x10);
    x2 = _mm_and_si128(x2, mask32);
    x2 = _mm_clmulepi64_si128(x2, x0, 0x00);
    x1 = _mm_xor_si128(x1, x2);
    return (uint32_t)_mm_extract_epi32(x1, 1);
}

__attribute__((target("pclmul,sse4.1")))
static uint32_t mpf_crc32_clmul(uint32_t crc, const unsigned char *buf, size_t len)
{
    const __m128i k1k2 = _mm_set_epi64x(0x01c6e41596LL, 0x0154442bd4LL);
    __m128i x1, x2, x3, x4, x5, x6, x7, x8, y5, y6, y7, y8;

    x1 = _mm_loadu_si128((const __m128i *)(buf + 0x00));
    x2 = _mm_loadu_si128((const __m128i *)(buf + 0x10));
    x3 = _mm_loadu_si128((const __m128i *)(buf + 0x20));
    x4 = _mm_loadu_si128((const __m128i *)(buf + 0x30));
    x1 = _mm_xor_si128(x1, _mm_cvtsi32_si128((int)crc));
    buf += 64;
    len -= 64;

    while (len >= 64) { /* four lanes folded 512 bits forward */
        x5 = _mm_clmulepi64_si128(x1, k1k2, 0x00);
        x6 = _mm_clmulepi64_si128(x2, k1k2, 0x00);
        x7 = _mm_clmulepi64_si128(x3, k1k2, 0x00);
        x8 = _mm_clmulepi64_si128(x4, k1k2, 0x00);
        x1 = _mm_clmulepi64_si128(x1, k1k2, 0x11);
        x2 = _mm_clmulepi64_si128(x2, k1k2, 0x11);
        x3 = _mm_clmulepi64_si128(x3, k1k2, 0x11);
        x4 = _mm_clmulepi64_si128(x4, k1k2, 0x11);
        y5 = _mm_loadu_si128((const __m128i *)(buf + 0x00));
        y6 = _mm_loadu_si128((const __m128i *)(buf + 0x10));
        y7 = _mm_loadu_si128((const __m128i *)(buf + 0x20));
        y8 = _mm_loadu_si128((const __m128i *)(buf + 0x30));
        x1 = _mm_xor_si128(_mm_xor_si128(x1, x5), y5);
        x2 = _mm_xor_si128(_mm_xor_si128(x2, x6), y6);
        x3 = _mm_xor_si128(_mm_xor_si128(x3, x7), y7);
        x4 = _mm_xor_si128(_mm_xor_si128(x4, x8), y8);
        buf += 64;
        len -= 64;
    }
    return mpf_crc32_lanes(x1, x2, x3, x4, buf, len);
}

/* mpf_crc32_clmul with its four 128-bit lanes in a 512-bit register: one VPCLMULQDQ folds
 * all four (the CPU's carry-less multiplier is the bound: a quarter of the instructions).
 * From 128 bytes on, two such registers take alternate 64-byte blocks, each folded 1024 bits
 * forward (the constants: x^(1024+32) and x^(1024-32) mod P, bit-reflected, as k1/k2 are for
 * 512 bits), so that two chains of multiplications run side by side; the first is then folded
 * onto the second. */
__attribute__((target("avx512f,vpclmulqdq,pclmul,sse4.1")))
static uint32_t mpf_crc32_vpclmul(uint32_t crc, const unsigned char *buf, size_t len)
{
    const __m512i k1k2 = _mm512_broadcast_i32x4(_mm_set_epi64x(0x01c6e41596LL, 0x0154442bd4LL));
    const __m512i fold1024 = _mm512_broadcast_i32x4(_mm_set_epi64x(0x014a7fe880LL, 0x01e88ef372LL));
    __m512i x, y;

#define MPF_FOLD(acc, k, data) _mm512_ternarylogic_epi64(_mm512_clmulepi64_epi128((acc), (k), 0x00), \
    _mm512_clmulepi64_epi128((acc), (k), 0x11), (data), 0x96) /* the xor of three */

    x = _mm512_xor_si512(_mm512_loadu_si512((const void *)buf),
                         _mm512_inserti32x4(_mm512_setzero_si512(), _mm_cvtsi32_si128((int)crc), 0));
    buf += 64;
    len -= 64;
    if (len >= 64) {
        y = _mm512_loadu_si512((const void *)buf);
        buf += 64;
        len -= 64;
        while (len >= 128) {
            x = MPF_FOLD(x, fold1024, _mm512_loadu_si512((const void *)buf));
            y = MPF_FOLD(y, fold1024, _mm512_loadu_si512((const void *)(buf + 64)));
            buf += 128;
            len -= 128;
        }
        x = MPF_FOLD(x, k1k2, y);
    }
    while (len >= 64) {
        x = MPF_FOLD(x, k1k2, _mm512_loadu_si512((const void *)buf));
        buf += 64;
        len -= 64;
    }
#undef MPF_FOLD
    return mpf_crc32_lanes(_mm512_extracti32x4_epi32(x, 0), _mm512_extracti32x4_epi32(x, 1),
                           _mm512_extracti32x4_epi32(x, 2), _mm512_extracti32x4_epi32(x, 3), buf, len);
}

static int mpf_crc32_clmul_available(void)
{
    __builtin_cpu_init();
    return __builtin_cpu_supports("pclmul") && __builtin_cpu_supports("sse4.1");
}

static int mpf_crc32_vpclmul_available(void)
{
    __builtin_cpu_init();
    return mpf_crc32_clmul_available() && __builtin_cpu_supports("avx512f")
        && __builtin_cpu_supports("vpclmulqdq");
}

#else
#define MPF_HAVE_CLMUL_CODE 0
static uint32_t mpf_crc32_clmul(uint32_t crc, const unsigned char *buf, size_t len)
{
    (void)buf; (void)len;
    return crc;
}

static uint32_t mpf_crc32_vpclmul(uint32_t crc, const unsigned char *buf, size_t len)
{
    (void)buf; (void)len;
    return crc;
}

static int mpf_crc32_clmul_available(void) { return 0; }
static int mpf_crc32_vpclmul_available(void) { return 0; }
#endif

#endif /* MPF_CRC32_CLMUL_H */
