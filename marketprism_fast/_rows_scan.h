/* The two scans the book builder makes over a batch's level rows before it applies a message:
 * where the message ends (mpf_message_end) and whether its rows are valid level changes
 * (mpf_first_invalid). A depth stream's message is ~70 rows, so a row-at-a-time loop with a
 * branch per test costs as much as a sixth of applying them; these take 16 (message end) or
 * 8 (validity) rows per step with AVX-512, 8 or 4 with AVX2, where the CPU has it (short
 * messages, as OKX books' ~4 rows, a row at a time: a vector step is not worth its setup for
 * them).
 *
 * Only the *_avx512 and *_avx2 functions are compiled for those instruction sets (the rest of
 * the build keeps its flags); mpf_rows_scan_*_available() says whether the CPU running them
 * has it. Every load stays inside [start, n) or [start, stop): AVX-512 masks the tails, AVX2
 * takes whole blocks and the tail a row at a time; nothing is read past.
 */
#ifndef MPF_ROWS_SCAN_H
#define MPF_ROWS_SCAN_H

#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* Messages up to this many rows are scanned a row at a time, inline: a call and a vector step
 * are not worth their setup for them. */
#define MPF_SCAN_SHORT 8

/* First row >= start + 1 whose frame or instrument code differs from row start's, or n. */
static inline ptrdiff_t mpf_message_end_scalar(const uint32_t *frame, const uint32_t *code,
                                               ptrdiff_t start, ptrdiff_t n)
{
    const uint32_t fr = frame[start], co = code[start];
    ptrdiff_t row = start + 1;
    while (row < n && frame[row] == fr && code[row] == co)
        row++;
    return row;
}

/* Whether row i is not a valid level change: a side other than +1, -1 or 0 (a marker row,
 * always valid), a price that is not finite, an amount that is not finite and >= 0, or a bad
 * text (text_bad, when given). */
static inline int mpf_row_invalid(const int8_t *side, const double *price, const double *amount,
                                  const uint8_t *text_bad, ptrdiff_t i)
{
    const int sd = side[i];
    const double p = price[i], a = amount[i];
    const int bad = ((sd != 1) & (sd != -1)) | !(fabs(p) < INFINITY) | !(a >= 0.0) | !(a < INFINITY)
        | (text_bad != NULL && text_bad[i]);
    return (sd != 0) & bad;
}

/* The first invalid row of [start, stop) (mpf_row_invalid), or -1; *turns: how many rows'
 * side differs from the row before (the row before start counts as side 0), counted over the
 * whole range when it is valid. */
static inline ptrdiff_t mpf_first_invalid_scalar(const int8_t *side, const double *price, const double *amount,
                                          const uint8_t *text_bad, ptrdiff_t start, ptrdiff_t stop,
                                          ptrdiff_t *turns)
{
    ptrdiff_t i, t = 0;
    int8_t last = 0;
    for (i = start; i < stop; i++) {
        t += side[i] != last;
        last = side[i];
        if (mpf_row_invalid(side, price, amount, text_bad, i))
            return i;
    }
    *turns = t;
    return -1;
}

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>

__attribute__((target("avx512f,avx512bw,avx512vl")))
static ptrdiff_t mpf_message_end_avx512(const uint32_t *frame, const uint32_t *code, ptrdiff_t start,
                                        ptrdiff_t n)
{
    const __m512i fr = _mm512_set1_epi32((int)frame[start]), co = _mm512_set1_epi32((int)code[start]);
    ptrdiff_t row = start + 1;
    while (row < n) {
        const ptrdiff_t left = n - row;
        const __mmask16 in = left >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << left) - 1);
        const __mmask16 same = _mm512_mask_cmpeq_epi32_mask(
            _mm512_mask_cmpeq_epi32_mask(in, _mm512_maskz_loadu_epi32(in, frame + row), fr),
            _mm512_maskz_loadu_epi32(in, code + row), co);
        if (same != in)  /* the first row not in the message */
            return row + __builtin_ctz((unsigned)(uint16_t)~same);
        row += 16;
    }
    return n;
}

