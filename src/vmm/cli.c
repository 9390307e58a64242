/* Option tables, "did you mean" and size parsing for every vmon command. */
#include "vmm/cli.h"
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

void cli_init(struct cli *c, const char *cmd, const struct cli_opt *opts, unsigned nopts, int argc,
              char **argv)
{
    memset(c, 0, sizeof(*c));
    c->cmd = cmd;
    c->opts = opts;
    c->nopts = nopts;
    c->argc = argc;
    c->argv = argv;
    c->i = 1;
}

static unsigned edit_distance(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    if (la > 63 || lb > 63) return 99;
    unsigned row[64];
    for (size_t j = 0; j <= lb; j++)
        row[j] = (unsigned)j;
    for (size_t i = 1; i <= la; i++) {
        unsigned diag = row[0];
        row[0] = (unsigned)i;
        for (size_t j = 1; j <= lb; j++) {
            unsigned up = row[j];
            unsigned best = diag + (a[i - 1] != b[j - 1]);
            if (up + 1 < best) best = up + 1;
            if (row[j - 1] + 1 < best) best = row[j - 1] + 1;
            row[j] = best;
            diag = up;
        }
    }
    return row[lb];
}

const char *cli_suggest(const char *word, const char *const *cands, unsigned n)
{
    const char *best = NULL;
    unsigned best_d = 99;
    for (unsigned i = 0; i < n; i++) {
        unsigned d = edit_distance(word, cands[i]);
        if (d < best_d) {
            best_d = d;
            best = cands[i];
        }
    }
    /* Close enough to be a typo: a third of the word, at least 2 edits. */
    size_t len = strlen(word);
    unsigned limit = len >= 9 ? (unsigned)(len / 3) : 2;
    return best_d <= limit ? best : NULL;
}

static void unknown_option(struct cli *c, const char *name)
{
    const char *cands[64];
    unsigned n = 0;
    for (unsigned i = 0; i < c->nopts && n < 64; i++)
        cands[n++] = c->opts[i].name;
    const char *s = cli_suggest(name, cands, n);
    if (s)
        fprintf(stderr, "%s: unknown option '%s'; did you mean '%s'?\n", c->cmd, name, s);
    else
        fprintf(stderr, "%s: unknown option '%s' (see %s --help)\n", c->cmd, name, c->cmd);
}

int cli_next(struct cli *c)
{
    c->opt = NULL;
    c->value = NULL;
    c->positional = NULL;
    if (c->i >= c->argc) return CLI_END;
    const char *a = c->argv[c->i++];
    if (!strcmp(a, "-h") || !strcmp(a, "--help")) return CLI_HELP;
    if (a[0] != '-' || !a[1] || isdigit((unsigned char)a[1])) { /* "-1G" is a value */
        c->positional = a;
        return CLI_OPTION;
    }
    const char *eq = strncmp(a, "--", 2) ? NULL : strchr(a, '=');
    size_t len = eq ? (size_t)(eq - a) : strlen(a);
    for (unsigned k = 0; k < c->nopts; k++) {
        const struct cli_opt *o = &c->opts[k];
        if (strlen(o->name) != len || strncmp(o->name, a, len)) continue;
        c->opt = o;
        if (!o->arg) {
            if (eq) {
                fprintf(stderr, "%s: option %s takes no value\n", c->cmd, o->name);
                return CLI_BAD;
            }
            return CLI_OPTION;
        }
        if (eq) {
            c->value = eq + 1;
        } else if (c->i < c->argc) {
            c->value = c->argv[c->i++];
        } else {
            fprintf(stderr, "%s: option %s needs a value (%s %s)\n", c->cmd, o->name, o->name,
                    o->arg);
            return CLI_BAD;
        }
        return CLI_OPTION;
    }
    char name[64];
    snprintf(name, sizeof(name), "%.*s", (int)(len < 63 ? len : 63), a);
    unknown_option(c, name);
    return CLI_BAD;
}

void cli_print_opts(const struct cli_opt *opts, unsigned nopts, FILE *out)
{
    for (unsigned i = 0; i < nopts; i++) {
        char left[128];
        snprintf(left, sizeof(left), "%s%s%s", opts[i].name, opts[i].arg ? " " : "",
                 opts[i].arg ? opts[i].arg : "");
        const char *h = opts[i].help;
        if (strlen(left) > 20) {
            fprintf(out, "  %s\n  %-20s ", left, "");
        } else {
            fprintf(out, "  %-20s ", left);
        }
        for (; *h; h++) {
            if (*h == '\n')
                fprintf(out, "\n  %-20s ", "");
            else
                fputc(*h, out);
        }
        fputc('\n', out);
    }
}

int cli_parse_size(const char *s, unsigned default_shift, unsigned long long *out)
{
    if (!s || !isdigit((unsigned char)*s)) return -1;
    errno = 0;
    char *end;
    unsigned long long whole = strtoull(s, &end, 10);
    if (errno) return -1;
    /* Up to 9 fractional digits, kept as an exact fraction num / den. */
    unsigned long long num = 0, den = 1;
    if (*end == '.') {
        end++;
        if (!isdigit((unsigned char)*end)) return -1;
        for (; isdigit((unsigned char)*end); end++) {
            if (den >= 1000000000ull) return -1;
            num = num * 10 + (unsigned long long)(*end - '0');
            den *= 10;
        }
    }
    unsigned shift = default_shift;
    int unit = 1;
    switch (toupper((unsigned char)*end)) {
    case 'K': shift = 10; break;
    case 'M': shift = 20; break;
    case 'G': shift = 30; break;
    case 'T': shift = 40; break;
    case 'B': shift = 0; break; /* "4096B": bytes */
    default: unit = 0;
    }
    if (unit) end++;
    if (unit && shift && toupper((unsigned char)*end) == 'B') end++; /* "1GB", "512MB" */
    if (*end) return -1;
    if (whole > (ULLONG_MAX >> shift)) return -1;
    unsigned long long v = whole << shift;
    unsigned __int128 frac = ((unsigned __int128)num << shift) / den;
    if (frac > ULLONG_MAX - v) return -1;
    v += (unsigned long long)frac;
    *out = v;
    return 0;
}
