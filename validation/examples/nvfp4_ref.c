/*
 * nvfp4_ref.c - naive NVFP4 quantization, bit-exact with nvfp4_np's "naive" method for
 * the recipes "seed" and "te" (see nvfp4_np/recipes.py, nvfp4_np/formats.py,
 * nvfp4_np/_block.py and validation/SPEC.md); and one MX format, MXFP8 E4M3 with the
 * scale roundings "floor" and "rceil" (written from validation/SPEC.md section 9).
 *
 * C99 and the C standard library only (no libm). Build:
 *
 *     cc -std=c99 -O2 -ffp-contract=off -Wall -Wextra -o nvfp4_ref nvfp4_ref.c
 *
 * Every float operation below is one IEEE-754 binary32 operation rounded to nearest-even,
 * in the order written: each intermediate is stored in a `float` variable (C99 rounds on
 * assignment), nothing goes through double, and -ffp-contract=off forbids fused
 * multiply-add. Do not build with -ffast-math.
 *
 * Usage:
 *
 *     nvfp4_ref RECIPE BLOCK_SIZE ROWS COLS DTYPE INPUT.bin OUTDIR
 *
 *     RECIPE      seed | te | mxfp8_e4m3-floor | mxfp8_e4m3-rceil
 *     BLOCK_SIZE  16 | 32 (blocks run along the last axis; COLS must be a multiple);
 *                 32 for the MX format
 *     DTYPE       float32 | float16 | bfloat16 (raw little-endian words, ROWS x COLS)
 *     OUTDIR      an existing folder; gets codes.bin, scale_bytes.bin,
 *                 scale_bytes_swizzled.bin, tensor_scale.bin, dequant.bin (MX: no
 *                 tensor_scale.bin; codes.bin one E4M3 byte per element, scale_bytes.bin
 *                 E8M0 bytes)
 *
 * Build with -DNVFP4_HIGH_NIBBLE_FIRST to pack element 2i in the HIGH nibble: a
 * deliberate bug (the historic Triton one) that the checker must report. Build with
 * -DNVFP4_TE_DIVIDE to divide |x| by fl(sf * S_dec) in the te recipe instead of
 * multiplying by its rounded reciprocal (TE's historical bug class): random inputs
 * almost never notice, the pinned vector must.
 *
 * Exit status: 0 on success, 2 on bad arguments, unreadable/short input, NaN/Inf input
 * or a write error.
 */

#include <errno.h>
#include <float.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifdef __clang__
#pragma STDC FP_CONTRACT OFF
#endif

typedef uint8_t u8;
typedef uint16_t u16;
typedef uint32_t u32;

static const char *prog = "nvfp4_ref";

/* Print "nvfp4_ref: <message>" and exit with status 2. */
static void die(const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "%s: ", prog);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    exit(2);
}

/* ------------------------------------------------------------------ float32 bits */

/* float is IEEE-754 binary32 with the same byte order as uint32_t (true on every
 * current platform; checked at run time in main). */
static float bits_to_f32(u32 b)
{
    float f;
    memcpy(&f, &b, sizeof f);
    return f;
}

static u32 f32_to_bits(float f)
{
    u32 b;
    memcpy(&b, &f, sizeof b);
    return b;
}

static float f32_abs(float f) { return bits_to_f32(f32_to_bits(f) & 0x7FFFFFFFUL); }

/* --------------------------------------------------------- input words -> float32
 * Exact conversions (SPEC.md: inputs are converted to float32 first). */

/* bfloat16 is the top 16 bits of a float32. */
static u32 bf16_to_f32_bits(u16 h) { return (u32)h << 16; }

/* IEEE binary16: 1 sign, 5 exponent (bias 15), 10 mantissa bits; subnormals are
 * normalised, Inf/NaN keep exponent all ones. */
static u32 f16_to_f32_bits(u16 h)
{
    u32 sign = (u32)(h & 0x8000u) << 16;
    int e = (h >> 10) & 0x1F; /* biased exponent */
    u32 m = h & 0x3FFu;
    if (e == 0x1F) /* Inf / NaN */
        return sign | 0x7F800000UL | (m << 13);
    if (e == 0) {
        if (m == 0)
            return sign; /* +-0 */
        /* subnormal m * 2^-24 = 0.m * 2^-14: move the leading 1 up to bit 10 */
        e = 1;
        while (!(m & 0x400u)) {
            m <<= 1;
            e--;
        }
        m &= 0x3FFu;
    }
    return sign | ((u32)(e - 15 + 127) << 23) | (m << 13); /* 1.m * 2^(e - 15) */
}

