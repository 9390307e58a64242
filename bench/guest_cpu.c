/* A CPU-bound Linux program for the demo guest (bench/guestcpu.sh builds it
 * with riscv64-linux-gnu-gcc -O2 -static): integer hashing, a prime sieve,
 * libc qsort and string work, a double-precision matrix product and a
 * small interpreter loop. Each part prints its checksum (the same on every
 * correct machine) and the seconds it took by the guest's monotonic clock;
 * the last line is the total, which bench/guestcpu.sh compares. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static uint64_t part_hash(unsigned scale)
{
    uint64_t h = 0xcbf29ce484222325ull, x = 1;
    for (unsigned i = 0; i < 4000000u * scale; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        h = (h ^ (x & 0xff)) * 0x100000001b3ull;
        h += (h >> 31) / ((i & 63) + 1);
    }
    return h;
}

static uint64_t part_sieve(unsigned scale)
{
    unsigned n = 2000000;
    unsigned char *comp = malloc(n + 1);
    uint64_t sum = 0;
    for (unsigned r = 0; r < scale; r++) {
        memset(comp, 0, n + 1);
        for (unsigned i = 2; (uint64_t)i * i <= n; i++)
            if (!comp[i])
                for (unsigned j = i * i; j <= n; j += i) comp[j] = 1;
        for (unsigned i = 2; i <= n; i++)
            if (!comp[i]) sum += i;
    }
    free(comp);
    return sum;
}

static int cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

static uint64_t part_sort(unsigned scale)
{
    unsigned n = 200000;
    uint32_t *v = malloc(n * sizeof(*v));
    char *s = malloc(1 << 16), *t = malloc(1 << 16);
    uint64_t sum = 0, x = 88172645463325252ull;
    for (unsigned r = 0; r < scale; r++) {
        for (unsigned i = 0; i < n; i++) {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            v[i] = (uint32_t)x;
        }
        qsort(v, n, sizeof(*v), cmp_u32);
        for (unsigned i = 0; i < n; i += 1000) sum += v[i];
        for (unsigned i = 0; i < (1 << 16) - 1; i++) s[i] = (char)('a' + (i * 7 + r) % 26);
        s[(1 << 16) - 1] = 0;
        for (unsigned k = 0; k < 40; k++) {
            memcpy(t, s, 1 << 16);
            sum += strlen(t) + (unsigned char)t[k * 97];
            sum += strchr(t, 'z') - t;
        }
    }
    free(v);
    free(s);
    free(t);
    return sum;
}

#define MN 96
static double ma[MN][MN], mb[MN][MN], mc[MN][MN];
static uint64_t part_matrix(unsigned scale)
{
    for (int i = 0; i < MN; i++)
        for (int j = 0; j < MN; j++) {
            ma[i][j] = (double)((i * 7 + j * 3) % 17) * 0.25 - 1.5;
            mb[i][j] = (double)((i * 5 + j * 11) % 13) * 0.125 + 0.5;
            mc[i][j] = 0;
        }
    for (unsigned r = 0; r < scale; r++)
        for (int i = 0; i < MN; i++)
            for (int j = 0; j < MN; j++) {
                double s = mc[i][j] * 0.5;
                for (int k = 0; k < MN; k++) s += ma[i][k] * mb[k][j];
                mc[i][j] = s;
            }
    double tr = 0;
    for (int i = 0; i < MN; i++) tr += mc[i][i] - mc[i][MN - 1 - i];
    uint64_t u;
    memcpy(&u, &tr, 8);
    return u;
}

/* A bytecode loop: the dispatch pattern of every interpreter. */
static uint64_t part_interp(unsigned scale)
{
    static const unsigned char prog[] = {0, 1, 2, 3, 1, 4, 2, 0, 3, 4, 5};
    uint64_t acc = 1, steps = 0;
    for (unsigned i = 0; i < 1500000u * scale; i++) {
        for (unsigned pc = 0; prog[pc] != 5; pc++) {
            switch (prog[pc]) {
            case 0: acc += i; break;
            case 1: acc ^= acc << 3; break;
            case 2: acc = acc * 5 + 1; break;
            case 3: acc -= acc >> 7; break;
            case 4: acc = (acc << 1) | (acc >> 63); break;
            }
            steps++;
        }
    }
    return acc ^ steps;
}

int main(int argc, char **argv)
{
    unsigned scale = argc > 1 ? (unsigned)atoi(argv[1]) : 1;
    if (scale == 0) scale = 1;
    static const struct {
        const char *name;
        uint64_t (*fn)(unsigned);
    } parts[] = {{"hash", part_hash},
                 {"sieve", part_sieve},
                 {"sort", part_sort},
                 {"matrix", part_matrix},
                 {"interp", part_interp}};
    double total = 0;
    uint64_t all = 0;
    for (unsigned p = 0; p < sizeof(parts) / sizeof(parts[0]); p++) {
        double t0 = now();
        uint64_t sum = parts[p].fn(scale);
        double dt = now() - t0;
        total += dt;
        all ^= sum + p;
        printf("guestcpu %s sum=%016llx seconds=%.3f\n", parts[p].name, (unsigned long long)sum,
               dt);
    }
    printf("guestcpu total sum=%016llx seconds=%.3f\n", (unsigned long long)all, total);
    return 0;
}
