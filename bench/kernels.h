/* The kernels of vmon's CPU benchmark, shared by bench/cpu.c (bare-metal
 * RISC-V, run on vmon and QEMU) and bench/native.c (the same C built for
 * the host: how fast the host itself runs this work). Each returns a
 * checksum; rng_state must be reset before each. */
#ifndef VMON_BENCH_KERNELS_H
#define VMON_BENCH_KERNELS_H
#include <stdint.h>

#ifndef SCALE
#define SCALE 16
#endif

static uint64_t rng_state;
static uint64_t rng(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}

#define NBUF (1u << 16)
static uint32_t buf32[NBUF];
static uint32_t tmp32[NBUF];
static uint8_t bytes[1u << 18];
static uint8_t bytes2[1u << 18];
static uint32_t crc_table[256];

static uint64_t k_integer(void)
{
    /* multiply/shift/rotate mixing and a table-driven CRC-32 */
    uint64_t h = 0x9e3779b97f4a7c15ull, acc = 0;
    for (uint32_t i = 0; i < 3000000u * SCALE / 4; i++) {
        h ^= h >> 29;
        h *= 0xbf58476d1ce4e5b9ull;
        h = (h << 17) | (h >> 47);
        acc += h / ((i & 255) + 1) + (uint32_t)(h % 7);
    }
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t c = i;
        for (int k = 0; k < 8; k++) c = (c & 1) ? 0xedb88320u ^ (c >> 1) : c >> 1;
        crc_table[i] = c;
    }
    for (uint32_t i = 0; i < sizeof(bytes); i++) bytes[i] = (uint8_t)(i * 131 + (i >> 7));
    uint32_t crc = ~0u;
    for (int r = 0; r < SCALE; r++)
        for (uint32_t i = 0; i < sizeof(bytes); i++)
            crc = crc_table[(crc ^ bytes[i]) & 0xff] ^ (crc >> 8);
    return acc ^ crc;
}

static uint64_t k_memory(void)
{
    /* block copies of several widths and a dependent pointer chase */
    uint64_t sum = 0;
    for (int r = 0; r < 6 * SCALE; r++) {
        uint64_t *d = (uint64_t *)(void *)bytes2;
        const uint64_t *s = (const uint64_t *)(const void *)bytes;
        for (uint32_t i = 0; i < sizeof(bytes) / 8; i++) d[i] = s[i] + (uint64_t)r;
        for (uint32_t i = 0; i < sizeof(bytes); i += 64) sum += bytes2[i];
        uint16_t *h = (uint16_t *)(void *)bytes;
        for (uint32_t i = 0; i < sizeof(bytes) / 2; i += 3) h[i] = (uint16_t)(h[i] + 1);
    }
    for (uint32_t i = 0; i < NBUF; i++) buf32[i] = i;
    for (uint32_t i = NBUF - 1; i > 0; i--) { /* random cyclic permutation */
        uint32_t j = (uint32_t)(rng() % i);
        uint32_t t = buf32[i];
        buf32[i] = buf32[j];
        buf32[j] = t;
    }
    uint32_t p = 0;
    for (uint32_t i = 0; i < 400000u * SCALE; i++) {
        p = buf32[p];
        sum += p;
    }
    return sum;
}

static void qsort_u32(uint32_t *a, int lo, int hi)
{
    while (lo < hi) {
        uint32_t piv = a[(lo + hi) >> 1];
        int i = lo, j = hi;
        while (i <= j) {
            while (a[i] < piv) i++;
            while (a[j] > piv) j--;
            if (i <= j) {
                uint32_t t = a[i];
                a[i] = a[j];
                a[j] = t;
                i++;
                j--;
            }
        }
        if (j - lo < hi - i) {
            qsort_u32(a, lo, j);
            lo = i;
        } else {
            qsort_u32(a, i, hi);
            hi = j;
        }
    }
}

static uint64_t k_branch(void)
{
    /* quicksort of random keys, binary searches, a small state machine */
    uint64_t sum = 0;
    for (int r = 0; r < SCALE; r++) {
        for (uint32_t i = 0; i < NBUF; i++) tmp32[i] = (uint32_t)rng();
        qsort_u32(tmp32, 0, NBUF - 1);
        for (uint32_t i = 1; i < NBUF; i++)
            if (tmp32[i - 1] > tmp32[i]) return 0; /* not sorted: wrong result */
        for (uint32_t q = 0; q < 40000; q++) {
            uint32_t key = tmp32[(q * 7919u) % NBUF], lo = 0, hi = NBUF;
            while (lo < hi) {
                uint32_t mid = (lo + hi) / 2;
                if (tmp32[mid] < key)
                    lo = mid + 1;
                else
                    hi = mid;
            }
            sum += lo;
        }
        unsigned st = 0;
        for (uint32_t i = 0; i < sizeof(bytes); i++) {
            switch ((st + bytes[i]) & 7) {
            case 0: st = st * 3 + 1; break;
            case 1: st ^= 0x55; break;
            case 2: st += i; break;
            case 3: st = (st >> 1) | 1; break;
            case 5: st -= 7; break;
            default: st++;
            }
        }
        sum += st;
    }
    return sum;
}

#define MN 48
static double ma[MN][MN], mb[MN][MN], mc[MN][MN];

static uint64_t k_float(void)
{
    /* double matrix multiply, single-precision Newton iterations and
     * square roots, conversions */
    for (int i = 0; i < MN; i++)
        for (int j = 0; j < MN; j++) {
            ma[i][j] = (double)((i * 7 + j * 3) % 17) * 0.25 - 1.5;
            mb[i][j] = (double)((i * 5 + j * 11) % 13) * 0.125 + 0.5;
            mc[i][j] = 0;
        }
    for (int r = 0; r < SCALE; r++)
        for (int i = 0; i < MN; i++)
            for (int j = 0; j < MN; j++) {
                double s = mc[i][j] * 0.5;
                for (int k = 0; k < MN; k++) s += ma[i][k] * mb[k][j];
                mc[i][j] = s;
            }
    double tr = 0;
    for (int i = 0; i < MN; i++) tr += mc[i][i] + mc[i][MN - 1 - i];
    float fs = 0;
    for (uint32_t i = 1; i < 150000u * SCALE; i++) {
        float x = (float)i * 0.001f, y = x;
        for (int k = 0; k < 3; k++) y = 0.5f * (y + x / y);
        fs += y - __builtin_sqrtf(x);
    }
    double ds = 0;
    for (uint32_t i = 1; i < 100000u * SCALE; i++) {
        double x = (double)i;
        ds += __builtin_sqrt(x) / (x + 1.0);
        ds += (double)(int64_t)(x * 0.37);
    }
    uint64_t u;
    __builtin_memcpy(&u, &tr, 8);
    uint32_t fu;
    __builtin_memcpy(&fu, &fs, 4);
    uint64_t du;
    __builtin_memcpy(&du, &ds, 8);
    return u ^ ((uint64_t)fu << 17) ^ du;
}

struct kernel {
    const char *name;
    uint64_t (*fn)(void);
};
static const struct kernel kernels[] = {
    {"integer", k_integer},
    {"memory", k_memory},
    {"branch", k_branch},
    {"float", k_float},
};

#endif