/* -------------------------------------------------------------------- E4M3 scales
 * E4M3 (float8_e4m3fn): bias 7, 3 mantissa bits, no Inf, 0x7F = NaN, largest 448 (0x7E).
 * Codes 1..7 are subnormals k * 2^-9. */

static float e4m3_value(unsigned code)
{
    unsigned e = (code >> 3) & 0xFu, m = code & 7u;
    if (e == 0)
        return (float)m * 0.001953125f; /* m * 2^-9, exact */
    return bits_to_f32(((u32)(e - 7 + 127) << 23) | ((u32)m << 20));
}

/* SPEC: E4M3 cast of a non-negative float32 v (formats.e4m3_code): round to nearest even;
 * v > 464 (halfway 448..480) and +Inf saturate to 0x7E (448); below 2^-6 the quantum is
 * 2^-9 (subnormals kept), so v <= 2^-10 gives 0. NaN cannot occur here. */
static unsigned e4m3_code(float v)
{
    if (v > 464.0f)
        return 0x7E;
    if (v < 0.015625f) { /* v < 2^-6: rint(v * 2^9), v * 2^9 exact */
        float t = v * 512.0f;
        unsigned i = (unsigned)t; /* t < 8: truncation */
        float frac = t - (float)i; /* exact */
        if (frac > 0.5f || (frac == 0.5f && (i & 1u)))
            i++;
        return i;
    }
    /* normal: drop 20 mantissa bits with RNE on the bit pattern (a carry moves into the
     * exponent), then re-bias the exponent 127 -> 7 */
    {
        u32 b = f32_to_bits(v);
        b += 0x7FFFFUL + ((b >> 20) & 1UL);
        return (unsigned)((b >> 20) - ((127UL - 7UL) << 3));
    }
}

/* ------------------------------------------------------------------ E2M1 elements
 * Magnitudes by index: 0, 0.5, 1, 1.5, 2, 3, 4, 6. Decision boundaries between them:
 * 0.25 0.75 1.25 1.75 2.5 3.5 5. Above 5 (and Inf, NaN) -> 6. */

static const float e2m1_mag[8] = {0.0f, 0.5f, 1.0f, 1.5f, 2.0f, 3.0f, 4.0f, 6.0f};

/* recipe "seed" (torch.bucketize): a value on a boundary goes to the LOWER magnitude. */
static unsigned e2m1_ties_down(float y)
{
    if (y <= 0.25f) return 0;
    if (y <= 0.75f) return 1;
    if (y <= 1.25f) return 2;
    if (y <= 1.75f) return 3;
    if (y <= 2.5f) return 4;
    if (y <= 3.5f) return 5;
    if (y <= 5.0f) return 6;
    return 7; /* > 5, +Inf, NaN */
}

/* recipe "te" (cvt.rn): ties to the EVEN code: 0.25->0, 0.75->1, 1.25->1, 1.75->2,
 * 2.5->2, 3.5->4, 5->4. */
static unsigned e2m1_ties_even(float y)
{
    if (y <= 0.25f) return 0;
    if (y < 0.75f) return 1;
    if (y <= 1.25f) return 2;
    if (y < 1.75f) return 3;
    if (y <= 2.5f) return 4;
    if (y < 3.5f) return 5;
    if (y <= 5.0f) return 6;
    return 7;
}

/* 4-bit code of x: magnitude index, sign bit set iff x < 0 (torch.sign: -0.0 gives 0x0,
 * a negative that rounds to 0 gives 0x8). x == 0 gives code 0 whatever y is (the seed's
 * sign(x) * q: with scale 0, y = 0/0 = NaN would round to 6). */
static unsigned fp4_code(float x, unsigned idx)
{
    if (x < 0.0f) return 8u | idx;
    if (x > 0.0f) return idx;
    return 0;
}