__attribute__((target("avx512f,avx512bw,avx512vl")))
static ptrdiff_t mpf_first_invalid_avx512(const int8_t *side, const double *price, const double *amount,
                                          const uint8_t *text_bad, ptrdiff_t start, ptrdiff_t stop,
                                          ptrdiff_t *turns)
{
    const __m512d inf = _mm512_set1_pd(INFINITY), zero = _mm512_setzero_pd();
    const __m128i one = _mm_set1_epi8(1), minus_one = _mm_set1_epi8(-1), zero8 = _mm_setzero_si128();
    ptrdiff_t i, t = 0;
    __mmask8 bad = 0;
    int8_t before = 0;  /* the side of the row before the block */
    for (i = start; i < stop; i += 8) {
        const ptrdiff_t left = stop - i;
        const __mmask8 in = left >= 8 ? (__mmask8)0xFF : (__mmask8)((1u << left) - 1);
        const __m128i sd = _mm_maskz_loadu_epi8((__mmask16)in, side + i);
        /* the sides shifted by one row: row k's predecessor */
        const __m128i prev = _mm_insert_epi8(_mm_bslli_si128(sd, 1), before, 0);
        const __mmask16 differs = _mm_mask_cmpneq_epi8_mask((__mmask16)in, sd, prev);
        const __mmask16 level = _mm_mask_cmpneq_epi8_mask((__mmask16)in, sd, zero8);
        const __mmask16 side_ok = _mm_cmpeq_epi8_mask(sd, one) | _mm_cmpeq_epi8_mask(sd, minus_one);
        const __m512d p = _mm512_maskz_loadu_pd(in, price + i), a = _mm512_maskz_loadu_pd(in, amount + i);
        __mmask8 ok = _mm512_cmp_pd_mask(_mm512_abs_pd(p), inf, _CMP_LT_OQ)
            & _mm512_cmp_pd_mask(a, zero, _CMP_GE_OQ) & _mm512_cmp_pd_mask(a, inf, _CMP_LT_OQ)
            & (__mmask8)side_ok;
        if (text_bad != NULL)
            ok &= (__mmask8)_mm_cmpeq_epi8_mask(_mm_maskz_loadu_epi8((__mmask16)in, text_bad + i), zero8);
        bad |= (__mmask8)level & (__mmask8)~ok;
        t += __builtin_popcount((unsigned)(uint8_t)differs);
        before = side[i + (left >= 8 ? 7 : left - 1)];
    }
    if (bad)
        return mpf_first_invalid_scalar(side, price, amount, text_bad, start, stop, turns);
    *turns = t;
    return -1;
}

static int mpf_rows_scan_avx512_available(void)
{
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw")
        && __builtin_cpu_supports("avx512vl");
}

/* The same scans with AVX2 (no masked byte loads: whole blocks, then the tail a row at a time). */
__attribute__((target("avx2")))
static ptrdiff_t mpf_message_end_avx2(const uint32_t *frame, const uint32_t *code, ptrdiff_t start, ptrdiff_t n)
{
    const __m256i fr = _mm256_set1_epi32((int)frame[start]), co = _mm256_set1_epi32((int)code[start]);
    ptrdiff_t row = start + 1;
    for (; row + 8 <= n; row += 8) {
        const __m256i same = _mm256_and_si256(
            _mm256_cmpeq_epi32(_mm256_loadu_si256((const __m256i *)(frame + row)), fr),
            _mm256_cmpeq_epi32(_mm256_loadu_si256((const __m256i *)(code + row)), co));
        const unsigned mask = (unsigned)_mm256_movemask_ps(_mm256_castsi256_ps(same));
        if (mask != 0xFF)  /* the first row not in the message */
            return row + __builtin_ctz(~mask);
    }
    while (row < n && frame[row] == frame[start] && code[row] == code[start])
        row++;
    return row;
}