/* Decoded code: code 0x8 is -0.0. */
static float fp4_value(unsigned code)
{
    float m = e2m1_mag[code & 7u];
    return (code & 8u) ? -m : m;
}

/* ------------------------------------------------------- MXFP8 E4M3 (SPEC section 9)
 * Blocks of 32; one E8M0 byte b per block, the scale 2^(b - 127). emax = 8 (448 = 1.75 *
 * 2^8), largest = 448. */

#define MX_EMAX 8

/* 2^k as a float, -149 <= k <= 127 (below 2^-126 a subnormal), exact. */
static float pow2f(int k)
{
    if (k >= -126)
        return bits_to_f32((u32)(k + 127) << 23);
    return bits_to_f32((u32)1 << (k + 149));
}

/* SPEC 9.2: the E8M0 byte of a block of max|x| = amax (finite, >= 0).
 * floor: e = (exponent field of amax's bits) - 127 - emax (zero and subnormals have field
 *        0, so -127 - emax); clamped to [-127, 128].
 * rceil: d = fl(amax / 448); e = the exact ceiling of log2(d): with d's exponent field E
 *        and mantissa field M, E - 127 + (M != 0) for E > 0; for E == 0 (d <= 2^-126),
 *        -127 if M <= 2^22 (d <= 2^-127, zero included) else -126; clamped to [-127, 127].
 * The byte is e + 127. */
static unsigned e8m0_byte(int rceil, float amax)
{
    int e;
    if (!rceil) {
        e = (int)((f32_to_bits(amax) >> 23) & 0xFFu) - 127 - MX_EMAX;
        if (e < -127)
            e = -127;
        if (e > 128)
            e = 128;
    } else {
        float d = amax / 448.0f;
        u32 b = f32_to_bits(d), m = b & 0x7FFFFFUL;
        int field = (int)((b >> 23) & 0xFFu);
        if (field == 0)
            e = (m <= 0x400000UL) ? -127 : -126;
        else
            e = field - 127 + (m != 0);
        if (e < -127)
            e = -127;
        if (e > 127)
            e = 127;
    }
    return (unsigned)(e + 127);
}

/* SPEC 9.3: the power of two the elements are multiplied by. floor divides by the scale
 * clamped to at least 2^-126 (byte 0 multiplies by 2^126, not 2^127); rceil multiplies by
 * 2^(127 - b), except that byte 0 multiplies by 1. */
static float mx_multiplier(int rceil, unsigned byte)
{
    int k = 127 - (int)byte;
    if (rceil)
        return byte == 0 ? 1.0f : pow2f(k);
    return pow2f(k > 126 ? 126 : k);
}

/* SPEC 9.3: the E4M3 code of a scaled element y: the sign bit of y (so -0.0 gives 0x80),
 * magnitudes at or above 448 saturate to 0x7E, below round to nearest even (e4m3_code). */
static unsigned mx_e4m3_code(float y)
{
    unsigned sign = (unsigned)(f32_to_bits(y) >> 31) << 7;
    float a = f32_abs(y);
    return sign | (a >= 448.0f ? 0x7Eu : e4m3_code(a));
}

/* ---------------------------------------------------------------------- recipes */

enum recipe { SEED, TE, MX_FLOOR, MX_RCEIL };

/* Per-tensor constants of a recipe (SPEC: tensor scale). */
struct tensor_params {
    float ts;     /* stored (decode-form) tensor scale */
    float c1;     /* te: fl(S_enc * fl(1/6)) */
};

static struct tensor_params tensor_params(enum recipe r, float amax_t)
{
    struct tensor_params p;
    if (r == SEED) { /* single level: ts = 1 */
        p.ts = 1.0f;
        p.c1 = 1.0f;
    } else {
        /* TE compute_global_encode_scaling_factor_FP4: S_enc = min(fl(2688/amax), FLT_MAX),
         * 1.0 when amax == 0 or S_enc == 0; stored S_dec = fl(1/S_enc). */
        float s_enc = 1.0f, sixth;
        if (amax_t > 0.0f) {
            s_enc = 2688.0f / amax_t; /* may overflow to +Inf */
            if (!(s_enc < FLT_MAX))
                s_enc = FLT_MAX;
        }
        if (s_enc == 0.0f)
            s_enc = 1.0f;
        p.ts = 1.0f / s_enc;
        sixth = 1.0f / 6.0f;
        p.c1 = s_enc * sixth;
    }
    return p;
}

/* The block's E4M3 scale byte from its float32 amax. */
static unsigned block_scale_code(enum recipe r, const struct tensor_params *p, float amax_b)
{
    float v;
    if (r == SEED) {
        v = amax_b / 6.0f;     /* fl(amax / 6) */
        if (v < 1e-12f)        /* floor 1e-12 (itself <= 2^-10: byte 0) */
            v = 1e-12f;
    } else {
        v = amax_b * p->c1;    /* fl(amax * fl(S_enc * fl(1/6))), no floor: may give 0 */
    }
    return e4m3_code(v);
}

/* Quantize one block: codes[i] (0..15) and dequant[i]. */
static void quantize_block(enum recipe r, const struct tensor_params *p, const float *x, int bs,
                           unsigned sb, unsigned *codes, float *dq)
{
    float sf = e4m3_value(sb);
    float s_eff = sf * p->ts; /* dequant scale fl(sf * ts); seed: ts = 1 */
    float mult = 0.0f;
    int i;
    if (r == TE) {
        /* m = min(fl(1 / fl(sf * S_dec)), FLT_MAX); sf = 0 gives Inf -> FLT_MAX */
        float d = sf * p->ts;
        mult = 1.0f / d;
        if (!(mult < FLT_MAX))
            mult = FLT_MAX;
    }
    for (i = 0; i < bs; i++) {
        float a = f32_abs(x[i]), y, q;
        unsigned idx, c;
        if (r == SEED) {
            y = a / sf; /* fl(|x| / s); s = 0: Inf (or NaN for x = 0) -> 6 */
            idx = e2m1_ties_down(y);
        } else {
#ifdef NVFP4_TE_DIVIDE
            y = a / (sf * p->ts); /* the deliberate bug: fl(|x| / fl(sf * S_dec)) */
            (void)mult;
#else
            y = a * mult; /* fl(|x| * m) */
#endif
            idx = e2m1_ties_even(y);
        }
        c = fp4_code(x[i], idx);
        codes[i] = c;
        q = fp4_value(c);
        dq[i] = q * s_eff; /* fl(q * s_eff), code 0x8 gives -0.0 */
    }
}

/* ----------------------------------------------------------------------- files */

static void write_file(const char *dir, const char *name, const u8 *data, size_t n)
{
    size_t len = strlen(dir) + strlen(name) + 2;
    char *path = malloc(len);
    FILE *f;
    if (!path)
        die("out of memory");
    sprintf(path, "%s/%s", dir, name);
    f = fopen(path, "wb");
    if (!f)
        die("cannot write %s: %s", path, strerror(errno));
    if ((n && fwrite(data, 1, n, f) != n) || fclose(f) != 0)
        die("error writing %s: %s", path, strerror(errno));
    free(path);
}

static void put_u32_le(u8 *p, u32 w)
{
    p[0] = (u8)(w & 0xFF);
    p[1] = (u8)((w >> 8) & 0xFF);
    p[2] = (u8)((w >> 16) & 0xFF);
    p[3] = (u8)((w >> 24) & 0xFF);
}

static long parse_positive(const char *s, const char *what)
{
    char *end;
    long v;
    errno = 0;
    v = strtol(s, &end, 10);
    if (errno || end == s || *end != '\0' || v <= 0)
        die("%s must be a positive integer, got '%s'", what, s);
    return v;
}

static void usage(void)
{
    fprintf(stderr,
            "usage: %s RECIPE BLOCK_SIZE ROWS COLS DTYPE INPUT.bin OUTDIR\n"
            "  RECIPE      seed | te | mxfp8_e4m3-floor | mxfp8_e4m3-rceil\n"
            "  BLOCK_SIZE  16 | 32 (blocks along the last axis; 32 for mxfp8_e4m3)\n"
            "  DTYPE       float32 | float16 | bfloat16 (raw little-endian words)\n"
            "  writes OUTDIR/{codes,scale_bytes,scale_bytes_swizzled,tensor_scale,dequant}.bin\n",
            prog);
    exit(2);
}