__attribute__((target("avx2")))
static ptrdiff_t mpf_first_invalid_avx2(const int8_t *side, const double *price, const double *amount,
                                        const uint8_t *text_bad, ptrdiff_t start, ptrdiff_t stop,
                                        ptrdiff_t *turns)
{
    const __m256d inf = _mm256_set1_pd(INFINITY), zero = _mm256_setzero_pd();
    const __m256d magnitude = _mm256_castsi256_pd(_mm256_set1_epi64x(0x7FFFFFFFFFFFFFFFLL));
    const __m128i one = _mm_set1_epi8(1), minus_one = _mm_set1_epi8(-1), zero8 = _mm_setzero_si128();
    ptrdiff_t i, t = 0;
    unsigned bad = 0;
    int8_t last = 0;  /* the side of the row before the block */
    for (i = start; i + 4 <= stop; i += 4) {
        int32_t four;
        memcpy(&four, side + i, 4);
        const __m128i sd = _mm_cvtsi32_si128(four);
        const __m128i prev = _mm_insert_epi8(_mm_bslli_si128(sd, 1), last, 0);  /* row k's predecessor */
        const unsigned differs = ~(unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(sd, prev)) & 0xF;
        const unsigned level = ~(unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(sd, zero8)) & 0xF;
        unsigned ok = (unsigned)_mm_movemask_epi8(_mm_or_si128(_mm_cmpeq_epi8(sd, one), _mm_cmpeq_epi8(sd, minus_one)));
        const __m256d p = _mm256_loadu_pd(price + i), a = _mm256_loadu_pd(amount + i);
        const __m256d finite = _mm256_and_pd(_mm256_cmp_pd(_mm256_and_pd(p, magnitude), inf, _CMP_LT_OQ),
                                             _mm256_and_pd(_mm256_cmp_pd(a, zero, _CMP_GE_OQ),
                                                           _mm256_cmp_pd(a, inf, _CMP_LT_OQ)));
        ok &= (unsigned)_mm256_movemask_pd(finite);
        if (text_bad != NULL) {
            uint32_t tb;
            memcpy(&tb, text_bad + i, 4);
            ok &= (unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(_mm_cvtsi32_si128((int)tb), zero8));
        }
        bad |= level & ~ok;
        t += __builtin_popcount(differs);
        last = side[i + 3];
    }
    for (; i < stop; i++) {
        t += side[i] != last;
        last = side[i];
        bad |= (unsigned)mpf_row_invalid(side, price, amount, text_bad, i);
    }
    if (bad)
        return mpf_first_invalid_scalar(side, price, amount, text_bad, start, stop, turns);
    *turns = t;
    return -1;
}

static int mpf_rows_scan_avx2_available(void)
{
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx2");
}

#else  /* no vector scans: never chosen (the CPU has none), named for the calls below */
#define mpf_message_end_avx512 mpf_message_end_scalar
#define mpf_first_invalid_avx512 mpf_first_invalid_scalar
#define mpf_message_end_avx2 mpf_message_end_scalar
#define mpf_first_invalid_avx2 mpf_first_invalid_scalar
static int mpf_rows_scan_avx512_available(void) { return 0; }
static int mpf_rows_scan_avx2_available(void) { return 0; }
#endif

/* The row scan implementations, slowest first (the index rows_scan_implementations() lists). */
enum { MPF_SCAN_SCALAR = 0, MPF_SCAN_AVX2 = 1, MPF_SCAN_AVX512 = 2 };

/* The scans as the builder calls them: a short message's rows inline, one at a time; a
 * longer one's with the vector implementation ``impl`` (one the CPU has, in use). */
static inline ptrdiff_t mpf_message_end(const uint32_t *frame, const uint32_t *code, ptrdiff_t start,
                                        ptrdiff_t n, int impl)
{
    const ptrdiff_t head = n - start > MPF_SCAN_SHORT + 1 ? start + 1 + MPF_SCAN_SHORT : n;
    ptrdiff_t row;
    if (impl == MPF_SCAN_SCALAR)
        return mpf_message_end_scalar(frame, code, start, n);
    for (row = start + 1; row < head; row++)
        if (frame[row] != frame[start] || code[row] != code[start])
            return row;
    /* rows start..row-1 are the message's: the vector scan goes on from row */
    if (row == n)
        return n;
    return impl == MPF_SCAN_AVX512 ? mpf_message_end_avx512(frame, code, row - 1, n)
                                   : mpf_message_end_avx2(frame, code, row - 1, n);
}

static inline ptrdiff_t mpf_first_invalid(const int8_t *side, const double *price, const double *amount,
                                          const uint8_t *text_bad, ptrdiff_t start, ptrdiff_t stop,
                                          ptrdiff_t *turns, int impl)
{
    if (impl != MPF_SCAN_SCALAR && stop - start > MPF_SCAN_SHORT)
        return impl == MPF_SCAN_AVX512 ? mpf_first_invalid_avx512(side, price, amount, text_bad, start, stop, turns)
                                       : mpf_first_invalid_avx2(side, price, amount, text_bad, start, stop, turns);
    return mpf_first_invalid_scalar(side, price, amount, text_bad, start, stop, turns);
}

#endif /* MPF_ROWS_SCAN_H */