int main(int argc, char **argv)
{
    enum recipe recipe;
    long bs, rows, cols;
    int word;
    const char *dtype, *in_path, *out_dir;
    size_t n, nbytes, got, i, nb, ks, n_rt, n_kt, swz_len;
    u8 *raw, *codes_out, *sb_out, *swz_out, *dq_out, ts_out[4];
    float *x, amax_t = 0.0f;
    struct tensor_params tp;
    FILE *f;
    long r, k;

    if (argc != 8)
        usage();
    if (sizeof(float) != 4 || f32_to_bits(1.0f) != 0x3F800000UL)
        die("this program needs IEEE-754 binary32 floats");
    if (!strcmp(argv[1], "seed"))
        recipe = SEED;
    else if (!strcmp(argv[1], "te"))
        recipe = TE;
    else if (!strcmp(argv[1], "mxfp8_e4m3-floor"))
        recipe = MX_FLOOR;
    else if (!strcmp(argv[1], "mxfp8_e4m3-rceil"))
        recipe = MX_RCEIL;
    else
        die("RECIPE must be 'seed', 'te', 'mxfp8_e4m3-floor' or 'mxfp8_e4m3-rceil', got '%s'", argv[1]);
    bs = parse_positive(argv[2], "BLOCK_SIZE");
    if (bs != 16 && bs != 32)
        die("BLOCK_SIZE must be 16 or 32, got '%s'", argv[2]);
    if (recipe >= MX_FLOOR && bs != 32)
        die("BLOCK_SIZE must be 32 for the MX format, got '%s'", argv[2]);
    rows = parse_positive(argv[3], "ROWS");
    cols = parse_positive(argv[4], "COLS");
    if (cols % bs)
        die("COLS (%s) must be a multiple of BLOCK_SIZE (%s)", argv[4], argv[2]);
    dtype = argv[5];
    if (!strcmp(dtype, "float32"))
        word = 4;
    else if (!strcmp(dtype, "float16") || !strcmp(dtype, "bfloat16"))
        word = 2;
    else
        die("DTYPE must be float32, float16 or bfloat16, got '%s'", dtype);
    in_path = argv[6];
    out_dir = argv[7];

    if ((size_t)rows > ((size_t)-1) / 4 / (size_t)cols)
        die("ROWS x COLS too large");
    n = (size_t)rows * (size_t)cols;
    nbytes = n * (size_t)word;

    /* ---- read the input: exactly ROWS*COLS words */
    f = fopen(in_path, "rb");
    if (!f)
        die("cannot open %s: %s", in_path, strerror(errno));
    raw = malloc(nbytes + 1);
    x = malloc(n * sizeof *x);
    if (!raw || !x)
        die("out of memory");
    got = fread(raw, 1, nbytes + 1, f);
    if (ferror(f))
        die("error reading %s: %s", in_path, strerror(errno));
    fclose(f);
    if (got < nbytes)
        die("%s is too short: %lu bytes, expected %lu (%ld x %ld %s words)", in_path,
            (unsigned long)got, (unsigned long)nbytes, rows, cols, dtype);
    if (got > nbytes)
        die("%s is longer than %lu bytes (%ld x %ld %s words)", in_path, (unsigned long)nbytes,
            rows, cols, dtype);
    for (i = 0; i < n; i++) {
        const u8 *p = raw + i * (size_t)word;
        u32 b;
        if (word == 4)
            b = (u32)p[0] | ((u32)p[1] << 8) | ((u32)p[2] << 16) | ((u32)p[3] << 24);
        else if (dtype[0] == 'b')
            b = bf16_to_f32_bits((u16)(p[0] | (p[1] << 8)));
        else
            b = f16_to_f32_bits((u16)(p[0] | (p[1] << 8)));
        if ((b & 0x7F800000UL) == 0x7F800000UL)
            die("%s holds NaN or Inf at row %lu, column %lu; it cannot be encoded", in_path,
                (unsigned long)(i / (size_t)cols), (unsigned long)(i % (size_t)cols));
        x[i] = bits_to_f32(b);
    }
    free(raw);

    /* ---- tensor amax (float32; only "te" uses it) */
    for (i = 0; i < n; i++) {
        float a = f32_abs(x[i]);
        if (a > amax_t)
            amax_t = a;
    }
    tp = tensor_params(recipe == TE ? TE : SEED, amax_t);

    /* ---- blocks */
    nb = n / (size_t)bs;
    ks = (size_t)cols / (size_t)bs;
    codes_out = calloc(recipe >= MX_FLOOR ? n : n / 2, 1);
    sb_out = malloc(nb);
    dq_out = malloc(n * 4);
    if (!codes_out || !sb_out || !dq_out)
        die("out of memory");
    for (i = 0; i < nb; i++) {
        const float *xb = x + i * (size_t)bs;
        unsigned c[32], sb;
        float dq[32];
        float amax_b = 0.0f;
        long j;
        for (j = 0; j < bs; j++) {
            float a = f32_abs(xb[j]);
            if (a > amax_b)
                amax_b = a;
        }
        if (recipe >= MX_FLOOR) {
            /* SPEC 9.2-9.3, 9.5: the E8M0 byte, y = fl(x * multiplier), one code byte per
             * element, dequant fl(value(code) * 2^(b - 127)) */
            int rceil = recipe == MX_RCEIL;
            float mult, scale;
            sb = e8m0_byte(rceil, amax_b);
            mult = mx_multiplier(rceil, sb);
            scale = pow2f((int)sb - 127);
            sb_out[i] = (u8)sb;
            for (j = 0; j < bs; j++) {
                float y = xb[j] * mult, v;
                unsigned code = mx_e4m3_code(y);
                codes_out[i * (size_t)bs + (size_t)j] = (u8)code;
                v = e4m3_value(code & 0x7Fu);
                if (code & 0x80u)
                    v = -v;
                put_u32_le(dq_out + (i * (size_t)bs + (size_t)j) * 4, f32_to_bits(v * scale));
            }
            continue;
        }
        sb = block_scale_code(recipe, &tp, amax_b);
        sb_out[i] = (u8)sb;
        quantize_block(recipe, &tp, xb, (int)bs, sb, c, dq);
        for (j = 0; j < bs; j++)
            put_u32_le(dq_out + (i * (size_t)bs + (size_t)j) * 4, f32_to_bits(dq[j]));
        /* packing: byte i of a row holds elements 2i and 2i+1; element 2i in the LOW
         * nibble (the bug switch puts it in the high nibble) */
        for (j = 0; j < bs; j += 2) {
#ifdef NVFP4_HIGH_NIBBLE_FIRST
            u8 byte = (u8)((c[j] << 4) | c[j + 1]);
#else
            u8 byte = (u8)(c[j] | (c[j + 1] << 4));
#endif
            codes_out[(i * (size_t)bs + (size_t)j) / 2] = byte;
        }
    }

    /* ---- swizzled scales: 128x4 tiles of 512 bytes, rows padded to 128, scale columns
     * to 4 with zero bytes;
     * off = ((m/128)*n_kt + k/4)*512 + (m%32)*16 + ((m%128)/32)*4 + k%4 */
    n_rt = ((size_t)rows + 127) / 128;
    n_kt = (ks + 3) / 4;
    swz_len = n_rt * n_kt * 512;
    swz_out = calloc(swz_len, 1);
    if (!swz_out)
        die("out of memory");
    for (r = 0; r < rows; r++)
        for (k = 0; k < (long)ks; k++) {
            size_t off = (((size_t)r / 128) * n_kt + (size_t)k / 4) * 512 + ((size_t)r % 32) * 16 +
                         (((size_t)r % 128) / 32) * 4 + (size_t)k % 4;
            swz_out[off] = sb_out[(size_t)r * ks + (size_t)k];
        }

    put_u32_le(ts_out, f32_to_bits(tp.ts));

    write_file(out_dir, "codes.bin", codes_out, recipe >= MX_FLOOR ? n : n / 2);
    write_file(out_dir, "scale_bytes.bin", sb_out, nb);
    write_file(out_dir, "scale_bytes_swizzled.bin", swz_out, swz_len);
    if (recipe < MX_FLOOR)
        write_file(out_dir, "tensor_scale.bin", ts_out, 4);
    write_file(out_dir, "dequant.bin", dq_out, n * 4);

    free(x);
    free(codes_out);
    free(sb_out);
    free(dq_out);
    free(swz_out);
    return 0;
}
